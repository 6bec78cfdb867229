// A runtime API client as operators use one: one line the way `echo LINE | socat stdio SOCKET`
// sends it (all at once, then EOF), resolving with the whole answer.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { waitFor } from './wait';

export function runtimeCommand(sock: string, line: string, newline = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.end(newline ? line + '\n' : line);
  });
}

/** The data ports accept before the primary binds the stats socket (stats come up last): wait for it. */
export async function waitForSocket(sock: string): Promise<void> {
  const isSocket = () => {
    try {
      return fs.statSync(sock).isSocket();
    } catch {
      return false; // not yet
    }
  };
  await waitFor(`a socket at ${sock}`, isSocket, 15000, 20);
}
