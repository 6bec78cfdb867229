// Run inside a fresh network namespace (`unshare -n node reload-race.js 0|1`), where
// net.ipv4.tcp_migrate_req can be set without touching the host's: a backend, a gatehouse with
// 2 workers, 8 clients each opening a new connection per request for 4.5 s, and a SIGHUP every
// 600 ms. Prints one JSON line: answers, failures by error code, reloads done, gatehouse's log.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { freePort, request, runCli, startBackend, tmpFile } from './net';
import { countInOutput, waitFor, waitForOutput } from './wait';
import { backendYaml } from './config';

const LOAD_MS = 4500;
const CLIENTS = 8;
const RELOAD_EVERY_MS = 600;

/** One request on a new connection (request() has no agent): 'ok', or why it failed. */
function once(port: number): Promise<string> {
  return request(port).then(
    (r) => (r.status === 200 ? 'ok' : `status ${r.status}`),
    // Node gives a close without any answer the same code as a reset: keep them apart
    (e: NodeJS.ErrnoException) => (e.message === 'socket hang up' ? 'closed without an answer' : (e.code ?? e.message)),
  );
}

async function main(): Promise<void> {
  const migrate = process.argv[2];
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  fs.writeFileSync('/proc/sys/net/ipv4/tcp_migrate_req', migrate);
  const web = await startBackend('web');
  const port = await freePort();
  const gh = runCli(['-f', tmpFile('race.yaml', backendYaml({ port, servers: [{ name: 'web', port: web.port }], workers: 2 }))]);
  await waitForOutput(gh, /gatehouse started/, 1, 15000).catch(() => undefined);
  const outcomes = new Map<string, number>();
  const end = Date.now() + LOAD_MS;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < end) {
      const r = await once(port);
      outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
    }
  });
  const reloads = setInterval(() => gh.child.kill('SIGHUP'), RELOAD_EVERY_MS);
  await Promise.all(clients);
  clearInterval(reloads);
  // let the last reload finish before stopping
  const allFinished = () => countInOutput(gh, /previous configuration finished/) >= countInOutput(gh, /configuration reloaded/);
  await waitFor('every old generation to finish', allFinished, 3000, 50).catch(() => undefined);
  await gh.stop();
  await web.close();
  process.stdout.write(
    JSON.stringify({
      ok: outcomes.get('ok') ?? 0,
      failed: Object.fromEntries([...outcomes].filter(([k]) => k !== 'ok')),
      reloads: (gh.output().match(/configuration reloaded/g) ?? []).length,
      log: gh.output(),
    }) + '\n',
  );
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
