// How a health check connects: plain TCP, or TLS (`check-ssl`, or the server's own `ssl` when
// the check goes to its address and port) with `check-sni`, after a PROXY header when
// `check-send-proxy` (or the server's send-proxy) says so. HAProxy's checks send the header
// without client addresses: v1 "PROXY UNKNOWN", v2 LOCAL.
import * as net from 'node:net';
import type { ServerConfig } from '../config/model';
import { proxyHeader } from '../upstream/conn-params';
import { ServerTlsDialer } from '../upstream/tls-connect';

export interface CheckConn {
  dialer: ServerTlsDialer | null;
  sni: string | null;
  proxy: Buffer | null;
}

/** The check's way to connect for a server, or null for plain TCP. */
export function checkConnOf(backend: string, s: ServerConfig): CheckConn | null {
  const c = s.checkTls;
  if (c === undefined) return null;
  // a dialer of its own: the check's sessions are not the traffic's (HAProxy keeps them apart too)
  const dialer = c.ssl && s.tls !== undefined ? new ServerTlsDialer(s.tls, `${backend}/${s.name}`, null) : null;
  return { dialer, sni: c.sni, proxy: c.sendProxy === 0 ? null : proxyHeader(c.sendProxy, null) };
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
  if (how === null || (how.dialer === null && how.proxy === null)) {
    const socket = net.connect({ host, port });
    socket.once('connect', () => (up = true));
    return { socket, ready: 'connect', tcpUp: () => up };
  }
  const raw = how.dialer === null || how.proxy !== null ? net.connect({ host, port }) : null;
  if (raw !== null) {
    raw.once('connect', () => (up = true));
    if (how.proxy !== null) raw.write(how.proxy);
  }
  if (how.dialer === null) return { socket: raw!, ready: 'connect', tcpUp: () => up };
  const socket = how.dialer.connect(host, port, how.sni, raw);
  if (raw === null) socket.once('connect', () => (up = true));
  return { socket, ready: 'secureConnect', tcpUp: () => up };
}
