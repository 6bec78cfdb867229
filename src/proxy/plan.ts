// What a request becomes before any server is involved, built once per request while the front
// engine's request is readable: content routing (rules pick the backend or answer), the client
// address when something needs it, validation, and the head to send upstream with its cookie
// and forwarded-for lines. HTTP exchanges and WebSocket upgrades go through the same plan.

import { ACT_FORWARD, RequestView, evalRequest, fillRequestView, type Decision } from '../rules';
import { CookieTxn } from '../persistence/cookie';
import { addressText, type AddressSource } from '../shared/client-address';
import { KEY_HDR, balanceKey, forwardedForLine, needsClientAddress, type BackendRuntime, type FrontendRuntime, type WorkerRuntime } from '../worker/runtime';
import type { ClientRequest } from './client';
import { requestCookieLine } from './persistence';
import { textToBytes } from './byte-text';
import { collectRequestHead, rebuildHeaders, scratch } from './request-head';
import { validateRequest } from './request-validate';
import { STATS_KEY_HEADER } from '../stats/stats-key';

/** Send the request to `plan.be` (null: no backend; the caller answers 503). */
export const PLAN_FORWARD = 0;
/** Refused before anything else counts: `plan.bad` is the status (400, 413, 414, 431, 501). */
export const PLAN_REJECT = 1;
/** A request rule answered (deny, return, redirect): `plan.decision`. */
export const PLAN_ANSWER = 2;

export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;

const CRLF = '\r\n';

export class RequestPlan {
  be: BackendRuntime | null = null;
  method = '';
  /** path and query as forwarded (after set-path) */
  uri = '';
  isHead = false;
  /** client address as text; '' when nothing needed it */
  clientIp = '';
  /** the request head to send upstream, blank line included */
  head = '';
  /** the head as bytes when a value held bytes that are not UTF-8 (byte-text.ts); else null */
  rawHead: Buffer | null = null;
  bodyKind = BODY_NONE;
  /** the client asked to close (or the worker is draining): the answer says so */
  clientClose = false;
  /** uWS already treats the connection as closing (see writeErrorPage) */
  engineCloses = false;
  /** what the backend's balancer hashes (null: nothing) */
  key: string | null = null;
  /** PLAN_REJECT's status */
  bad = 0;
  /** the rules' decision (the worker's shared object: read it before the next request) */
  decision: Decision | null = null;
  /** the request as rules see it; kept while response rules may read it */
  view: RequestView | null = null;
  /** the chosen backend has response rules to run */
  responseRules = false;
  /** the request's persistence cookie, read once */
  readonly cookieTxn = new CookieTxn();
  /** the server that cookie pins (global index), -1 for none */
  persistServer = -1;
  /** a WebSocket upgrade: the client's key and the subprotocols it offered */
  upgrade = false;
  wsKey = '';
  wsOffered = '';
  /** the value of the header a server's `sni req.hdr(NAME)` names ('' when none) */
  sniValue = '';

  /**
   * Build the plan for `req` arriving on `fe`. `peer` gives the client address; `upgrade`: the
   * engine routed a WebSocket upgrade here (no body allowed, upgrade headers forwarded).
   */
  build(rt: WorkerRuntime, fe: FrontendRuntime, req: ClientRequest, peer: AddressSource, upgrade: boolean): number {
    // Content routing first: it picks the backend, whose settings shape everything below.
    let be = fe.backend;
    const routing = rt.routing;
    let decision: Decision | null = null;
    this.clientIp = '';
    this.upgrade = upgrade;
    if (routing.requestRules[fe.index]) {
      const view = (this.view ??= new RequestView());
      fillRequestView(view, req, peer, fe.port, fe.tls, routing.requestHeaders[fe.index]);
      decision = rt.decision;
      evalRequest(routing, fe.index, view, decision);
      this.clientIp = view.srcIp; // '' unless a rule needed the text: filled below when used
      if (decision.action === ACT_FORWARD) be = decision.backend >= 0 ? rt.backends[decision.backend] : null;
    }
    this.decision = decision;
    this.responseRules = be !== null && routing.responseRules(fe.index, be.index);
    // response rules read the request later; stick rules read it once the backend is known
    if ((this.responseRules || (be !== null && be.stick !== null)) && decision === null) {
      fillRequestView((this.view ??= new RequestView()), req, peer, fe.port, fe.tls, true);
    }
    this.be = be;

    const method = (this.method = req.getCaseSensitiveMethod());
    const url = req.getUrl();
    const q = req.getQuery();
    this.uri = q ? url + '?' + q : url;
    this.isHead = method === 'HEAD';
    if (this.clientIp === '' && needsClientAddress(fe, be)) this.clientIp = addressText(peer);
    if (upgrade) this.wsKey = req.getHeader('sec-websocket-key');
    this.sniValue = be !== null && be.sniHeader !== null ? req.getHeader(be.sniHeader) : '';

    collectRequestHead(req, be !== null && be.keyKind === KEY_HDR ? be.cfg.balanceHeader : null, fe.tls);
    this.clientClose = scratch.close || rt.draining;
    this.engineCloses = scratch.engineCloses;
    let hashHeader = scratch.hashHeader;
    let bad = validateRequest(method, url, q, scratch, rt.limits);
    // an upgrade request has no body
    if (bad === 0 && upgrade && (scratch.contentLength > 0 || scratch.chunked)) bad = 400;
    // A WebSocket upgrade the engine did not route as one: its Sec-WebSocket-Key is missing or
    // not 24 characters. HAProxy 2.6 answers 400 (forwarding it without Upgrade would be a lie).
    if (bad === 0 && !upgrade && scratch.wsUpgrade && scratch.connUpgrade) bad = 400;
    if (bad !== 0) {
      this.bad = bad;
      return PLAN_REJECT;
    }
    if (decision !== null) {
      if (decision.action !== ACT_FORWARD) return PLAN_ANSWER;
      if (decision.pathChanged) this.uri = this.view!.url();
      if (decision.headersChanged) {
        rebuildHeaders(this.view!.headers, this.view!.headersLen);
        hashHeader = scratch.hashHeader;
      }
    }

    let head = method + ' ' + this.uri + ' HTTP/1.1\r\n' + (upgrade ? this.upgradeHeaders(scratch.headers) : scratch.headers);
    // the primary's internal stats listener (src/stats/routed.ts): our key, never the client's
    if (be !== null && be.statsKeyLine !== null) head = withoutHeader(head, STATS_KEY_HEADER) + be.statsKeyLine;
    this.persistServer = -1;
    if (be !== null && be.cookies !== null) {
      head += requestCookieLine(this.cookieTxn, be.cookies, scratch.cookie);
      if (this.cookieTxn.server >= 0) this.persistServer = be.firstServer + this.cookieTxn.server;
    } else if (scratch.cookie !== null) {
      head += 'cookie: ' + scratch.cookie + CRLF;
    }
    if (be !== null && be.stick !== null && this.persistServer < 0) {
      // `stick match`: the server stored for this request's key, while it is usable
      const s = be.stick.match(this.view!, be.cfg.servers.length);
      if (s >= 0 && rt.state.usable(be.firstServer + s)) this.persistServer = be.firstServer + s;
    }
    head += forwardedForLine(fe, be, this.clientIp, scratch.headers);
    if (fe.tls) head += 'x-forwarded-proto: https\r\n';
    if (upgrade) {
      this.bodyKind = BODY_NONE;
      head += 'connection: upgrade\r\nupgrade: websocket\r\n';
    } else if (scratch.chunked) {
      this.bodyKind = BODY_CHUNKED;
      head += 'transfer-encoding: chunked\r\n';
    } else {
      this.bodyKind = scratch.contentLength > 0 ? BODY_LENGTH : BODY_NONE;
    }
    this.head = head + CRLF;
    this.rawHead = req.rawBytes === true ? textToBytes(this.head) : null;
    this.key = be === null ? null : balanceKey(be, this.clientIp, this.uri, hashHeader);
    return PLAN_FORWARD;
  }

  /**
   * The forwarded header block of an upgrade without Sec-WebSocket-Extensions (the engine
   * re-frames every message, so no extension such as permessage-deflate can be end to end);
   * notes the offered subprotocols.
   */
  private upgradeHeaders(block: string): string {
    let out = '';
    let at = 0;
    this.wsOffered = '';
    while (at < block.length) {
      const end = block.indexOf(CRLF, at) + 2;
      const line = block.slice(at, end);
      at = end;
      if (line.startsWith('sec-websocket-extensions:')) continue;
      if (line.startsWith('sec-websocket-protocol:')) {
        const v = line.slice(23, -2).trim();
        this.wsOffered = this.wsOffered === '' ? v : this.wsOffered + ', ' + v;
      }
      out += line;
    }
    return out;
  }

  /** Forget the request (the object serves the next one). */
  reset(): void {
    this.be = null;
    this.head = '';
    this.rawHead = null;
    this.decision = null;
    this.key = null;
    this.clientIp = '';
    this.clientClose = false;
    this.engineCloses = false;
    this.responseRules = false;
    this.persistServer = -1;
    this.upgrade = false;
    this.wsKey = '';
    this.wsOffered = '';
    this.sniValue = '';
  }
}

/** `head` without the lines of header `name` (lower case; names are forwarded lower case). */
function withoutHeader(head: string, name: string): string {
  const prefix = '\r\n' + name + ':';
  let at = head.toLowerCase().indexOf(prefix);
  while (at >= 0) {
    const end = head.indexOf('\r\n', at + 2);
    head = head.slice(0, at) + head.slice(end);
    at = head.toLowerCase().indexOf(prefix);
  }
  return head;
}

/** RFC 9110 9.2.2: a request that may be sent twice with the effect of once. */
export function isIdempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}
