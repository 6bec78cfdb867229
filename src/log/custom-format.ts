// HAProxy's `log-format` strings with its log variables (HAProxy 2.6 configuration manual,
// 8.2.4): compiled once per frontend at worker start into a flat list of parts, rendered per
// logged request from the same RequestRecord / Names / LogGauges as the fixed formats. No
// closures per request; each part is a literal or a variable code.
//
// Supported: %ci %cp %t %tr %trg %trl %T %Tl %ms %ft %f %b %s %TR %Tq %Tw %Tc %Tr %Ta %Tt %Th %Ti
// %Td %ST %B %U %CC %CS %ts %tsc %ac %fc %bc %sc %rc %sq %bq %r %HM %HU %HP %HQ %HV %hr %hrl %hs
// %hsl %ID %pid %H %Ts, %fi %fp %bi %bp %si %sp (mode tcp sessions; '-' elsewhere), %o and %%; modifiers %{+Q} (quote) %{-Q} %{+X} (hex) %{+E} (escape).
// Sample fetches %[...] are refused: the request is gone when its line is written.
import { hostname } from 'node:os';
import { escapeField, logDate, type LogGauges, type Names, type RequestRecord } from './format';

const V = {
  ci: 1, cp: 2, t: 3, tr: 4, trg: 5, trl: 6, T: 7, Tl: 8, ms: 9, ft: 10, f: 11, b: 12, s: 13, TR: 14, Tq: 15,
  Tw: 16, Tc: 17, Tr: 18, Ta: 19, Tt: 20, Th: 21, Ti: 22, Td: 23, ST: 24, B: 25, U: 26, CC: 27, CS: 28, ts: 29,
  tsc: 30, ac: 31, fc: 32, bc: 33, sc: 34, rc: 35, sq: 36, bq: 37, r: 38, HM: 39, HU: 40, HP: 41, HQ: 42, HV: 43,
  hr: 44, hrl: 45, hs: 46, hsl: 47, ID: 48, pid: 49, H: 50, fi: 51, fp: 52, bi: 53, bp: 54, si: 55, sp: 56, Ts: 57,
} as const;
/** HAProxy 2.6 log variables gatehouse does not render: refused, rather than read as a shorter one plus text */
const UNSUPPORTED = ['Tu', 'lc', 'rt', 'sslc', 'sslv'];
/** the addresses only a mode tcp session records (RequestRecord.local...): '-' on other lines */
const ADDRESS_CODES: number[] = [V.fi, V.fp, V.bi, V.bp, V.si, V.sp];
type VarName = keyof typeof V;

export const LOG_VARIABLES = Object.keys(V);

/** A compiled log-format: per part, a literal (code 0) or a variable code, and its flags. */
export interface CompiledLogFormat {
  codes: number[];
  lits: string[];
  quote: boolean[];
  hex: boolean[];
}

function fail(message: string): never {
  throw new Error(message);
}

/** Compiles a log-format string; throws an Error naming the first problem. */
export function compileLogFormat(text: string): CompiledLogFormat {
  const out: CompiledLogFormat = { codes: [], lits: [], quote: [], hex: [] };
  let lit = '';
  const flush = (): void => {
    if (lit === '') return;
    out.codes.push(0);
    out.lits.push(lit);
    out.quote.push(false);
    out.hex.push(false);
    lit = '';
  };
  let globalQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '%') {
      lit += c;
      continue;
    }
    if (text[i + 1] === '%') {
      lit += '%';
      i++;
      continue;
    }
    let j = i + 1;
    let quote: boolean = globalQuote;
    let hex = false;
    if (text[j] === '{') {
      const close = text.indexOf('}', j);
      if (close < 0) fail(`missing '}' in '${text.slice(i)}'`);
      for (const m of text.slice(j + 1, close).split(/(?=[+-])/)) {
        if (m === '+Q') quote = true;
        else if (m === '-Q') quote = false;
        else if (m === '+X') hex = true;
        else if (m === '-X' || m === '+E' || m === '-E' || m === '') continue;
        else fail(`unknown log-format modifier '${m}' (expected +Q, -Q, +X, +E)`);
      }
      j = close + 1;
    }
    if (text[j] === '[') fail("sample fetches (%[...]) are not available in gatehouse's log lines: the request is gone when the line is written");
    const m = /^[A-Za-z]+/.exec(text.slice(j));
    if (!m) fail(`'%' must be followed by a log variable or '%' (write %% for a percent sign), found '${text.slice(i, i + 8)}'`);
    // variables are the longest known prefix (HAProxy: %Tw then text, %trg vs %tr)
    let name = m[0];
    while (name.length > 0 && !(name in V) && name !== 'o' && !UNSUPPORTED.includes(name)) name = name.slice(0, -1);
    if (UNSUPPORTED.includes(name)) fail(`log-format variable '%${name}' is not supported by gatehouse yet`);
    if (name === 'o') {
      // %o: global modifiers for what follows (HAProxy: %{+Q}o)
      globalQuote = quote;
      i = j;
      continue;
    }
    if (name === '') fail(`unknown log-format variable '%${m[0]}'`);
    flush();
    out.codes.push(V[name as VarName]);
    out.lits.push('');
    out.quote.push(quote);
    out.hex.push(hex);
    i = j + name.length - 1;
  }
  flush();
  return out;
}

/** Does the format print addresses only mode tcp sessions record (%fi %fp %bi %bp %si %sp)? */
export function usesSessionAddresses(f: CompiledLogFormat): boolean {
  return f.codes.some((c) => ADDRESS_CODES.includes(c));
}

const HOST = hostname();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function ms(t: number): number {
  return t < 0 ? -1 : Math.round(t);
}

function gmtDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => (n < 10 ? '0' + n : '' + n);
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function localDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => (n < 10 ? '0' + n : '' + n);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${p(Math.floor(a / 60))}${p(a % 60)}`;
}

function version(v: string): string {
  return v.startsWith('HTTP/') ? v : 'HTTP/' + v;
}

function value(code: number, r: RequestRecord, n: Names, g: LogGauges): string | number {
  switch (code) {
    case V.ci:
      return r.clientIp;
    case V.cp:
      return r.clientPort;
    case V.t:
    case V.tr:
      return logDate(r.acceptMs);
    case V.trg:
    case V.T:
      return gmtDate(r.acceptMs);
    case V.trl:
    case V.Tl:
      return localDate(r.acceptMs);
    case V.ms:
      return String(r.acceptMs % 1000).padStart(3, '0');
    case V.ft:
    case V.f:
      return n.frontend;
    case V.b:
      return n.backend;
    case V.s:
      return n.server;
    case V.TR:
    case V.Tq:
      return ms(r.tq);
    case V.Tw:
      return ms(r.tw);
    case V.Tc:
      return ms(r.tc);
    case V.Tr:
      return ms(r.tr);
    case V.Ta:
    case V.Tt:
      return ms(r.ta);
    case V.Th:
    case V.Ti:
      return 0;
    case V.Td: {
      const d = r.ta < 0 ? -1 : Math.round(r.ta) - Math.max(0, ms(r.tq)) - Math.max(0, ms(r.tw)) - Math.max(0, ms(r.tc)) - Math.max(0, ms(r.tr));
      return d;
    }
    case V.ST:
      return r.status;
    case V.B:
      return r.bytesOut;
    case V.U:
      return r.bytesIn;
    case V.CC:
    case V.CS:
    case V.ID:
      return '-';
    case V.ts:
      return r.termination.length >= 2 ? r.termination.slice(0, 2) : '--';
    case V.tsc:
      return r.termination.length >= 4 ? r.termination : (r.termination + '----').slice(0, 4);
    case V.ac:
      return g.actconn;
    case V.fc:
      return g.feconn;
    case V.bc:
      return g.beconn;
    case V.sc:
      return g.srvConn;
    case V.rc:
      return r.retries;
    case V.sq:
      return g.srvQueue;
    case V.bq:
      return g.backendQueue;
    case V.r:
      return r.method === '' ? '<BADREQ>' : escapeField(r.method) + ' ' + escapeField(r.uri) + ' ' + escapeField(version(r.httpVersion));
    case V.HM:
      return escapeField(r.method);
    case V.HU:
      return escapeField(r.uri);
    case V.HP: {
      const q = r.uri.indexOf('?');
      return escapeField(q < 0 ? r.uri : r.uri.slice(0, q));
    }
    case V.HQ: {
      const q = r.uri.indexOf('?');
      return q < 0 ? '' : escapeField(r.uri.slice(q));
    }
    case V.HV:
      return r.method === '' ? '' : version(r.httpVersion);
    case V.hr:
    case V.hrl:
    case V.hs:
    case V.hsl:
      return ''; // no captures (capture / declare capture are ignored)
    case V.pid:
      return process.pid;
    case V.H:
      return HOST;
    case V.Ts:
      return Math.floor(r.acceptMs / 1000);
    case V.fi:
      return r.addrs?.frontendIp || '-';
    case V.fp:
      return r.addrs?.frontendPort || '-';
    case V.bi:
      return r.addrs?.backendIp || '-';
    case V.bp:
      return r.addrs?.backendPort || '-';
    case V.si:
      return r.addrs?.serverIp || '-';
    case V.sp:
      return r.addrs?.serverPort || '-';
  }
  return '';
}

/** One access line in the compiled format. */
export function formatCustom(f: CompiledLogFormat, r: RequestRecord, n: Names, g: LogGauges): string {
  let out = '';
  const codes = f.codes;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) {
      out += f.lits[i];
      continue;
    }
    let v = value(code, r, n, g);
    // +X (HAProxy): hexadecimal for addresses, ports and the pid only
    if (f.hex[i]) {
      if ((code === V.cp || code === V.pid || code === V.fp || code === V.bp || code === V.sp) && typeof v === 'number') v = v.toString(16).toUpperCase();
      else if ((code === V.ci || code === V.fi || code === V.bi || code === V.si) && typeof v === 'string' && /^\d+\.\d+\.\d+\.\d+$/.test(v)) v = v.split('.').map((x) => Number(x).toString(16).toUpperCase().padStart(2, '0')).join('');
    }
    out += f.quote[i] ? '"' + v + '"' : v;
  }
  return out;
}
