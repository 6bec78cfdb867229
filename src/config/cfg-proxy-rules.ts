// haproxy.cfg reader: proxy rules and small proxy keywords: stick, http-request/response rules,
// monitor-uri, use-service, timeout, stats, log.
import { didYouMean } from './suggest';
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { joinWords } from '../acl/words';
import { LogItem, Section, RuleListKey, TIMEOUT_YAML, MONITOR_PAGE, seconds } from './cfg-parser-base';
import { CfgProxyOptions } from './cfg-proxy-options';

export class CfgProxyRules extends CfgProxyOptions {
  /** `stick-table ...` (YAML stick_table) and `stick on|match|store-request ...` (YAML stick, a list). */
  protected stickLine(s: Section, w: Word[]): void {
    const kw = w[0].text;
    if (s.kind === 'defaults') {
      this.error(w[0], `'${kw}' is not allowed in a defaults section; put it in the frontend, backend or listen section`);
      return;
    }
    if (!this.arg(w, 1, kw === 'stick' ? 'on, match or store-request' : "'type' and 'size'")) return;
    const text = joinWords(w.slice(1).map((x) => x.text));
    if (kw === 'stick-table') {
      if (s.set.has('stick_table')) this.error(w[0], `only one 'stick-table' per ${s.kind} (HAProxy's rule)`);
      else s.set.set('stick_table', this.entry(w[0], text));
      return;
    }
    if (!this.cap(s, w[0], 'BE', true, 'stick rules pick a server; they belong in a backend or listen section')) return;
    const prev = s.set.get('stick');
    const list = prev ? (prev.value as string[]) : [];
    s.set.set('stick', { value: [...list, text], pos: prev?.pos ?? this.at(w[0]), items: [...(prev?.items ?? []), this.at(w[0])] });
  }

  /**
   * acl / use_backend / http-request / http-response / redirect: the words go to the YAML as rule
   * text (re-quoted so they split back the same); the shared validator parses them.
   */
  protected rule(s: Section, w: Word[]): void {
    const kw = w[0].text;
    if (s.kind === 'defaults') {
      const why = kw === 'use_backend' || kw === 'redirect'
        ? `'${kw}' is not allowed in a defaults section`
        : `'${kw}' in a defaults section is not supported by gatehouse (HAProxy accepts it only in named defaults sections, and never shares their ACLs)`;
      this.error(w[0], `${why}; put it in the frontend, backend or listen section`);
      return;
    }
    const pos = this.at(w[0]);
    if (kw === 'acl') {
      const name = this.arg(w, 1, '<aclname> <criterion> [flags] [operator] <value> ...');
      const crit = name && this.arg(w, 2, '<criterion> [flags] [operator] <value> ...');
      if (!name || !crit) return;
      const list = s.acls.get(name.text) ?? [];
      list.push({ text: joinWords(w.slice(2).map((x) => x.text)), pos });
      s.acls.set(name.text, list);
      return;
    }
    if (kw === 'use_backend') {
      if (!this.cap(s, w[0], 'FE')) return;
      const b = this.arg(w, 1, '<backend> [{if | unless} <condition>]');
      if (!b) return;
      const c = w[2]?.text;
      if (w.length > 3 && (c === 'if' || c === 'unless')) {
        s.ruleLists.use_backend.push({ value: { backend: b.text, [c]: joinWords(w.slice(3).map((x) => x.text)) }, pos, sub: { backend: this.at(b), [c]: this.at(w[3]) } });
      } else if (w.length === 2) {
        s.ruleLists.use_backend.push({ value: { backend: b.text }, pos, sub: { backend: this.at(b) } });
      } else {
        // malformed: hand the words over so the validator says what is wrong
        s.ruleLists.use_backend.push({ value: joinWords(w.slice(1).map((x) => x.text)), pos });
      }
      return;
    }
    if (kw === 'http-request' && w[1]?.text === 'use-service') return this.useService(s, w);
    if ((kw === 'http-request' || kw === 'http-response') && w[1]?.text === 'capture') {
      // captures only feed %hr/%hs of access lines, which gatehouse prints empty
      this.warn(w[1], `'${kw} capture' is ignored: access lines carry no captures`);
      return;
    }
    if ((kw === 'http-request' || kw === 'http-response') && (w[1]?.text === 'set-header' || w[1]?.text === 'add-header') && w[2]?.text.endsWith(':')) {
      this.warn(w[2], `header name '${w[2].text}' ends with ':': it is sent as written, giving "${w[2].text.toLowerCase()}: ..." with two colons, as HAProxy does; remove the colon`);
    }
    const key: RuleListKey = kw === 'http-request' ? 'http_request' : kw === 'http-response' ? 'http_response' : 'redirect';
    if (!this.arg(w, 1, kw === 'redirect' ? 'location, prefix or scheme' : '<action>')) return;
    s.ruleLists[key].push({ value: joinWords(w.slice(1).map((x) => x.text)), pos });
  }

  /**
   * `monitor-uri URI`: HAProxy answers a request for exactly that URI itself, 200 with its
   * "Service ready." page, before any http-request rule; here it becomes the first rule.
   */
  protected monitorUri(s: Section, w: Word[]): void {
    if (!this.cap(s, w[0], 'FE')) return;
    const u = this.arg(w, 1, '<uri>');
    if (!u || !this.noMore(w, 2, 'monitor-uri')) return;
    s.monitorUri = { uri: u.text, pos: this.at(w[0]) };
  }

  /** The monitor-uri rule text, answered before every other request rule. */
  protected monitorRule(uri: string): string {
    return joinWords(['return', 'status', '200', 'content-type', 'text/html', 'string', MONITOR_PAGE, 'hdr', 'cache-control', 'no-cache', 'if', '{', 'url', uri, '}']);
  }

  /**
   * `http-request use-service prometheus-exporter if { path /metrics }`: the stats listener of
   * this proxy serves the Prometheus exposition at that path (src/stats/prometheus.ts). Other
   * services need Lua or SPOE, which gatehouse does not run.
   */
  protected useService(s: Section, w: Word[]): void {
    const svc = this.arg(w, 2, 'a service name such as prometheus-exporter');
    if (!svc) return;
    if (svc.text !== 'prometheus-exporter') {
      this.error(svc, `'http-request use-service ${svc.text}' is not supported by gatehouse: only the built-in prometheus-exporter service is`, 'prometheus-exporter', `'${svc.text}'`);
      return;
    }
    if (s.kind === 'defaults' || s.kind === 'backend') {
      this.error(w[0], "'http-request use-service prometheus-exporter' is supported in a frontend or listen section by gatehouse");
      return;
    }
    // the condition must name one path: if { path /x } (or path -m str, or an acl-less `if { path /x }`)
    const rest = w.slice(3).map((x) => x.text);
    const m = rest.length === 5 && rest[0] === 'if' && rest[1] === '{' && rest[2] === 'path' && rest[4] === '}' ? rest[3] : null;
    if (m === null || !m.startsWith('/')) {
      this.error(w[3] ?? svc, "gatehouse serves the prometheus-exporter at one path: write 'http-request use-service prometheus-exporter if { path /metrics }'", "if { path /PATH }", rest.length ? `'${rest.join(' ')}'` : 'no condition');
      return;
    }
    s.set.set('stats.prometheus', { value: m, pos: this.at(w[5]) });
    if (!s.set.has('stats.enable')) s.set.set('stats.enable', { value: true, pos: this.at(w[0]) });
  }

  protected timeout(s: Section, w: Word[]): void {
    const n = this.arg(w, 1, '<event> <time>');
    if (!n) return;
    const t = TIMEOUT_YAML[n.text];
    if (!t) {
      if (this.accepted('timeout', n, `timeout ${n.text}`)) return;
      if (K.TIMEOUTS.includes(n.text)) this.error(n, `'timeout ${n.text}' is not supported by gatehouse yet`);
      else this.error(n, `unknown timeout '${n.text}'${didYouMean(n.text, K.TIMEOUTS)}`, `one of ${Object.keys(TIMEOUT_YAML).join(', ')}`, `'${n.text}'`);
      return;
    }
    const v = this.arg(w, 2, '<time>');
    if (!v || !this.noMore(w, 3, `timeout ${n.text}`)) return;
    if (t.cap !== 'ALL' && !this.cap(s, n, t.cap, false, undefined, `timeout ${n.text}`)) return;
    s.set.set(`timeout.${t.key}`, this.entry(v));
  }

  protected stats(s: Section, w: Word[]): void {
    const sub = this.arg(w, 1, "a stats keyword such as 'enable', 'uri' or 'auth'");
    if (!sub) return;
    const kw = sub.text;
    const one = (key: string, what: string, conv: (t: string) => string = (t) => t): void => {
      const v = this.arg(w, 2, what);
      if (v && this.noMore(w, 3, `stats ${kw}`)) s.set.set(`stats.${key}`, this.entry(v, conv(v.text)));
    };
    switch (kw) {
      case 'enable':
      case 'hide-version':
        if (this.noMore(w, 2, `stats ${kw}`)) s.set.set(kw === 'enable' ? 'stats.enable' : 'stats.hide_version', this.entry(sub, true));
        return;
      case 'uri':
        return one('uri', '<prefix>');
      case 'realm':
        return one('realm', '<realm>');
      case 'refresh':
        return one('refresh', '<delay>', seconds); // HAProxy reads a bare number as seconds here
      case 'auth': {
        const v = this.arg(w, 2, '<user>:<passwd>');
        if (!v || !this.noMore(w, 3, 'stats auth')) return;
        const prev = s.set.get('stats.auth');
        const list = prev ? [...(prev.value as string[]), v.text] : [v.text];
        const items = prev ? [...(prev.items ?? []), this.at(v)] : [this.at(v)];
        s.set.set('stats.auth', { value: list, pos: prev?.pos ?? this.at(v), items });
        return;
      }
      case 'admin': {
        const cond = this.arg(w, 2, "'if' or 'unless' followed by a condition");
        const c = cond && this.arg(w, 3, '<condition>');
        if (!cond || !c) return;
        if (cond.text !== 'if' || w.length > 4 || (c.text !== 'TRUE' && c.text !== 'LOCALHOST')) {
          this.error(cond, "only 'stats admin if TRUE' (or 'if LOCALHOST') is supported by gatehouse yet: the stats page does not evaluate ACLs");
          return;
        }
        if (c.text === 'LOCALHOST') this.warn(c, 'the LOCALHOST condition is not evaluated: every user allowed on the stats page may use the admin actions');
        s.set.set('stats.admin', this.entry(sub, true));
        return;
      }
      case 'scope':
        this.warn(sub, "'stats scope' is ignored: gatehouse's stats page shows every proxy");
        return;
      case 'show-legends':
      case 'show-node':
      case 'show-desc':
      case 'show-modules':
        // what HAProxy's page shows besides the tables; the stats themselves are unchanged
        this.warn(sub, `'stats ${kw}' is ignored: gatehouse's stats page has its own layout`);
        return;
    }
    if (K.STATS_KEYWORDS.includes(kw)) this.error(sub, `'stats ${kw}' is not supported by gatehouse yet`);
    else this.error(sub, `unknown stats keyword '${kw}'${didYouMean(kw, K.STATS_KEYWORDS)}`, '', `'${kw}'`);
  }

  protected proxyLog(s: Section, w: Word[]): void {
    let item: LogItem | null;
    if (w[1]?.text === 'global') {
      if (!this.noMore(w, 2, 'log global')) return;
      item = { global: true, pos: this.at(w[0]) };
    } else {
      item = this.logLine(w);
    }
    if (!item) return;
    if (s.kind === 'backend') {
      // HAProxy logs traffic through the frontend's targets; a backend's own only see server events.
      if (!item.global) this.warn(w[0], "a backend's 'log' is ignored: gatehouse logs traffic and server events through the frontend and global log targets");
      return;
    }
    s.logs = [...(s.logs ?? []), item];
  }
}
