// haproxy.cfg lines of `mode tcp` proxies -> the YAML keys src/config/tcp.ts validates:
// `tcp-request ...` -> tcp_request (rule text), `tcp-check ...` -> tcp_check.steps (maps),
// `option tcp-check | ssl-hello-chk | mysql-check | pgsql-check | redis-check | smtpchk` ->
// tcp_check.type and its settings. haproxy-cfg.ts hands each line over through a CfgSink.
import type { Word } from './cfg-tokenize';
import { joinWords } from '../acl/words';
import { parseConnectWords, parseExpectWords } from './tcp';

export interface CfgSink {
  kind: 'defaults' | 'frontend' | 'backend' | 'listen';
  error(w: Word, message: string): void;
  warn(w: Word, message: string): void;
  /** a warning at the line that set `key` */
  warnAt(key: string, message: string): void;
  /** HAProxy's capability check for the section (warns and returns false when it lacks it) */
  cap(w: Word, need: 'FE' | 'BE', label: string): boolean;
  set(key: string, w: Word, value: unknown): void;
  get(key: string): unknown;
  /** appends to a list key, with the item's position (a copy: lists inherited from defaults stay) */
  append(key: string, w: Word, value: unknown): void;
  delete(key: string): void;
}

export const TCP_CHECK_OPTIONS = ['tcp-check', 'ssl-hello-chk', 'mysql-check', 'pgsql-check', 'redis-check', 'smtpchk'];

/** `[no] option <tcp-check|ssl-hello-chk|mysql-check|pgsql-check|redis-check|smtpchk> ...` */
export function cfgCheckOption(k: CfgSink, w: Word[], at: number, on: boolean): void {
  const n = w[at];
  const o = n.text;
  if (!k.cap(n, 'BE', `option ${o}`)) return;
  const args = w.slice(at + 1);
  if (!on) {
    // `no option X`: back to a plain connect check when X was the check in force
    const types: Record<string, string> = { 'tcp-check': 'tcp-check', 'ssl-hello-chk': 'ssl-hello', 'mysql-check': 'mysql', 'pgsql-check': 'pgsql', 'redis-check': 'redis', smtpchk: 'smtp' };
    if (k.get('tcp_check.type') === types[o]) k.delete('tcp_check.type');
    return;
  }
  const tooMany = (from: number): boolean => {
    if (args.length <= from) return false;
    k.error(args[from], `too many arguments for 'option ${o}'`);
    return true;
  };
  // the settings of a previous check option do not carry over to this one, and the last check
  // option wins over `option httpchk` as in HAProxy
  for (const key of ['tcp_check.user', 'tcp_check.post41', 'tcp_check.smtp_hello']) k.delete(key);
  k.set('health_check.type', n, 'tcp');
  switch (o) {
    case 'tcp-check':
      if (tooMany(0)) return;
      k.set('tcp_check.type', n, 'tcp-check');
      return;
    case 'ssl-hello-chk':
      if (tooMany(0)) return;
      k.set('tcp_check.type', n, 'ssl-hello');
      return;
    case 'redis-check':
      if (tooMany(0)) return;
      k.set('tcp_check.type', n, 'redis');
      return;
    case 'smtpchk':
      if (args.length === 2) {
        if (!/^(HELO|EHLO)$/i.test(args[0].text)) {
          k.error(args[0], `'option smtpchk' expects HELO or EHLO, found '${args[0].text}'`);
          return;
        }
        k.set('tcp_check.smtp_hello', args[0], `${args[0].text.toUpperCase()} ${args[1].text}`);
      } else if (args.length === 1 || tooMany(2)) {
        if (args.length === 1) k.error(args[0], "'option smtpchk' expects HELO|EHLO followed by a domain");
        return;
      }
      k.set('tcp_check.type', n, 'smtp');
      return;
    case 'mysql-check':
    case 'pgsql-check': {
      const type = o === 'mysql-check' ? 'mysql' : 'pgsql';
      if (args.length === 0) {
        if (type === 'pgsql') {
          k.error(n, "'option pgsql-check' expects 'user <username>'");
          return;
        }
        k.set('tcp_check.type', n, type);
        return;
      }
      if (args[0].text !== 'user' || args.length < 2) {
        k.error(args[0], `'option ${o}' only supports 'user <username>'${type === 'mysql' ? " [post-41|pre-41]" : ''}`);
        return;
      }
      k.set('tcp_check.user', args[1], args[1].text);
      if (type === 'mysql' && args.length === 3) {
        if (args[2].text !== 'post-41' && args[2].text !== 'pre-41') {
          k.error(args[2], `'option mysql-check user <username>' expects post-41 or pre-41, found '${args[2].text}'`);
          return;
        }
        k.set('tcp_check.post41', args[2], args[2].text === 'post-41');
      } else if (tooMany(2)) return;
      k.set('tcp_check.type', n, type);
      return;
    }
  }
}

/** `tcp-check connect|send|send-binary|expect|comment ...` */
export function cfgTcpCheckLine(k: CfgSink, w: Word[]): void {
  if (!k.cap(w[0], 'BE', 'tcp-check')) return;
  const a = w[1];
  if (a === undefined) {
    k.error(w[0], "'tcp-check' expects connect, send, send-binary, expect or comment");
    return;
  }
  const rest = w.slice(2).map((x) => x.text);
  switch (a.text) {
    case 'comment':
      return;
    case 'connect': {
      const r = parseConnectWords(rest);
      if (typeof r === 'string') return k.error(a, r);
      const port = r.kind === 'connect' ? r.port : null;
      k.append('tcp_check.steps', a, { connect: port === null ? null : { port } });
      return;
    }
    case 'send':
    case 'send-binary': {
      const data = w[2];
      if (data === undefined) return k.error(a, `'tcp-check ${a.text}' expects the data to send`);
      if (w.length > 3 && w[3].text !== 'comment') return k.error(w[3], `'tcp-check ${a.text}' takes one argument (quote data with blanks)`);
      if (a.text === 'send-binary' && !/^([0-9a-fA-F]{2})+$/.test(data.text)) return k.error(data, "'tcp-check send-binary' expects a hexadecimal string such as 50494e470d0a");
      k.append('tcp_check.steps', a, a.text === 'send' ? { send: data.text } : { send_binary: data.text });
      return;
    }
    case 'expect': {
      const r = parseExpectWords(rest);
      if (typeof r === 'string') return k.error(a, r);
      // the rule text, re-quoted: the validator parses it again with the same code
      k.append('tcp_check.steps', a, { expect: joinWords(rest) });
      return;
    }
    case 'send-lf':
    case 'send-binary-lf':
    case 'set-var':
    case 'unset-var':
      return k.error(a, `'tcp-check ${a.text}' is not supported by gatehouse yet`);
  }
  k.error(a, `unknown 'tcp-check' action '${a.text}' (expected connect, send, send-binary, expect or comment)`);
}

/** `tcp-request inspect-delay|content|connection ...` -> one tcp_request rule text. */
export function cfgTcpRequestLine(k: CfgSink, w: Word[]): void {
  if (k.kind === 'defaults') {
    k.error(w[0], "'tcp-request' in a defaults section is not supported by gatehouse; put it in the frontend or listen section");
    return;
  }
  if (k.kind === 'backend') {
    // HAProxy runs backend content rules after the switch; gatehouse has none to run yet
    k.error(w[0], "'tcp-request' in a backend is not supported by gatehouse yet; put it in the frontend or listen section");
    return;
  }
  if (w.length < 2) {
    k.error(w[0], "'tcp-request' expects inspect-delay, content or connection");
    return;
  }
  k.append('tcp_request', w[0], joinWords(w.slice(1).map((x) => x.text)));
}

/** HAProxy ignores tcp-check rules without `option tcp-check`; so does gatehouse, with its warning. */
export function cfgTcpCheckWithoutOption(k: CfgSink, label: string): void {
  if (k.get('tcp_check.steps') === undefined || k.get('tcp_check.type') === 'tcp-check') return;
  k.warnAt('tcp_check.steps', `${label} uses tcp-check rules without 'option tcp-check', so the rules are ignored.`);
  k.delete('tcp_check.steps');
}
