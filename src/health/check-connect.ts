// How a health check connects: plain TCP, or TLS (`check-ssl`, or the server's own `ssl` when
// the check goes to its address and port) with `check-sni`, after a PROXY header when
// `check-send-proxy` (or the server's send-proxy) says so. HAProxy 2.6's checks (checked): v2 is
// a LOCAL header without addresses; v1 names the check connection's own two ends.
import * as net from 'node:net';
import type { ServerConfig } from '../config/model';
import { encodeProxyV1 } from '../net/proxy-protocol';
import { plainAddress, proxyHeader } from '../upstream/conn-params';
import { ServerTlsDialer } from '../upstream/tls-connect';

export interface CheckConn {
  dialer: ServerTlsDialer | null;
  sni: string | null;
  /** PROXY header version, 0: none */
  proxy: 0 | 1 | 2;
}

/** The check's way to connect for a server, or null for plain TCP. */
export function checkConnOf(backend: string, s: ServerConfig): CheckConn | null {
  const c = s.checkTls;
  if (c === undefined) return null;
  // a dialer of its own: the check's sessions are not the traffic's (HAProxy keeps them apart too)
  const dialer = c.ssl && s.tls !== undefined ? new ServerTlsDialer(s.tls, `${backend}/${s.name}`, null) : null;
  return { dialer, sni: c.sni, proxy: c.sendProxy };
}

export interface CheckSocket {
  socket: net.Socket;
  /** the event after which the check may talk: 'connect', or 'secureConnect' over TLS */
  ready: 'connect' | 'secureConnect';
  /** TCP is up (with TLS: the handshake failed or is under way when not ready yet) */
  tcpUp(): boolean;
}

export function checkConnect(host: string, port: number, how: CheckConn | null): CheckSocket {
  let up = false;
  if (how === null || (how.dialer === null && how.proxy === 0)) {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (up = true));
    return { socket, ready: 'connect', tcpUp: () => up };
  }
  const raw = how.dialer === null || how.proxy !== 0 ? net.connect({ host, port }) : null;
  if (raw !== null) {
    // before TLS's own 'connect' listener (tls.connect below): the header goes first
    raw.once('connect', () => {
      up = true;
      if (how.proxy === 1) {
        const a = { srcAddress: plainAddress(raw.localAddress ?? ''), srcPort: raw.localPort ?? 0, dstAddress: plainAddress(raw.remoteAddress ?? ''), dstPort: raw.remotePort ?? 0 };
        raw.write(encodeProxyV1(a));
      }
    });
    if (how.proxy === 2) raw.write(proxyHeader(2, null));
  }
  if (how.dialer === null) return { socket: raw!, ready: 'connect', tcpUp: () => up };
  const socket = how.dialer.connect(host, port, how.sni, raw);
  if (raw === null) socket.once('connect', () => (up = true));
  return { socket, ready: 'secureConnect', tcpUp: () => up };
}
