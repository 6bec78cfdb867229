// `make demo`: two demo backends (127.0.0.1:9001, :9002) and gatehouse on configs/demo.yaml,
// so a newcomer sees balancing, health checks and the stats page at once. Ctrl-C stops all.

import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';

const CONFIG = path.join(__dirname, '..', 'configs', 'demo.yaml');

function demoBackend(name: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/health') {
      res.end('ok\n');
      return;
    }
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from ${name} (${req.method} ${req.url})\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`demo backend ${name} cannot listen on ${port}: ${e.message}`)));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const backends = [await demoBackend('web1', 9001), await demoBackend('web2', 9002)];
  const gh = spawn(process.execPath, [path.join(__dirname, 'cli.js'), '-f', CONFIG], { stdio: 'inherit' });
  console.log(`demo backends web1=127.0.0.1:9001 web2=127.0.0.1:9002; gatehouse on ${CONFIG}
  try:  curl -s http://127.0.0.1:8080/        (alternates web1 / web2)
        curl -si http://127.0.0.1:8080/ | grep -i set-cookie   (SERVERID persistence)
        open http://127.0.0.1:8404/stats      (admin / admin), CSV at /stats;csv, Prometheus at /metrics
  Ctrl-C stops everything.`);
  const stop = () => {
    if (gh.exitCode === null) gh.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  gh.on('exit', (code) => {
    for (const b of backends) b.close();
    process.exit(code ?? 0);
  });
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
