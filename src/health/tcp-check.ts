// tcp-check sequences and the protocol checks built on them (HAProxy 2.6 tcpcheck.c and the
// rule sets behind option ssl-hello-chk / mysql-check / pgsql-check / redis-check / smtpchk),
// run by the health thread. A plan is a list of steps:
//   connect [port N]  a new connection (the first step always is one)
//   send DATA         clears what was received so far, writes DATA
//   expect ...        waits until it can decide on the bytes received since the last send:
//                     - min-recv N: wait for N bytes first;
//                     - no match yet and min-recv not given: wait for more, until the server
//                       closes or the 16 KB check buffer is full ("last read"), then decide;
//                     - `!` negates: the pattern must not be there.
// The last passing step gives the result: L4OK after a bare connect, L7OK "(tcp-check)" after
// an expect, or what a protocol check says (L6OK for ssl-hello, the SMTP code...). Failures:
// L4CON / L4TOUT before the connection, L7RSP (or the check's own status) on a wrong answer,
// L7TOUT (L6TOUT for ssl-hello) when the answer does not come within `timeout check`.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TcpCheckConfig, TcpCheckStep } from '../config/model';
import type { CheckStatusName } from '../shared/state';
import type { CheckResult } from './check-result';
import { errnoText } from './check-result';
import { checkConnect, type CheckConn } from './check-connect';

/** HAProxy's check buffer (tune.bufsize): a full buffer is a "last read". */
export const CHECK_BUFFER = 16384;

type Outcome = Omit<CheckResult, 'durationMs'>;

/** What an expect step decides: wait for more bytes, pass (maybe with the result to report), or fail. */
export type ExpectVerdict = { wait: true } | { wait: false; pass: true; ok: Outcome | null } | { wait: false; pass: false; fail: Outcome };

const WAIT: ExpectVerdict = { wait: true };
const pass = (ok: Outcome | null = null): ExpectVerdict => ({ wait: false, pass: true, ok });
const fail = (status: CheckStatusName, info: string, code = 0): ExpectVerdict => ({ wait: false, pass: false, fail: { status, code, info } });

export type PlanStep =
  | { kind: 'connect'; port: number | null }
  | { kind: 'send'; data: Buffer }
  | { kind: 'expect'; judge: (buf: Buffer, lastRead: boolean, step: number) => ExpectVerdict; timeout: CheckStatusName };

export interface TcpCheckPlan {
  steps: PlanStep[];
  /** the first connect was added, not written: HAProxy's step numbers in messages do not count it */
  implicitConnect?: boolean;
}

/** First line of a reply, for messages (HAProxy's cut_crlf). */
function firstLine(buf: Buffer, from = 0): string {
  const s = buf.subarray(from, Math.min(buf.length, from + 256)).toString('latin1');
  const i = s.search(/[\r\n]/);
  return (i < 0 ? s : s.slice(0, i)).trim();
}

/** A `tcp-check expect` rule with HAProxy's semantics. */
export function expectJudge(step: Extract<TcpCheckStep, { kind: 'expect' }>): (buf: Buffer, lastRead: boolean, n: number) => ExpectVerdict {
  const { match, pattern, negate, minRecv } = step;
  const needle = match === 'string' ? Buffer.from(pattern, 'latin1') : match === 'binary' ? Buffer.from(pattern, 'hex') : null;
  const re = match === 'rstring' || match === 'rbinary' ? new RegExp(pattern) : null;
  return (buf, lastRead, n) => {
    if (minRecv >= 0 && buf.length < minRecv && !lastRead) return WAIT;
    let found: boolean;
    if (needle !== null) found = buf.indexOf(needle) >= 0;
    else found = re!.test(match === 'rstring' ? buf.toString('latin1') : buf.toString('hex').toUpperCase());
    if (!found && !lastRead && minRecv < 0) return WAIT;
    if (found !== negate) return pass();
    if (buf.length === 0) return fail('L7RSP', `TCPCHK got an empty response at step ${n}`);
    const what = match === 'string' || match === 'binary' ? 'content' : 'regex';
    return fail('L7RSP', negate ? `TCPCHK matched unwanted ${what} '${pattern}' at step ${n}` : `TCPCHK did not match ${what} '${pattern}' at step ${n}`);
  };
}

// ---- protocol checks ----

/** A TLS 1.2 ClientHello with common suites: any TLS server answers a handshake or an alert. */
function sslHello(): Buffer {
  const suites = [0xc02f, 0xc030, 0xc02b, 0xc02c, 0x009e, 0x009f, 0xc013, 0xc014, 0x002f, 0x0035, 0x000a];
  const random = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) random[i] = (i * 73 + 11) & 0xff;
  const cs = Buffer.alloc(2 + suites.length * 2);
  cs.writeUInt16BE(suites.length * 2, 0);
  suites.forEach((s, i) => cs.writeUInt16BE(s, 2 + i * 2));
  const body = Buffer.concat([Buffer.from([0x03, 0x03]), random, Buffer.from([0x00]), cs, Buffer.from([0x01, 0x00])]);
  const hs = Buffer.concat([Buffer.from([0x01, 0, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, (hs.length >> 8) & 0xff, hs.length & 0xff]), hs]);
}

function redisPlan(): PlanStep[] {
  return [
    { kind: 'connect', port: null },
    { kind: 'send', data: Buffer.from('*1\r\n$4\r\nPING\r\n') },
    {
      kind: 'expect',
      timeout: 'L7TOUT',
      judge: (buf, last) => {
        if (buf.indexOf('+PONG') >= 0) return pass({ status: 'L7OK', code: 0, info: 'Redis server is ok' });
        if (!last && buf.indexOf('\n') < 0) return WAIT;
        return fail('L7STS', firstLine(buf));
      },
    },
  ];
}

function smtpPlan(cfg: TcpCheckConfig): PlanStep[] {
  // a reply is complete at its last line "NNN text" (continuation lines are "NNN-text")
  const reply = (final: boolean) => (buf: Buffer, last: boolean): ExpectVerdict => {
    const text = buf.toString('latin1');
    const lines = text.split('\r\n');
    const done = lines.find((l) => /^[0-9]{3}( |$)/.test(l) && text.includes(`${l}\r\n`));
    if (done === undefined) {
      if (!last && buf.length < CHECK_BUFFER) return WAIT;
      if (!/^[0-9]{3}[- \r]/.test(text)) return fail('L7RSP', firstLine(buf));
      return fail('L7RSP', firstLine(buf));
    }
    const code = Number(done.slice(0, 3));
    const info = done.slice(4).trim();
    if (code < 200 || code > 299) return fail('L7STS', info, code);
    return pass(final ? { status: 'L7OK', code, info } : null);
  };
  return [
    { kind: 'connect', port: null },
    { kind: 'expect', timeout: 'L7TOUT', judge: reply(false) },
    { kind: 'send', data: Buffer.from(`${cfg.smtpVerb} ${cfg.smtpDomain}\r\n`, 'latin1') },
    { kind: 'expect', timeout: 'L7TOUT', judge: reply(true) },
    { kind: 'send', data: Buffer.from('QUIT\r\n') },
  ];
}

function pgsqlPlan(cfg: TcpCheckConfig): PlanStep[] {
  // StartupMessage: length, protocol 3.0, "user" NUL name NUL, terminating NUL
  const params = Buffer.from(`user\0${cfg.user}\0\0`, 'latin1');
  const startup = Buffer.alloc(8 + params.length);
  startup.writeUInt32BE(startup.length, 0);
  startup.writeUInt32BE(0x00030000, 4);
  params.copy(startup, 8);
  return [
    { kind: 'connect', port: null },
    { kind: 'send', data: startup },
    {
      kind: 'expect',
      timeout: 'L7TOUT',
      judge: (buf, last) => {
        if (buf.length < 9 && !last) return WAIT;
        if (buf[0] === 0x45 /* 'E' */) {
          // ErrorResponse: fields of a type byte and a NUL-terminated text; 'M' is the message
          const fields = buf.subarray(5).toString('latin1').split('\0');
          const m = fields.find((f) => f.startsWith('M'));
          return fail('L7RSP', m ? m.slice(1) : firstLine(buf));
        }
        // Authentication request 'R' of length 8, 10 or 12 and a known method: the server is up
        if (buf.length >= 9 && buf[0] === 0x52 && [8, 10, 12].includes(buf.readUInt32BE(1)) && buf.readUInt32BE(5) <= 12) {
          return pass({ status: 'L7OK', code: 0, info: 'PostgreSQL server is ok' });
        }
        return fail('L7RSP', 'PostgreSQL unknown error');
      },
    },
  ];
}

/** MySQL packets: 3-byte length, sequence id, payload. */
function mysqlPacket(seq: number, payload: Buffer): Buffer {
  const h = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, seq]);
  return Buffer.concat([h, payload]);
}

function mysqlError(buf: Buffer): string {
  // 0xff, 2-byte code, then (4.1+) '#' and a 5-character SQL state, then the message
  let at = 7;
  if (buf.length > 7 && buf[7] === 0x23) at = 13;
  const len = buf[0] | (buf[1] << 8) | (buf[2] << 16);
  return buf.subarray(at, Math.min(buf.length, 4 + len)).toString('latin1');
}

function mysqlPlan(cfg: TcpCheckConfig): PlanStep[] {
  let version = '';
  const whole = (buf: Buffer): boolean => buf.length >= 4 && buf.length >= 4 + (buf[0] | (buf[1] << 8) | (buf[2] << 16));
  const greeting = (buf: Buffer, last: boolean): ExpectVerdict => {
    if (!whole(buf)) return last ? fail('L7RSP', buf.length === 0 ? 'MySQL server closed the connection' : 'MySQL unknown error') : WAIT;
    if (buf[4] === 0xff) return fail('L7STS', mysqlError(buf));
    if (buf[4] !== 0x0a) return fail('L7RSP', `MySQL protocol ${buf[4]} is not supported`);
    const end = buf.indexOf(0, 5);
    version = buf.subarray(5, end < 0 ? buf.length : end).toString('latin1');
    return pass(cfg.user ? null : { status: 'L7OK', code: 0, info: version });
  };
  const steps: PlanStep[] = [{ kind: 'connect', port: null }, { kind: 'expect', timeout: 'L7TOUT', judge: greeting }];
  if (!cfg.user) return steps;
  const user = Buffer.from(`${cfg.user}\0`, 'latin1');
  let auth: Buffer;
  if (cfg.post41) {
    // capabilities LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION, max packet, charset, filler, user, empty auth
    const head = Buffer.alloc(32);
    head.writeUInt32LE(0x8201, 0);
    head.writeUInt32LE(0x01000000, 4);
    head[8] = 0x08;
    auth = Buffer.concat([head, user, Buffer.from([0x00])]);
  } else {
    const head = Buffer.from([0x01, 0x80, 0x00, 0x00, 0x01]); // 2-byte caps, 3-byte max packet
    auth = Buffer.concat([head, user]);
  }
  steps.push({ kind: 'send', data: Buffer.concat([mysqlPacket(1, auth), mysqlPacket(0, Buffer.from([0x01]))]) });
  steps.push({
    kind: 'expect',
    timeout: 'L7TOUT',
    judge: (buf, last) => {
      if (!whole(buf)) return last ? fail('L7RSP', 'MySQL unknown error') : WAIT;
      if (buf[4] === 0x00) return pass({ status: 'L7OK', code: 0, info: version });
      if (buf[4] === 0xff) return fail('L7STS', mysqlError(buf));
      return fail('L7RSP', 'MySQL unknown error');
    },
  });
  return steps;
}

/** The runnable plan of a backend's tcp_check (built once per target on the health thread). */
export function buildPlan(cfg: TcpCheckConfig): TcpCheckPlan {
  switch (cfg.type) {
    case 'ssl-hello':
      return {
        steps: [
          { kind: 'connect', port: null },
          { kind: 'send', data: sslHello() },
          {
            kind: 'expect',
            timeout: 'L6TOUT',
            judge: (buf, last) => {
              if (buf.length < 5 && !last) return WAIT;
              // a handshake (0x16) or an alert (0x15) record: a TLS stack answered
              if (buf[0] === 0x16 || buf[0] === 0x15) return pass({ status: 'L6OK', code: 0, info: '' });
              return fail('L6RSP', '');
            },
          },
        ],
      };
    case 'redis':
      return { steps: redisPlan() };
    case 'smtp':
      return { steps: smtpPlan(cfg) };
    case 'pgsql':
      return { steps: pgsqlPlan(cfg) };
    case 'mysql':
      return { steps: mysqlPlan(cfg) };
    case 'tcp-check': {
      const steps: PlanStep[] = [];
      for (const s of cfg.steps) {
        if (s.kind === 'connect') steps.push({ kind: 'connect', port: s.port });
        else if (s.kind === 'send') steps.push({ kind: 'send', data: s.binary ? Buffer.from(s.data, 'hex') : Buffer.from(s.data, 'latin1') });
        else steps.push({ kind: 'expect', judge: expectJudge(s), timeout: 'L7TOUT' });
      }
      // HAProxy: a sequence that does not start with a connect gets one
      if (steps[0]?.kind === 'connect') return { steps };
      steps.unshift({ kind: 'connect', port: null });
      return { steps, implicitConnect: true };
    }
  }
}

export interface TcpCheckSpec {
  /** TLS / PROXY header (check-ssl, check-send-proxy); absent: plain TCP */
  conn?: CheckConn | null;
  host: string;
  port: number;
  timeoutMs: number;
}

/** Runs a plan; always resolves (never rejects), every failure is a CheckResult. */
export function runTcpCheck(plan: TcpCheckPlan, spec: TcpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  return new Promise<CheckResult>((resolve) => {
    const started = performance.now();
    let settled = false;
    let socket: net.Socket | null = null;
    let connected = false;
    let inbuf: Buffer = Buffer.alloc(0);
    let lastRead = false;
    let i = 0;
    let lastOk: Outcome | null = null;
    let timer: NodeJS.Timeout | null = null;
    /** the step number messages give for steps[k] */
    const stepNo = (k: number): number => (plan.implicitConnect ? k : k + 1);

    const finish = (r: Outcome): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve({ ...r, durationMs: Math.max(0, Math.round(performance.now() - started)) });
    };
    const onAbort = (): void => finish({ status: 'SOCKERR', code: 0, info: 'check aborted' });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);

    timer = setTimeout(() => {
      const step = plan.steps[i];
      if (!connected) return finish({ status: 'L4TOUT', code: 0, info: '' });
      const status = step?.kind === 'expect' ? step.timeout : 'L7TOUT';
      finish({ status, code: 0, info: `TCPCHK timeout at step ${stepNo(i)}` });
    }, spec.timeoutMs);
    timer.unref();

    /** Runs steps from i until one must wait for the network. */
    const advance = (): void => {
      while (!settled) {
        const step = plan.steps[i];
        if (step === undefined) {
          // every step passed: a protocol check's own result, else L7OK after an expect, L4OK after a connect
          const prev = plan.steps[i - 1];
          return finish(lastOk ?? (prev?.kind === 'connect' ? { status: 'L4OK', code: 0, info: '' } : { status: 'L7OK', code: 0, info: '(tcp-check)' }));
        }
        if (step.kind === 'connect') return open(step.port ?? spec.port);
        if (step.kind === 'send') {
          inbuf = Buffer.alloc(0);
          socket!.write(step.data);
          i++;
          continue;
        }
        const v = step.judge(inbuf, lastRead, stepNo(i));
        if (v.wait) {
          if (lastRead) return finish({ status: 'L7RSP', code: 0, info: `TCPCHK got an incomplete response at step ${stepNo(i)}` });
          return; // data / end events call advance() again
        }
        if (!v.pass) return finish(v.fail);
        if (v.ok) lastOk = v.ok;
        i++;
      }
    };

    const open = (port: number): void => {
      socket?.destroy();
      connected = false;
      inbuf = Buffer.alloc(0);
      lastRead = false;
      let s: net.Socket;
      let ready: 'connect' | 'secureConnect' = 'connect';
      try {
        const cs = checkConnect(spec.host, port, spec.conn ?? null);
        s = cs.socket;
        ready = cs.ready;
      } catch (e) {
        return finish({ status: 'L4CON', code: 0, info: errnoText(e) });
      }
      socket = s;
      s.setNoDelay(true);
      s.on(ready, () => {
        connected = true;
        i++;
        advance();
      });
      s.on('data', (b: Buffer) => {
        if (s !== socket) return;
        inbuf = inbuf.length === 0 ? b : Buffer.concat([inbuf, b]);
        if (inbuf.length >= CHECK_BUFFER) {
          inbuf = inbuf.subarray(0, CHECK_BUFFER);
          lastRead = true;
        }
        advance();
      });
      const closed = (): void => {
        if (s !== socket || settled) return;
        lastRead = true;
        advance();
        // the server closed before the sequence needed to read (e.g. between sends)
        if (!settled && plan.steps[i]?.kind !== 'expect') finish({ status: 'L7RSP', code: 0, info: `TCPCHK: connection closed by the server at step ${stepNo(i)}` });
      };
      s.on('end', closed);
      s.on('error', (err) => {
        if (s !== socket) return;
        if (!connected) return finish({ status: 'L4CON', code: 0, info: errnoText(err) });
        closed();
      });
      s.on('close', () => {
        if (s !== socket) return;
        if (!connected) return finish({ status: 'L4CON', code: 0, info: 'Connection closed' });
        closed();
      });
    };

    advance();
  });
}
