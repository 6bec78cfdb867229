// What a new server connection carries besides its address: the TLS dialer and SNI, and the
// PROXY header. Connections that differ in SNI or PROXY header are different connections to
// HAProxy (its reuse key hashes both): `key` keeps them apart in the idle pool.

import type * as net from 'node:net';
import { encodeProxyV1, encodeProxyV2, type ProxyAddresses } from '../net/proxy-protocol';
import type { ServerTlsDialer } from './tls-connect';

export interface ConnParams {
  /** '' when every connection to the server is alike */
  key: string;
  tls: ServerTlsDialer | null;
  sni: string | null;
  /** PROXY header written first, or null */
  proxy: Buffer | null;
}

/** "::ffff:1.2.3.4" as "1.2.3.4" (the PROXY header then says TCP4, as HAProxy's does). */
export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** The PROXY header (v1 text or v2 binary) for a client's addresses; null addresses: UNKNOWN / LOCAL. */
export function proxyHeader(version: 1 | 2, a: ProxyAddresses | null): Buffer {
  const n = a === null ? null : { ...a, srcAddress: plainAddress(a.srcAddress), dstAddress: plainAddress(a.dstAddress) };
  return version === 1 ? encodeProxyV1(n) : encodeProxyV2(n);
}

/** Where the client connection's addresses come from (the node engine's sockets know all four). */
export function socketAddresses(s: net.Socket): ProxyAddresses {
  return { srcAddress: s.remoteAddress ?? '', srcPort: s.remotePort ?? 0, dstAddress: s.localAddress ?? '', dstPort: s.localPort ?? 0 };
}
