// A runtime API client as operators use one: one line the way `echo LINE | socat stdio SOCKET`
// sends it (all at once, then EOF), resolving with the whole answer.
import * as net from 'node:net';

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
