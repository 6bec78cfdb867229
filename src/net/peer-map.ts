// A value per accepted TCP connection, found again from the TLSSocket node:tls makes over it.
// A tls.Server fed a socket through 'connection' shows its TLSSocket only once the handshake is
// over (or failed); that socket reports its TCP connection's addresses, which is the key here.
// Used for the PROXY header's client of an accept-proxy ssl bind (src/front-node/server.ts) and
// for the pending handshakes of a mode tcp ssl bind (src/tcp/tls-terminate.ts).

import type * as net from 'node:net';

/** One TCP connection among a listener's: the client's address and port, and the local address. */
export function peerKey(s: net.Socket): string | null {
  const a = s.remoteAddress;
  return a === undefined ? null : `${a}|${s.remotePort ?? 0}|${s.localAddress ?? ''}`;
}

/** Values are compared by identity: an earlier connection's close never drops a later one's value under the same key. */
export class PeerMap<T extends object> {
  private readonly byPeer = new Map<string, T>();

  /** `onClose`: a value whose TCP socket closed before take() found it (then dropped) */
  constructor(private readonly onClose: ((value: T) => void) | null = null) {}

  /** false: `raw` has no address (already closed) and nothing was added */
  add(raw: net.Socket, value: T): boolean {
    const k = peerKey(raw);
    if (k === null) return false;
    this.byPeer.set(k, value);
    // the backstop: every TLSSocket ends in 'secureConnection' or 'tlsClientError' (take() then),
    // but the TCP socket may close before node:tls has made one
    raw.once('close', () => {
      if (this.byPeer.get(k) !== value) return;
      this.byPeer.delete(k);
      if (this.onClose !== null) this.onClose(value);
    });
    return true;
  }

  /** The value added for `socket`'s TCP connection, removed; null if none. */
  take(socket: net.Socket): T | null {
    if (this.byPeer.size === 0) return null;
    const k = peerKey(socket);
    if (k === null) return null;
    const v = this.byPeer.get(k);
    if (v === undefined) return null;
    this.byPeer.delete(k);
    return v;
  }
}
