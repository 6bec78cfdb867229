// Builds the header block forwarded upstream from a client request, in one pass over
// req.forEach. Results land in a module-level scratch object: a worker thread handles one
// request head at a time, and this keeps the per-request path free of closures.

import type { ClientRequest } from './client';
import { isValidField } from './request-validate';
import { hasToken } from '../upstream/ws-handshake';

export const scratch = {
  /** forwarded header lines, each ending in CRLF */
  headers: '',
  contentLength: 0,
  chunked: false,
  /** the request's Cookie header(s) joined with '; ', or null; not part of `headers` */
  cookie: null as string | null,
  /** value of the balance hdr(NAME) header, or null */
  hashHeader: null as string | null,
  host: false,
  /** the client's Connection header asks to close after this request */
  close: false,
  headerCount: 0,
  headBytes: 0,
  clCount: 0,
  clValue: '',
  te: null as string | null,
  hostCount: 0,
  badField: false,
  /** the Upgrade header names websocket */
  wsUpgrade: false,
  /** the Connection header lists upgrade */
  connUpgrade: false,
  /** the Connection header has 5 characters: uWS then treats the connection as closing */
  engineCloses: false,
};

let hashName: string | null = null;
/** a TLS frontend sets X-Forwarded-Proto itself: drop whatever the client claimed */
let dropForwardedProto = false;
/** header names listed in the request's Connection header (besides close/keep-alive) */
let connectionListed: string[] | null = null;

function collect(name: string, value: string): void {
  scratch.headerCount++;
  scratch.headBytes += name.length + value.length + 4;
  if (!scratch.badField && !isValidField(name, value)) scratch.badField = true;
  switch (name) {
    // hop-by-hop: describe the client connection only (RFC 9110 7.6.1)
    case 'connection':
    case 'keep-alive':
    case 'te':
    case 'trailer':
      return;
    case 'upgrade':
      if (!scratch.wsUpgrade) scratch.wsUpgrade = hasToken(value, 'websocket');
      return;
    case 'transfer-encoding':
      scratch.te = scratch.te === null ? value : scratch.te + ',' + value;
      scratch.chunked = true;
      return;
    case 'content-length':
      if (scratch.clCount++ === 0) scratch.clValue = value;
      scratch.contentLength = Number(value);
      break;
    case 'cookie':
      scratch.cookie = scratch.cookie === null ? value : scratch.cookie + '; ' + value;
      return;
    case 'host':
      scratch.host = true;
      scratch.hostCount++;
      break;
    case 'x-forwarded-proto':
      if (dropForwardedProto) return;
      break;
    default:
      if (name.startsWith('proxy-')) return;
      if (connectionListed !== null && connectionListed.includes(name)) return;
  }
  if (name === hashName) scratch.hashHeader = value;
  scratch.headers += name + ': ' + value + '\r\n';
}

/**
 * Collect the request's headers. `hashHeader`: lower-case name whose value the balancer
 * hashes (balance hdr), or null. The cookie header is kept apart (scratch.cookie) because
 * persistence may rewrite it; the caller forwards it.
 */
export function collectRequestHead(req: ClientRequest, hashHeader: string | null, tls = false): void {
  dropForwardedProto = tls;
  scratch.headers = '';
  scratch.contentLength = 0;
  scratch.chunked = false;
  scratch.cookie = null;
  scratch.hashHeader = null;
  scratch.host = false;
  scratch.headerCount = 0;
  scratch.headBytes = 0;
  scratch.clCount = 0;
  scratch.clValue = '';
  scratch.te = null;
  scratch.hostCount = 0;
  scratch.badField = false;
  hashName = hashHeader;
  connectionListed = null;
  scratch.close = false;
  scratch.wsUpgrade = false;
  scratch.connUpgrade = false;
  const conn = req.getHeader('connection');
  scratch.engineCloses = conn.length === 5;
  if (conn.length > 0) {
    connectionListed = listedHeaders(conn);
    scratch.close = hasCloseToken(conn);
    scratch.connUpgrade = connectionListed !== null && connectionListed.includes('upgrade');
  }
  req.forEach(collect);
}

function listedHeaders(value: string): string[] | null {
  let out: string[] | null = null;
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (out ??= []).push(t);
  }
  return out;
}

function hasCloseToken(value: string): boolean {
  if (value.length === 5) return value.toLowerCase() === 'close';
  for (const raw of value.split(',')) if (raw.trim().toLowerCase() === 'close') return true;
  return false;
}

/**
 * Rebuild the forwarded header block from a header list that request rules edited (flat
 * [name, value, ...]; a '' name is a deleted header), with the same filtering as collect().
 * Call right after collectRequestHead() for the same request.
 */
export function rebuildHeaders(pairs: string[], len: number): void {
  scratch.headers = '';
  scratch.cookie = null;
  scratch.hashHeader = null;
  for (let i = 0; i < len; i += 2) {
    const name = pairs[i];
    if (name.length > 0) collect(name.toLowerCase(), pairs[i + 1]);
  }
}
