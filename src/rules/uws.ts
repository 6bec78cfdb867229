// Filling the RequestView from a uWS request, for the worker. A module-level target keeps
// req.forEach free of per-request closures (the same trick as src/worker/request-head.ts).
import type { HttpRequest } from 'uWebSockets.js';
import type { RequestView } from '../acl/view';

let target: RequestView | null = null;

function pushHeader(name: string, value: string): void {
  target!.addHeader(name, value);
}

/**
 * Resets `view` and fills it: method, path (getUrl), query (getQuery: undefined -> null), every
 * header as uWS gives it (lower-case names), client address and local port. Call it inside the
 * uWS handler (the request is only valid there). Skip the headers when the table says no rule
 * reads or edits them (RoutingTable.requestNeedsHeaders).
 */
export function fillRequestView(view: RequestView, req: HttpRequest, srcIp: string, dstPort: number, tls: boolean, withHeaders: boolean): void {
  view.reset();
  view.method = req.getCaseSensitiveMethod();
  view.path = req.getUrl();
  const q = req.getQuery();
  view.query = q === undefined ? null : q;
  view.srcIp = srcIp;
  view.dstPort = dstPort;
  view.tls = tls;
  if (withHeaders) {
    target = view;
    req.forEach(pushHeader);
    target = null;
  }
}
