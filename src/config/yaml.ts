// YAML reader: text -> plain document + a SourceMap from key paths to line:col, using the `yaml`
// package's AST (with a LineCounter) so every validation error can point at its source.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { ConfigError, type ConfigIssue, type SourceMap } from './errors';

type Pos = { line: number; col: number };

export function parseYaml(text: string, file: string): { doc: unknown; src: SourceMap; warnings: ConfigIssue[] } {
  const lc = new LineCounter();
  const ydoc = parseDocument(text, {
    lineCounter: lc,
    keepSourceTokens: true,
    merge: true, // `<<: *anchor` is common in hand-written configs
    prettyErrors: false,
    uniqueKeys: true, // a duplicated frontend/backend name must not silently replace the first
    logLevel: 'silent', // problems are reported as ConfigIssues, never printed by the library
  });
  const at = (offset: number): Pos => {
    const p = lc.linePos(offset);
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  };
  const issue = (severity: 'error' | 'warning', offset: number, message: string): ConfigIssue => ({
    severity, file, ...at(offset), path: '', expected: '', found: '', message,
  });

  const errors: ConfigIssue[] = ydoc.errors.map((e) => issue('error', e.pos[0], `YAML syntax: ${e.message}`));
  const warnings: ConfigIssue[] = ydoc.warnings.map((w) => issue('warning', w.pos[0], `YAML: ${w.message}`));

  // Keys must be plain scalars: `[a]: x` or `{a: 1}: x` would be stringified by toJS silently.
  visit(ydoc, {
    Pair(_k, pair) {
      if (pair.key !== null && !isScalar(pair.key) && !isAlias(pair.key)) {
        const range = (pair.key as YamlNode).range;
        errors.push(issue('error', range ? range[0] : 0, 'a map key must be a plain word, not a list or map'));
      }
    },
  });
  if (errors.length) throw new ConfigError(errors);

  let doc: unknown;
  try {
    doc = ydoc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    // e.g. an alias to an anchor defined later, or alias expansion over the resource limit
    throw new ConfigError([issue('error', 0, `YAML: ${(e as Error).message}`)]);
  }
  return { doc, src: yamlSourceMap(ydoc, file, at), warnings };
}

function yamlSourceMap(ydoc: Document.Parsed, file: string, at: (offset: number) => Pos): SourceMap {
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(ydoc) : n);
  const start = (n: unknown): Pos | null => {
    const range = (n as YamlNode | null)?.range;
    return range ? at(range[0]) : null;
  };
  // Walks the AST along `path`; returns the pair holding the last map key (if any) and the node.
  const walk = (path: readonly (string | number)[]): { key: unknown; node: unknown } | null => {
    let node: unknown = ydoc.contents;
    let key: unknown = null;
    for (const seg of path) {
      node = deref(node);
      if (isMap(node)) {
        // Last match wins, like toJS; merged (`<<`) keys are not found here and the caller falls back.
        let found: unknown = undefined;
        for (const item of node.items) {
          if (isPair(item) && isScalar(item.key) && String(item.key.value) === String(seg)) found = item;
        }
        if (found === undefined || !isPair(found)) return null;
        key = found.key;
        node = found.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        if (seg < 0 || seg >= node.items.length) return null;
        key = null;
        node = node.items[seg];
      } else {
        return null;
      }
    }
    return { key, node };
  };
  return {
    file,
    locate(path) {
      const w = walk(path);
      if (!w) return null;
      return start(w.node) ?? start(w.key);
    },
    locateKey(path) {
      const w = walk(path);
      if (!w) return null;
      return start(w.key) ?? start(w.node);
    },
  };
}
