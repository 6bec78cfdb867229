// Entry point of the health thread (a plain worker_thread, see docs/health.md for why not
// piscina). Probes run here so their sockets, timers and parsing never touch a proxy worker's
// event loop; results reach the workers only through the SharedArrayBuffer.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedState } from '../shared/state';
import type { FromHealthThread, HealthWorkerData } from './messages';
import { isToHealthThread } from './messages';
import { HealthScheduler } from './scheduler';

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('health/thread.js must run as a worker thread');
  const data = workerData as HealthWorkerData;
  const state = SharedState.attach(data.stateBuffer, data.config);
  const send = (m: FromHealthThread) => port.postMessage(m);
  const scheduler = new HealthScheduler(data.config, state, (level, line) => send({ type: 'log', level, line }));
  let stopping = false;
  port.on('message', (m: unknown) => {
    if (!isToHealthThread(m) || stopping) return;
    stopping = true;
    void scheduler.stop().then(() => {
      send({ type: 'stopped' });
      // Nothing of ours is left on the loop: closing the port lets the thread end by itself.
      port.close();
    });
  });
  scheduler.start();
}

main();
