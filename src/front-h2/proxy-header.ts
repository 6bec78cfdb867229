// `accept-proxy` on a `proto h2` bind or an ssl bind: the PROXY protocol v1/v2 header comes
// before the h2 preface or the TLS ClientHello. It is read here, off the socket, before
// node:http2 or node:tls gets the socket; the bytes that follow it are put back (unshift) for
// the session, which reads what the socket has buffered (node:tls: initRead in _tls_wrap).

import type * as net from 'node:net';
import { decodeProxyHeader, PP_DONE, PP_ERROR, type ProxyHeader } from '../net/proxy-protocol';

/**
 * Read the PROXY header, then call `done` with it (null: a LOCAL header, keep the socket's own
 * addresses). A bad header, a closed socket or no complete header within `timeoutMs` closes
 * the socket without a byte, as HAProxy does; `done` is then never called.
 */
export function readProxyHeader(socket: net.Socket, timeoutMs: number, done: (h: ProxyHeader | null) => void): void {
  let buf: Buffer | null = null;
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onData = (d: Buffer): void => {
    buf = buf === null ? d : Buffer.concat([buf, d]);
    const r = decodeProxyHeader(buf);
    if (r.status === PP_ERROR) {
      finish();
      socket.destroy();
      return;
    }
    if (r.status !== PP_DONE) return;
    finish();
    socket.pause();
    if (r.length < buf.length) socket.unshift(buf.subarray(r.length));
    const h = r.header;
    done(h !== null && !h.local && h.srcAddress !== '' ? h : null);
  };
  const onEnd = (): void => {
    finish();
    socket.destroy();
  };
  const finish = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onEnd);
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onEnd);
}
