// TLS termination on a `mode tcp` bind with `ssl crt ...` (HAProxy's SSL offload in front of a
// plain TCP service): the session relays the decrypted bytes. As in HAProxy, `tcp-request
// connection` rules and the PROXY header (accept-proxy) come before the handshake, `tcp-request
// session` rules after it, and a failed handshake is a connection line, not a session.
// node:tls does the handshake through an unlistening tls.Server fed with each accepted socket
// ('connection'), so the bind's settings (SNI and crt-list, ALPN, versions, ciphers, client
// certificates, tickets) are those of an HTTP ssl bind (src/front-node/tls-context.ts).

import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { BindAddress } from '../config/model';
import { tlsBindSetup } from '../front-node/tls-context';
import { PeerMap } from '../net/peer-map';

/** The outcome of one handshake: the secure socket, or why there is none. */
export type HandshakeDone = (socket: tls.TLSSocket | null, err: Error | null) => void;

export class TlsTerminator {
  private readonly server: tls.Server;
  /**
   * handshakes under way, by their TCP connection (node:tls shows the TLSSocket only at the end);
   * one whose socket closes before node:tls reports anything is told so: no callback left behind
   */
  private readonly pending = new PeerMap<HandshakeDone>((done) => done(null, new Error('connection closed during the handshake')));

  /** `timeoutMs`: the whole handshake, from the moment the socket is handed over */
  constructor(bind: BindAddress, ticketKeys: Buffer | null, timeoutMs: number) {
    // mode tcp relays whatever ALPN chose (h2 included) to the server: no HTTP/2 of our own needed
    const setup = tlsBindSetup(bind, ticketKeys, () => true);
    this.server = tls.createServer({ ...setup.options, allowHalfOpen: true, noDelay: true, handshakeTimeout: timeoutMs }, (socket) => {
      const done = this.pending.take(socket);
      if (done === null) {
        socket.destroy();
        return;
      }
      if (setup.rejectUnverified && !socket.authorized && socket.getPeerX509Certificate() !== undefined) {
        // verify optional: a certificate was sent and does not verify (as on HTTP binds)
        socket.destroy();
        done(null, new Error(`client certificate refused: ${String(socket.authorizationError)}`));
        return;
      }
      done(socket, null);
    });
    this.server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      const done = this.pending.take(socket);
      socket.destroy();
      if (done !== null) done(null, err);
    });
  }

  /**
   * Run the server side of a handshake on `raw` (bytes already read off it put back with
   * unshift). `done` is called once, unless `raw` cannot be keyed (already closed: destroyed).
   */
  handshake(raw: net.Socket, done: HandshakeDone): void {
    if (!this.pending.add(raw, done)) {
      raw.destroy();
      return;
    }
    this.server.emit('connection', raw);
  }
}
