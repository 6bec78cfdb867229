// tcp-request connection / content rules and use_backend for a `mode tcp` frontend, over the
// ACL engine of src/acl plus the payload fetches of client-hello.ts.
//
// HAProxy evaluates conditions here in three values (acl_exec_cond): PASS, FAIL, and MISS
// when a sample "may change" (the ClientHello is not complete yet, or req.len does not match
// yet) and the data are not final. A MISS in a content rule makes HAProxy wait for more bytes
// until `tcp-request inspect-delay` expires, the buffer is full or the client half-closes;
// then everything is final and a MISS counts as no match. AND takes the lowest value, OR the
// highest, `!` swaps PASS and FAIL and keeps MISS: Kleene logic on 0 / 1 / 3, as HAProxy's bits.
import type { FrontendConfig, TcpRequestRule } from '../config/model';
import { AclScope, CAcl, CCond, CTest, F_REQ_LEN, F_SSL_HELLO_TYPE, F_SSL_SNI, F_SSL_VER } from '../acl/compile';
import { lowerAscii, matchInt, matchStr, testMatches } from '../acl/eval';
import { RequestView } from '../acl/view';
import { NEED_MORE, NONE, reqLen, sslHelloType, sslSni, sslVersion } from './client-hello';
import type { TcpSession } from './relay';
import { compileRule, type CRule } from '../rules/compiled-rule';
import { stickAction } from '../rules/rule-actions';
import { Trackers, trackStart } from '../stick/track';
import { KeyBuf, keyFromText } from '../stick/keys';
import type { StickRule } from '../stick/model';

export const FAIL = 0;
export const MISS = 1;
export const PASS = 3;
export type Tri = typeof FAIL | typeof MISS | typeof PASS;

/** What one connection's rules see: the client's first bytes, and its addresses. */
export class TcpView {
  payload: Uint8Array = new Uint8Array(0);
  /** no more bytes will come in time (inspect-delay over, buffer full, client FIN, no delay) */
  final = true;
  /** src and dst_port for the shared ACL matchers; its trackers are the session's sc0..sc2 */
  readonly req = new RequestView();
  /** the content rule inspection resumes at (it stopped there waiting for data) */
  contentRule = 0;

  /** `ip` as net.Socket#remoteAddress gives it (IPv4-mapped IPv6 is shown as IPv4, as HAProxy). */
  reset(srcIp: string, dstPort: number): void {
    this.req.reset();
    this.req.srcIp = srcIp.startsWith('::ffff:') && srcIp.includes('.') ? srcIp.slice(7) : srcIp;
    this.req.dstPort = dstPort;
    this.payload = new Uint8Array(0);
    this.final = true;
    this.contentRule = 0;
  }
}

function stickPayloadKey(r: StickRule): number {
  if (r.action !== 'track-sc' || r.key.length !== 1) return -1;
  const k = r.key[0];
  return k.kind === 'fetch' ? PAYLOAD_KEY_CODES[k.fetch] ?? -1 : -1;
}

function tcpTrackers(): Trackers {
  const t = new Trackers();
  t.tcp = true;
  return t;
}

function missOr(v: TcpView): Tri {
  return v.final ? FAIL : MISS;
}

/** One test in three values. */
export function testTri(t: CTest, v: TcpView): Tri {
  switch (t.fetch) {
    case F_REQ_LEN:
      // req.len may grow: a non-match is only final when the data are
      return matchInt(t, reqLen(v.payload)) ? PASS : missOr(v);
    case F_SSL_HELLO_TYPE: {
      const n = sslHelloType(v.payload);
      if (n === NEED_MORE) return missOr(v);
      return n !== NONE && matchInt(t, n) ? PASS : FAIL;
    }
    case F_SSL_VER: {
      const n = sslVersion(v.payload);
      if (n === NEED_MORE) return missOr(v);
      return n !== NONE && matchInt(t, n) ? PASS : FAIL;
    }
    case F_SSL_SNI: {
      const s = sslSni(v.payload);
      if (s === NEED_MORE) return missOr(v);
      if (s === null) return FAIL;
      return matchStr(t, t.fold ? lowerAscii(s) : s) ? PASS : FAIL;
    }
  }
  // src, dst_port, always_true/false...: known at accept
  return testMatches(t, v.req, null) ? PASS : FAIL;
}

function aclTri(a: CAcl, v: TcpView): Tri {
  let r: Tri = FAIL;
  for (const t of a.tests) {
    const x = testTri(t, v);
    if (x === PASS) return PASS;
    if (x === MISS) r = MISS;
  }
  return r;
}

/** A condition in three values (unless applied). */
export function condTri(c: CCond, v: TcpView): Tri {
  let any: Tri = FAIL;
  let start = 0;
  for (const end of c.ends) {
    let all: Tri = PASS;
    for (let i = start; i < end && all !== FAIL; i++) {
      const term = c.terms[i];
      let x = aclTri(term.acl, v);
      if (term.negate && x !== MISS) x = x === PASS ? FAIL : PASS;
      if (x < all) all = x;
    }
    if (all > any) any = all;
    if (any === PASS) break;
    start = end;
  }
  if (c.unless && any !== MISS) return any === PASS ? FAIL : PASS;
  return any;
}

export const ACCEPT = 'accept';
export const REJECT = 'reject';
export const WAIT = 'wait';
export type Verdict = typeof ACCEPT | typeof REJECT | typeof WAIT;

interface TRule {
  /** ACCEPT or REJECT; null: a stick action (`stick`), after which the next rule runs */
  verdict: typeof ACCEPT | typeof REJECT | null;
  cond: CCond | null;
  stick: CRule | null;
  /** track-scN keyed on the payload: its fetch (F_SSL_SNI, F_REQ_LEN, F_SSL_HELLO_TYPE); else -1 */
  payloadKey: number;
}

const PAYLOAD_KEY_CODES: Record<string, number> = { 'req.ssl_sni': F_SSL_SNI, 'req.len': F_REQ_LEN, 'req.ssl_hello_type': F_SSL_HELLO_TYPE };

/** The payload key of a track rule: its text, null when there is no sample, NEED_MORE to wait. */
function payloadKey(code: number, v: TcpView): string | null | typeof NEED_MORE {
  switch (code) {
    case F_SSL_SNI: {
      const s = sslSni(v.payload);
      if (s === NEED_MORE) return v.final ? null : NEED_MORE;
      return s;
    }
    case F_SSL_HELLO_TYPE: {
      const n = sslHelloType(v.payload);
      if (n === NEED_MORE) return v.final ? null : NEED_MORE;
      return n === NONE ? null : String(n);
    }
    default:
      // req.len may still grow: final only when the data are (HAProxy's SMP_F_MAY_CHANGE)
      return v.final ? String(reqLen(v.payload)) : NEED_MORE;
  }
}

const keyBuf = new KeyBuf();

/** track-scN with a key already read (payload keys); the rest as stickAction(). */
function trackKey(r: CRule, req: RequestView, key: string): void {
  const tr = (req.trackers ??= tcpTrackers());
  if (tr.tables[r.slot] !== null) return;
  const t = r.stickTable!;
  if (!keyFromText(t.cfg.type, key, t.cfg.keyLen, keyBuf)) {
    t.countBadKey();
    return;
  }
  const idx = t.get(keyBuf.bytes, keyBuf.len, true);
  if (idx < 0) return; // full with nopurge: counted by the table
  trackStart(tr, r.slot, t, idx);
  req.touch();
}

/** A frontend's tcp-request and use_backend rules, compiled once per worker. */
export class TcpRules {
  readonly inspectDelay: number;
  private readonly connection: TRule[];
  private readonly session: TRule[];
  private readonly content: TRule[];
  private readonly useBackend: { backend: string; cond: CCond | null }[];
  readonly defaultBackend: string | null;

  constructor(fe: Pick<FrontendConfig, 'rules' | 'tcpRequest' | 'defaultBackend'>) {
    const scope = new AclScope(fe.rules?.acls ?? []);
    const compile = (r: TcpRequestRule): TRule =>
      r.action === 'accept' || r.action === 'reject'
        ? { verdict: r.action === 'accept' ? ACCEPT : REJECT, cond: r.cond ? scope.condition(r.cond, 'req') : null, stick: null, payloadKey: -1 }
        : { verdict: null, cond: null, stick: compileRule(r as StickRule, scope, 'req'), payloadKey: stickPayloadKey(r as StickRule) };
    this.inspectDelay = fe.tcpRequest?.inspectDelay ?? 0;
    this.connection = (fe.tcpRequest?.connection ?? []).map(compile);
    this.session = (fe.tcpRequest?.session ?? []).map(compile);
    this.content = (fe.tcpRequest?.content ?? []).map(compile);
    this.useBackend = (fe.rules?.useBackend ?? []).map((u) => ({ backend: u.backend, cond: u.cond ? scope.condition(u.cond, 'req') : null }));
    this.defaultBackend = fe.defaultBackend;
  }

  get hasContentRules(): boolean {
    return this.content.length > 0;
  }

  /** `tcp-request connection` at accept: only what is known then (src, dst_port); final. */
  connectionVerdict(v: TcpView): typeof ACCEPT | typeof REJECT {
    v.final = true;
    const r = this.run(this.connection, v, 0);
    return r === REJECT ? REJECT : ACCEPT;
  }

  /** `tcp-request session` once the handshake is over (the PROXY header read): final, no payload. */
  sessionVerdict(v: TcpView): typeof ACCEPT | typeof REJECT {
    v.final = true;
    const r = this.run(this.session, v, 0);
    return r === REJECT ? REJECT : ACCEPT;
  }

  /**
   * `tcp-request content` over the bytes so far: the first accept/reject rule whose condition
   * holds decides; stick actions whose condition holds run on the way. WAIT when a condition
   * cannot be decided yet (only while !v.final): the next call resumes at that rule, as
   * HAProxy's current_rule, so an action already run is not run again. No rule: accept.
   */
  contentVerdict(v: TcpView): Verdict {
    return this.run(this.content, v, v.contentRule);
  }

  /** use_backend in order, the first match wins; else default_backend (null: none). */
  backend(v: TcpView): string | null {
    v.final = true; // HAProxy's switching rules see the data as they are
    for (const u of this.useBackend) {
      if (u.cond === null || condTri(u.cond, v) === PASS) return u.backend;
    }
    return this.defaultBackend;
  }

  private run(rules: TRule[], v: TcpView, from: number): Verdict {
    for (let i = from; i < rules.length; i++) {
      const r = rules[i];
      const cond = r.stick !== null ? r.stick.cond : r.cond;
      const x = cond === null ? PASS : condTri(cond, v);
      if (x === MISS) {
        v.contentRule = i; // (content rules only: the others run with final data)
        return WAIT;
      }
      if (x !== PASS) continue;
      if (r.stick !== null) {
        if (r.payloadKey >= 0) {
          const key = payloadKey(r.payloadKey, v);
          if (key === NEED_MORE) {
            v.contentRule = i;
            return WAIT;
          }
          if (key !== null) trackKey(r.stick, v.req, key);
          continue;
        }
        v.req.trackers ??= tcpTrackers();
        stickAction(r.stick, v.req, null);
        continue;
      }
      return r.verdict!;
    }
    return ACCEPT;
  }
}

/**
 * Runs the content rules on a session's prelude as bytes arrive, until a verdict: on each
 * arrival, at inspect-delay (final), on a full prelude or a client FIN (final). Without
 * inspect-delay they run once, at once, on whatever is there (HAProxy). `done` is called once,
 * not at all if the session ends first. On REJECT the caller ends the session with fail('P','R').
 */
export function inspectSession(s: TcpSession, rules: TcpRules, v: TcpView, done: (verdict: typeof ACCEPT | typeof REJECT) => void): void {
  let timer: NodeJS.Timeout | null = null;
  let over = false;
  const step = (expired: boolean): void => {
    if (over) return;
    if (s.isEnded) return finish();
    v.payload = s.preludeBytes();
    v.final = expired || rules.inspectDelay <= 0 || s.clientEnded || s.preludeFull;
    const r = rules.contentVerdict(v);
    if (r === WAIT) return;
    finish();
    done(r);
  };
  const finish = (): void => {
    over = true;
    if (timer !== null) clearTimeout(timer);
    s.onPrelude = null;
  };
  if (!rules.hasContentRules) {
    done(ACCEPT);
    return;
  }
  if (rules.inspectDelay > 0) {
    s.onPrelude = () => step(false);
    timer = setTimeout(() => step(true), rules.inspectDelay);
  }
  step(false);
}
