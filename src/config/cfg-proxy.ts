// haproxy.cfg reader: one line of a defaults/frontend/backend/listen section, dispatched by keyword.
import { didYouMean } from './suggest';
import { type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { joinWords } from '../acl/words';
import { cfgTcpCheckLine, cfgTcpRequestLine } from './tcp-cfg';
import { Section, unsupported } from './cfg-parser-base';
import { CfgEmit } from './cfg-emit';

export class CfgProxy extends CfgEmit {
  protected proxyLine(s: Section, w: Word[]): void {
    const kw = w[0].text;
    switch (kw) {
      case 'bind':
        return this.bind(s, w);
      case 'mode': {
        const m = this.arg(w, 1, '<mode>');
        if (!m || !this.noMore(w, 2, kw)) return;
        if (m.text === 'http' || m.text === 'tcp') s.set.set('mode', this.entry(m));
        else if (m.text === 'health') this.error(m, `mode '${m.text}' is not supported by gatehouse yet`, 'http or tcp', `'${m.text}'`);
        else this.error(m, `unknown mode '${m.text}'${didYouMean(m.text, ['http', 'tcp', 'health'])}`, 'http, tcp or health', `'${m.text}'`);
        return;
      }
      case 'timeout':
        return this.timeout(s, w);
      case 'balance':
        return this.balance(s, w);
      case 'hash-type': {
        // hash-type <map-based|consistent> [<function>] [<modifier>]: HAProxy's own hashing
        if (!this.cap(s, w[0], 'BE')) return;
        const m = this.arg(w, 1, 'map-based or consistent');
        if (!m) return;
        if (m.text !== 'map-based' && m.text !== 'consistent') {
          this.error(m, `unknown hash-type method '${m.text}'${didYouMean(m.text, ['map-based', 'consistent'])}`, 'map-based or consistent', `'${m.text}'`);
          return;
        }
        const fn = w[2];
        if (fn && !['sdbm', 'djb2', 'wt6', 'crc32', 'none'].includes(fn.text)) {
          this.error(fn, `unknown hash function '${fn.text}'`, 'sdbm, djb2, wt6 or crc32', `'${fn.text}'`);
          return;
        }
        if (fn?.text === 'none') {
          this.error(fn, "hash function 'none' (a key already hashed by a converter) is not supported by gatehouse yet");
          return;
        }
        const mod = w[3];
        if (mod && mod.text !== 'avalanche') {
          this.error(mod, `unknown hash-type modifier '${mod.text}'`, 'avalanche', `'${mod.text}'`);
          return;
        }
        if (!this.noMore(w, 4, 'hash-type')) return;
        // HAProxy: 'consistent' alone means sdbm with avalanche; a named function has none unless said
        const aval = mod !== undefined || (fn === undefined && m.text === 'consistent');
        s.set.set('hash_type', this.entry(m, [m.text, fn?.text ?? 'sdbm', ...(aval ? ['avalanche'] : [])].join(' ')));
        return;
      }
      case 'server':
        return this.server(s, w);
      case 'server-template':
        return this.serverTemplate(s, w);
      case 'default-server':
        if (!this.cap(s, w[0], 'BE')) return;
        this.serverOptions(w, 1, s.defaultServer);
        return;
      case 'option':
        return this.option(s, w, 1, true);
      case 'no':
        if (w[1]?.text === 'option') return this.option(s, w, 2, false);
        if (w[1]?.text === 'log' && this.noMore(w, 2, 'no log')) {
          s.logs = [];
          return;
        }
        this.error(w[0], "'no' must be followed by 'option' or 'log'", "'no option <name>' or 'no log'");
        return;
      case 'http-check':
        return this.httpCheck(s, w);
      case 'tcp-check':
        return cfgTcpCheckLine(this.tcpSink(s), w);
      case 'tcp-request':
        return cfgTcpRequestLine(this.tcpSink(s), w);
      case 'retries': {
        if (!this.cap(s, w[0], 'BE')) return;
        const v = this.arg(w, 1, '<number>');
        if (v && this.noMore(w, 2, kw)) s.set.set('retries', this.entry(v));
        return;
      }
      case 'retry-on': {
        // checked by the validator (retry_on), from the first keyword's position
        if (!this.cap(s, w[0], 'BE')) return;
        const v = this.arg(w, 1, '<keywords>');
        if (v) s.set.set('retry_on', this.entry(v, w.slice(1).map((x) => x.text).join(' ')));
        return;
      }
      case 'cookie':
        return this.cookie(s, w);
      case 'stats':
        return this.stats(s, w);
      case 'log':
        return this.proxyLog(s, w);
      case 'maxconn': {
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<number>');
        if (v && this.noMore(w, 2, kw)) s.set.set('maxconn', this.entry(v));
        return;
      }
      case 'default_backend': {
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<backend name>');
        if (v && this.noMore(w, 2, kw)) s.set.set('default_backend', this.entry(v));
        return;
      }
      case 'stick-table':
      case 'stick':
        return this.stickLine(s, w);
      case 'acl':
      case 'use_backend':
      case 'http-request':
      case 'http-response':
      case 'redirect':
        return this.rule(s, w);
      case 'log-format': {
        // HAProxy's log variables are rendered by src/log/custom-format.ts (the validator checks them)
        if (!this.cap(s, w[0], 'FE')) return;
        const v = this.arg(w, 1, '<format string>');
        if (!v) return;
        // unquoted formats arrive as several words: HAProxy joins them with single spaces
        s.set.set('log_format', { value: w.slice(1).map((x) => x.text).join(' '), pos: this.at(v) });
        return;
      }
      case 'http-after-response': {
        // runs after the http-response rules, on every answer; here it joins the http-response
        // list (last), so gatehouse's own answers (deny, redirect, errors) do not get it
        if (s.kind === 'defaults') return this.rule(s, w);
        if (!this.arg(w, 1, '<action>')) return;
        this.warn(w[0], "'http-after-response' runs as a last http-response rule: it applies to the server's responses, not to the answers gatehouse makes itself (deny, redirect, error pages)");
        s.afterResponse.push({ value: joinWords(w.slice(1).map((x) => x.text)), pos: this.at(w[0]) });
        return;
      }
      case 'description':
        return; // a label for the stats page of HAProxy; harmless to drop
      case 'monitor-uri':
        return this.monitorUri(s, w);
      case 'errorfile':
      case 'errorloc':
      case 'errorloc302':
      case 'errorloc303':
        return this.errorPage(s, w);
      case 'errorfiles': {
        const n = this.arg(w, 1, '<http-errors section name> [<code> ...]');
        if (!n) return;
        s.errorfilesRefs.push({ name: n.text, pos: this.at(n), codes: w.slice(2).map((c) => c.text) });
        // a section declared above applies now (proxies copy their defaults when they start)
        if (this.httpErrorSections.has(n.text)) this.resolveErrorfiles(s);
        return;
      }
      case 'capture':
        // only what the access log shows; traffic is the same
        this.warn(w[0], "'capture' is ignored: access lines do not carry captured headers or cookies");
        return;
      case 'filter': {
        // compression and trace only change what is logged or sent compressed; others (spoe,
        // bwlim, cache, fcgi-app) change traffic and are refused
        const f = this.arg(w, 1, '<filter name>');
        if (!f) return;
        if (f.text === 'compression' || f.text === 'trace') {
          this.warn(w[0], `'filter ${f.text}' is ignored: ${f.text === 'compression' ? 'gatehouse passes responses as the server sent them (compress at the server)' : 'gatehouse has no trace filter'}`);
          return;
        }
        this.error(f, `'filter ${f.text}' is not supported by gatehouse`, 'compression or trace (both ignored)', `'${f.text}'`);
        return;
      }
      case 'compression':
        this.warn(w[0], "'compression' is ignored: gatehouse passes responses as the server sent them (compress at the server)");
        return;
      case 'http-reuse':
        // gatehouse always reuses idle server connections after a clean response (HAProxy's 'always')
        if (!this.cap(s, w[0], 'BE')) return;
        this.warn(w[0], "'http-reuse' is ignored: gatehouse reuses an idle server connection whenever the previous response ended cleanly");
        return;
    }
    if (this.accepted('proxy', w[0])) return;
    const removed = K.PROXY_REMOVED[kw];
    if (removed !== undefined) {
      this.error(w[0], `'${kw}' was removed from HAProxy (use '${removed}') and is not supported`);
      return;
    }
    if (K.PROXY_KEYWORDS.includes(kw)) {
      this.error(w[0], unsupported(kw));
      return;
    }
    const section = s.kind === 'defaults' ? 'defaults' : s.kind;
    this.error(w[0], `unknown keyword '${kw}' in '${section}' section${didYouMean(kw, K.PROXY_KEYWORDS)}`, '', `'${kw}'`);
  }
}
