// The sample fetches gatehouse evaluates, their ACL keyword derivatives and default matching
// methods (HAProxy 2.6 configuration manual, 7.3 and 7.4).
import type { AclMatch } from '../config/model';
import { STICK_FETCH_NAMES, stickFetchName } from '../stick/fetch';

export type SampleType = 'str' | 'int' | 'ip' | 'bool';
/** Where a fetch has data: request rules, response rules (which still see the request line and client), or both. */
export type Side = 'req' | 'res' | 'any';

export interface FetchInfo {
  /** canonical name stored in the model */
  fetch: string;
  type: SampleType;
  /** argument: none, a header name (optional: every header), a URL parameter name (optional: any) */
  arg: 'none' | 'header' | 'param' | 'stick' | 'var';
  side: Side;
}

const F = (fetch: string, type: SampleType, arg: FetchInfo['arg'], side: Side): FetchInfo => ({ fetch, type, arg, side });

/** Plain fetch names (also usable in `%[...]`). `hdr` is resolved by side (request or response). */
export const FETCHES: Record<string, FetchInfo> = {
  path: F('path', 'str', 'none', 'any'),
  url: F('url', 'str', 'none', 'any'),
  query: F('query', 'str', 'none', 'any'),
  url_param: F('url_param', 'str', 'param', 'any'),
  urlp: F('url_param', 'str', 'param', 'any'),
  method: F('method', 'str', 'none', 'any'),
  src: F('src', 'ip', 'none', 'any'),
  dst_port: F('dst_port', 'int', 'none', 'any'),
  'req.ver': F('req.ver', 'str', 'none', 'any'),
  req_ver: F('req.ver', 'str', 'none', 'any'),
  ssl_fc: F('ssl_fc', 'bool', 'none', 'any'),
  // TLS facts of the client connection (node engine TLS binds; src/front-node/tls-facts.ts)
  ssl_fc_sni: F('ssl_fc_sni', 'str', 'none', 'any'),
  ssl_fc_protocol: F('ssl_fc_protocol', 'str', 'none', 'any'),
  ssl_fc_cipher: F('ssl_fc_cipher', 'str', 'none', 'any'),
  ssl_fc_alpn: F('ssl_fc_alpn', 'str', 'none', 'any'),
  ssl_c_used: F('ssl_c_used', 'bool', 'none', 'any'),
  ssl_c_verify: F('ssl_c_verify', 'int', 'none', 'any'),
  ssl_c_s_dn: F('ssl_c_s_dn', 'str', 'none', 'any'),
  ssl_c_i_dn: F('ssl_c_i_dn', 'str', 'none', 'any'),
  ssl_c_serial: F('ssl_c_serial', 'str', 'none', 'any'),
  ssl_c_sha1: F('ssl_c_sha1', 'str', 'none', 'any'),
  always_true: F('always_true', 'bool', 'none', 'any'),
  always_false: F('always_false', 'bool', 'none', 'any'),
  'req.hdr': F('req.hdr', 'str', 'header', 'req'),
  'req.fhdr': F('req.fhdr', 'str', 'header', 'req'),
  'req.hdr_cnt': F('req.hdr_cnt', 'int', 'header', 'req'),
  'req.fhdr_cnt': F('req.fhdr_cnt', 'int', 'header', 'req'),
  'req.hdr_val': F('req.hdr_val', 'int', 'header', 'req'),
  'res.hdr': F('res.hdr', 'str', 'header', 'res'),
  'res.fhdr': F('res.fhdr', 'str', 'header', 'res'),
  'res.hdr_cnt': F('res.hdr_cnt', 'int', 'header', 'res'),
  'res.fhdr_cnt': F('res.fhdr_cnt', 'int', 'header', 'res'),
  'res.hdr_val': F('res.hdr_val', 'int', 'header', 'res'),
  status: F('status', 'int', 'none', 'res'),
  // layer-4 payload of a `mode tcp` stream (src/tcp/client-hello.ts; tcp-request content rules)
  'req.len': F('req.len', 'int', 'none', 'req'),
  req_len: F('req.len', 'int', 'none', 'req'),
  'req.ssl_sni': F('req.ssl_sni', 'str', 'none', 'req'),
  req_ssl_sni: F('req.ssl_sni', 'str', 'none', 'req'),
  'req.ssl_hello_type': F('req.ssl_hello_type', 'int', 'none', 'req'),
  req_ssl_hello_type: F('req.ssl_hello_type', 'int', 'none', 'req'),
  'req.ssl_ver': F('req.ssl_ver', 'int', 'none', 'req'),
  req_ssl_ver: F('req.ssl_ver', 'int', 'none', 'req'),
  var: F('var', 'str', 'var', 'any'),
  base: F('base', 'str', 'none', 'req'),
  pathq: F('pathq', 'str', 'none', 'any'),
  // "hdr" family: direction-dependent (see resolveFetch)
  hdr: F('req.hdr', 'str', 'header', 'req'),
  hdr_cnt: F('req.hdr_cnt', 'int', 'header', 'req'),
  hdr_val: F('req.hdr_val', 'int', 'header', 'req'),
  fhdr: F('req.fhdr', 'str', 'header', 'req'),
};

/** Fetch names whose meaning follows the rule's direction, as in HAProxy (hdr = req.hdr or res.hdr). */
const BY_SIDE: Record<string, string> = { hdr: 'hdr', hdr_cnt: 'hdr_cnt', hdr_val: 'hdr_val', fhdr: 'fhdr' };

/** ACL-only keywords: `<base>_<match>` derivatives (path_beg, hdr_dom, urlp_reg...). */
const DERIVATIVE_BASES: Record<string, string> = { path: 'path', url: 'url', base: 'base', hdr: 'req.hdr', urlp: 'url_param', url_param: 'url_param' };
const DERIVATIVE_MATCHES: AclMatch[] = ['beg', 'end', 'sub', 'reg', 'dir', 'dom', 'len'];

/** Every keyword accepted as an ACL criterion, for did-you-mean. */
export const ACL_KEYWORDS: string[] = [
  ...Object.keys(FETCHES),
  ...STICK_FETCH_NAMES,
  ...Object.keys(DERIVATIVE_BASES).flatMap((b) => DERIVATIVE_MATCHES.map((m) => `${b}_${m}`)),
];

/** HAProxy fetches gatehouse does not evaluate: "not supported" rather than "unknown". */
export const KNOWN_UNSUPPORTED = [
  'base32', 'cook', 'req.cook',
  'cook_cnt', 'req.cook_cnt', 'res.cook', 'scook', 'src_port', 'dst', 'so_id', 'fe_id', 'be_id', 'nbsrv', 'be_sess_rate',
  'fe_sess_rate', 'fe_conn', 'be_conn', 'req.body', 'req.payload', 'http_auth', 'http_auth_group',
  'hdr_ip', 'req.hdr_ip', 'capture.req.uri',
  'capture.req.hdr', 'sc_http_req_rate', 'src_conn_rate', 'src_http_req_rate', 'env', 'date', 'rand', 'uuid',
  'unique-id', 'req.proto_http', 'http_first_req', 'url_ip', 'url_port', 'urlp_val', 'url32',
];

export interface ResolvedCriterion {
  info: FetchInfo;
  /** the keyword's implied matching method (before -m) */
  match: AclMatch;
  /** the keyword forces case-insensitive matching (method) */
  icase: boolean;
}

function defaultMatch(t: SampleType): AclMatch {
  return t === 'str' ? 'str' : t === 'int' ? 'int' : t === 'ip' ? 'ip' : 'bool';
}

/**
 * An ACL criterion keyword (without its argument) for a rule on `side`; null if unknown.
 * The hdr_* derivatives always read request headers (HAProxy: "unambiguously apply to the request").
 */
export function resolveCriterion(kw: string, side: 'req' | 'res' | 'any'): ResolvedCriterion | null {
  const direct = resolveFetch(kw, side);
  if (direct) return { info: direct, match: defaultMatch(direct.type), icase: direct.fetch === 'method' };
  const us = kw.lastIndexOf('_');
  if (us > 0) {
    const base = DERIVATIVE_BASES[kw.slice(0, us)];
    const m = kw.slice(us + 1) as AclMatch;
    if (base !== undefined && DERIVATIVE_MATCHES.includes(m)) return { info: FETCHES[base], match: m, icase: false };
  }
  return null;
}

/**
 * A plain fetch name (also for `%[...]`), direction-dependent for hdr/hdr_cnt/hdr_val/fhdr. With
 * side 'any' (a named `acl` line, whose direction is that of the rules using it) those stay
 * neutral: the model keeps 'hdr' and compile() resolves it per use.
 */
export function resolveFetch(name: string, side: 'req' | 'res' | 'any'): FetchInfo | null {
  const stick = stickFetchName(name);
  if (stick !== null) return F(stick.fetch, 'int', 'stick', 'any');
  const byside = BY_SIDE[name];
  if (byside !== undefined) return side === 'any' ? { ...FETCHES[name], fetch: byside, side: 'any' } : FETCHES[`${side}.${byside}`];
  return Object.prototype.hasOwnProperty.call(FETCHES, name) ? FETCHES[name] : null;
}

/** Neutral fetches of named ACLs and the direction a rule gives them. */
export function sidedFetch(fetch: string, side: 'req' | 'res'): string {
  return BY_SIDE[fetch] !== undefined ? `${side}.${BY_SIDE[fetch]}` : fetch;
}

/** Fetches of a TCP stream's first bytes: evaluated by src/tcp/inspect.ts, false in HTTP rules. */
export const PAYLOAD_FETCHES: readonly string[] = ['req.len', 'req.ssl_sni', 'req.ssl_hello_type', 'req.ssl_ver'];

/** The direction a model fetch needs: 'req' / 'res' only, or 'any'. */
export function fetchSide(fetch: string): Side {
  if (fetch === 'status' || fetch.startsWith('res.')) return 'res';
  if (fetch.startsWith('req.') && fetch !== 'req.ver') return 'req';
  return 'any';
}

/** Matching methods applicable to a sample type (HAProxy's compatibility matrix, minus bin). */
export function matchAllowed(type: SampleType, m: AclMatch): boolean {
  switch (m) {
    case 'found':
    case 'len':
    case 'str':
    case 'beg':
    case 'end':
    case 'sub':
    case 'reg':
    case 'dir':
    case 'dom':
      return true;
    case 'bool':
      return type !== 'ip';
    case 'int':
      return true;
    case 'ip':
      return type === 'ip' || type === 'str';
  }
}

/** HAProxy's predefined ACLs (7.4) that gatehouse can evaluate, as the criterion they stand for. */
export const PREDEFINED_ACLS: Record<string, string> = {
  TRUE: 'always_true',
  FALSE: 'always_false',
  HTTP: 'always_true', // every request gatehouse sees is valid HTTP
  'HTTP_1.0': 'req.ver 1.0',
  'HTTP_1.1': 'req.ver 1.1',
  'HTTP_2.0': 'req.ver 2.0',
  HTTP_CONTENT: 'req.hdr_val(content-length) gt 0',
  HTTP_URL_ABS: 'url_reg ^[^/:]*://',
  HTTP_URL_SLASH: 'url_beg /',
  HTTP_URL_STAR: 'url *',
  LOCALHOST: 'src 127.0.0.1/8 ::1',
  METH_CONNECT: 'method CONNECT',
  METH_DELETE: 'method DELETE',
  METH_GET: 'method GET HEAD',
  METH_HEAD: 'method HEAD',
  METH_OPTIONS: 'method OPTIONS',
  METH_POST: 'method POST',
  METH_PUT: 'method PUT',
  METH_TRACE: 'method TRACE',
};
/** Predefined ACLs HAProxy has and gatehouse cannot evaluate. */
export const PREDEFINED_UNSUPPORTED = ['RDP_COOKIE', 'REQ_CONTENT', 'WAIT_END'];
