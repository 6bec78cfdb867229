// Filling the RequestView from a uWS request, for the worker. The client address and (with the
// HDR_LAZY plan) the headers are read only when a rule needs them (src/acl/view.ts); reading
// them allocates no closure (module-level forEach targets, as in src/worker/request-head.ts).
import type { ClientRequest } from '../proxy/client';
import type { AddressSource } from '../shared/client-address';
import type { RequestView } from '../acl/view';
import { HDR_ALL, HDR_LAZY, type HeaderPlan } from './engine';

/**
 * Resets `view` and fills it: method, path (getUrl), query (getQuery: undefined -> null), the
 * local port and TLS flag; the client address is read from `res` on first use (view.srcIp
 * stays '' until a rule needs the text). Headers follow `headers`: the frontend's plan
 * (RoutingTable.requestHeaders), or true for every header now, false for none.
 * Call it inside the uWS handler, and evaluate before it returns: the request is only valid
 * there (evalRequest detaches a lazy header source when it is done).
 */
export function fillRequestView(view: RequestView, req: ClientRequest, res: AddressSource, dstPort: number, tls: boolean, headers: HeaderPlan | boolean): void {
  view.reset();
  view.method = req.getCaseSensitiveMethod();
  view.path = req.getUrl();
  const q = req.getQuery();
  view.query = q === undefined ? null : q;
  view.addr = res;
  view.dstPort = dstPort;
  view.tls = tls;
  view.ssl = res.ssl ?? null;
  const mode = headers === true ? HDR_ALL : headers === false ? 0 : headers.mode;
  if (mode === HDR_ALL) view.fillHeaders(req);
  else if (mode === HDR_LAZY) view.lazyHeaders(req, (headers as HeaderPlan).names);
}
