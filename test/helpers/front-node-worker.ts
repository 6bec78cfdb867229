// A worker thread for the shared-listener test: listens on its own duplicate of the primary's
// socket with the front engine and answers its id; reports how many connections it accepted.
import { parentPort, workerData } from 'node:worker_threads';
import { listenShared } from '../../src/front-node/listener';
import { createFrontServer } from '../../src/front-node/server';

const { fd, id } = workerData as { fd: number; id: number };
let counted = 0;
const server = createFrontServer({
  onRequest(req, res) {
    req.onBody((_c, last) => {
      if (!last) return;
      const b = Buffer.from('w' + id);
      res.writeHead(200, 'OK', [], b.length, false);
      res.write(b);
      res.end();
    });
  },
});
listenShared(server, fd).then(
  () => parentPort!.postMessage({ up: true }),
  (e: Error) => parentPort!.postMessage({ error: e.message }),
);
parentPort!.on('message', (m: string) => {
  if (m === 'count') {
    parentPort!.postMessage({ connections: server.served - counted });
    counted = server.served;
  } else if (m === 'close') {
    server.close(() => parentPort!.postMessage({ closed: true }));
  }
});
