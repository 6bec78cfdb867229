// The four addresses a PROXY header carries (send-proxy), for an HTTP client. The node engine
// knows them all; uWebSockets.js 20.30 exposes neither the client's port nor the local
// address, so there the header carries the client address, port 0, and the bind's address.
import type { ProxyAddresses } from '../net/proxy-protocol';
import { addressText } from '../shared/client-address';
import type { FrontendRuntime } from '../worker/runtime';
import type { ClientResponse } from './client';

export function clientAddresses(res: ClientResponse, clientIp: string, clientPort: number, fe: FrontendRuntime): ProxyAddresses {
  if (res.proxyAddresses !== undefined) return res.proxyAddresses();
  const bind = fe.cfg.binds[0];
  const src = clientIp !== '' ? clientIp : addressText(res);
  // a wildcard bind: the family of the client's address, unspecified
  const dst = bind === undefined ? '' : bind.host === '0.0.0.0' || bind.host === '::' ? (src.includes(':') ? '::' : '0.0.0.0') : bind.host;
  return { srcAddress: src, srcPort: clientPort, dstAddress: dst, dstPort: bind === undefined ? 0 : bind.port };
}
