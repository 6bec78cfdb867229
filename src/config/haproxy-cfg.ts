// haproxy.cfg reader: HAProxy 2.6 syntax -> the same YAML-shaped document the YAML reader produces
// (keys of docs/DESIGN.md), plus a SourceMap that points every key path back at the cfg line that
// set it. Values stay as written (durations like "5000ms", numbers as digits): the shared
// validator (validate.ts) checks them and reports through the SourceMap, so both syntaxes give
// the same messages. What only the cfg syntax can get wrong (unknown or unsupported keywords,
// misplaced keywords, quoting) is reported here, in HAProxy's words, with file:line:col.
//
// Inheritance follows HAProxy: a proxy copies the LAST defaults section before it (or the one
// named with `from`); a new defaults section starts from scratch unless it says `from`. When every
// proxy inherits the same defaults, that section becomes the YAML `defaults`; otherwise each
// proxy is emitted fully resolved and the YAML has no `defaults`.
//
// The reader is a chain of classes, one concern per file: cfg-parser-base.ts (state, issues) <-
// cfg-global.ts <- cfg-bind.ts <- cfg-server.ts <- cfg-proxy-options.ts <- cfg-proxy-rules.ts <-
// cfg-emit.ts <- cfg-proxy.ts <- CfgParser here (files, lines, section headers).
import { ConfigError, type ConfigIssue, type SourceMap } from './errors';
import { didYouMean } from './suggest';
import { tokenizeLine, type Word } from './cfg-tokenize';
import * as K from './cfg-keywords';
import { ConditionStack } from './cfg-conditions';
import { PeersBlock } from './stick-cfg';
import { ResolversBlock } from './resolvers-cfg';
import { Kind, Section, pathKey } from './cfg-parser-base';
import { CfgProxy } from './cfg-proxy';

class CfgParser extends CfgProxy {
  parseFile(file: string, text: string): void {
    this.file = file;
    this.current = null; // every file starts outside any section, as in HAProxy
    const lines = text.split(/\r?\n/);
    const conds = new ConditionStack(); // .if blocks do not span files (HAProxy)
    for (let i = 0; i < lines.length; i++) {
      this.lineNo = i + 1;
      const directive = /^\s*\.[a-z]/.test(lines[i]);
      if (!directive && !conds.active) continue; // inside a false .if branch: not read at all
      const cur = this.current as Section | PeersBlock | ResolversBlock | 'global' | 'skip' | null; // (assigned by line() below)
      const section = cur === null || cur === 'skip' ? '' : cur === 'global' ? 'global' : cur.name;
      const t = tokenizeLine(lines[i], { env: this.env, file, line: this.lineNo, section });
      if (t.error) {
        this.issue('error', { file, line: this.lineNo, col: t.error.col }, t.error.message);
        continue;
      }
      for (const u of t.unset) {
        this.issue('warning', { file, line: this.lineNo, col: u.col }, `environment variable "${u.name}" is not set: it expands to nothing`);
      }
      if (t.words.length === 0) continue;
      if (directive) {
        const r = conds.directive(t.words[0].text, t.words.slice(1).map((w) => w.text), this.env);
        if (r === null) continue;
        if ('error' in r) this.error(t.words[0], r.error);
        else this.issue(r.level === 'error' ? 'error' : 'warning', this.at(t.words[0]), r.text);
        continue;
      }
      this.line(t.words);
    }
    if (conds.depth > 0) this.issue('error', { file, line: lines.length, col: 1 }, "missing '.endif' at the end of the file");
  }

  protected line(w: Word[]): void {
    const kw = w[0].text;
    if ((K.SECTIONS as readonly string[]).includes(kw)) return this.sectionHeader(kw as (typeof K.SECTIONS)[number], w);
    if ((K.SECTIONS as readonly string[]).includes(kw) || K.OTHER_SECTIONS.includes(kw) || kw === 'peers' || kw === 'resolvers') this.httpErrors = null;
    if (kw === 'http-errors') {
      const n = this.arg(w, 1, '<name>');
      this.current = 'skip';
      if (!n || !this.noMore(w, 2, 'http-errors')) return;
      if (this.httpErrorSections.has(n.text)) this.error(n, `http-errors section '${n.text}' is declared twice`);
      this.httpErrors = new Map();
      this.httpErrorSections.set(n.text, this.httpErrors);
      return;
    }
    if (kw === 'peers') {
      // stick-table peers (src/config/stick-cfg.ts)
      this.current = PeersBlock.open(w, this.peersBlocks, { at: (x) => this.at(x), error: (x, m) => this.error(x, m), warn: (x, m) => this.warn(x, m) }) ?? 'skip';
      return;
    }
    if (kw === 'resolvers') {
      // DNS discovery (src/config/resolvers-cfg.ts, docs/dns.md)
      this.current = ResolversBlock.open(w, this.resolversBlocks, { at: (x) => this.at(x), error: (x, m) => this.error(x, m), warn: (x, m) => this.warn(x, m) }) ?? 'skip';
      return;
    }
    if (this.httpErrors !== null && this.current === 'skip') {
      if (kw === 'errorfile') this.errorPage(null, w, this.httpErrors);
      else this.error(w[0], `unknown keyword '${kw}' in 'http-errors' section (it holds errorfile lines)`);
      return;
    }
    if (K.OTHER_SECTIONS.includes(kw)) {
      if (this.accepted('section', w[0], `${kw} section`)) {
        this.current = 'skip';
        return;
      }
      this.error(w[0], `section '${kw}' is not supported by gatehouse yet`);
      this.current = 'skip';
      return;
    }
    const cur = this.current;
    if (cur === 'skip') return;
    if (cur === null) {
      this.error(w[0], `unknown keyword '${kw}' out of section${didYouMean(kw, K.SECTIONS)}`, 'a section: global, defaults, frontend, backend or listen', `'${kw}'`);
      return;
    }
    if (cur === 'global') return this.globalLine(w);
    if (cur instanceof PeersBlock || cur instanceof ResolversBlock) return cur.line(w);
    this.proxyLine(cur, w);
  }

  protected sectionHeader(kw: (typeof K.SECTIONS)[number], w: Word[]): void {
    this.httpErrors = null;
    if (kw === 'global') {
      this.current = 'global';
      return;
    }
    const kind = kw as Kind;
    let name = '';
    let i = 1;
    if (w.length > 1 && w[1].text !== 'from') {
      name = w[1].text;
      i = 2;
    } else if (kind !== 'defaults') {
      this.arg(w, 1, `<name> as an argument`);
      this.current = 'skip';
      return;
    }
    let parent: Section | null = kind === 'defaults' ? null : this.lastDefaults;
    if (i < w.length) {
      if (w[i].text !== 'from') {
        this.error(w[i], `unexpected '${w[i].text}' after the ${kind} name`, `'from <defaults name>' or nothing`);
      } else {
        const ref = this.arg(w, i + 1, '<defaults name>');
        if (ref) {
          const d = this.namedDefaults.get(ref.text);
          if (d) parent = d;
          else this.error(ref, `defaults section '${ref.text}' not found${didYouMean(ref.text, this.namedDefaults.keys())}`);
          this.noMore(w, i + 2, `${kind} ${name} from`);
        }
      }
    }
    const pos = this.at(name ? w[1] : w[0]);
    const s = new Section(kind, name, pos, parent);
    this.current = s;
    if (kind === 'defaults') {
      this.lastDefaults = s;
      if (name) this.namedDefaults.set(name, s);
      return;
    }
    const clash = (kind !== 'backend' ? this.feNames.get(name) : undefined) ?? (kind !== 'frontend' ? this.beNames.get(name) : undefined);
    if (clash) {
      this.error(w[1], `${kind} '${name}' has the same name as ${clash.kind} '${name}' declared at ${clash.pos.file}:${clash.pos.line}`);
      this.current = 'skip';
      return;
    }
    if (kind !== 'backend') this.feNames.set(name, s);
    if (kind !== 'frontend') this.beNames.set(name, s);
    this.proxies.push(s);
  }
}


/**
 * Reads haproxy.cfg files (in order, like several `-f`) into the YAML-shaped document for
 * buildModel, without throwing: lines that could not be understood are left out of the document
 * and reported in `errors`, so a check can still run the validator over the rest and report
 * everything in one run.
 */
export function readHaproxyCfg(
  inputs: { file: string; text: string }[],
  env: Record<string, string | undefined> = process.env,
): { doc: unknown; src: SourceMap; errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const p = new CfgParser(env);
  for (const { file, text } of inputs) p.parseFile(file, text);
  const doc = p.buildDoc();
  const positions = p.positions;
  const src: SourceMap = {
    file: inputs[0]?.file ?? '(none)',
    locate(path) {
      const pos = positions.get(pathKey(path));
      return pos ? { file: pos.file, line: pos.line, col: pos.col } : null;
    },
  };
  return { doc, src, errors: p.errors, warnings: p.warnings };
}

/**
 * Reads haproxy.cfg files into the YAML-shaped document for buildModel. Throws ConfigError
 * (errors first, then warnings) when a line cannot be understood.
 */
export function parseHaproxyCfg(
  inputs: { file: string; text: string }[],
  env: Record<string, string | undefined> = process.env,
): { doc: unknown; src: SourceMap; warnings: ConfigIssue[] } {
  const r = readHaproxyCfg(inputs, env);
  if (r.errors.length) throw new ConfigError([...r.errors, ...r.warnings]);
  return { doc: r.doc, src: r.src, warnings: r.warnings };
}
