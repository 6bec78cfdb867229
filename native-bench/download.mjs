// native-bench scenario (h): download http://127.0.0.1:PORT/PATH once, discarding the body.
// Prints `RESULT {"status":S,"bytes":N,"ms":T}`.
import http from 'node:http';

const [port, path = '/1g'] = process.argv.slice(2);
const t0 = Date.now();
const req = http.get({ host: '127.0.0.1', port: Number(port), path, agent: false }, (res) => {
  let bytes = 0;
  res.on('data', (d) => { bytes += d.length; });
  res.on('end', () => {
    process.stdout.write(`RESULT ${JSON.stringify({ status: res.statusCode, bytes, ms: Date.now() - t0 })}\n`);
    process.exit(0);
  });
  res.on('error', (e) => fail(e));
});
req.on('error', (e) => fail(e));
function fail(e) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(e.message || e), ms: Date.now() - t0 })}\n`);
  process.exit(1);
}
