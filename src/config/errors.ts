// Configuration problems, reported with file:line:col and the key path. Both readers (YAML and
// haproxy.cfg) and the shared validator report through these types, so the CLI prints one format.

export interface ConfigIssue {
  severity: 'error' | 'warning';
  file: string;
  /** 1-based; 0 when the position is unknown (e.g. an unreadable file) */
  line: number;
  col: number;
  /** key path, e.g. backends.http_back.servers[0].address; '' for file-level problems */
  path: string;
  expected: string;
  found: string;
  message: string;
}

/** Where a key path of the YAML-shaped document came from. */
export interface SourceMap {
  file: string;
  /** position of the value at `path` (or of its key when the value is empty); null if unknown */
  locate(path: (string | number)[]): { file?: string; line: number; col: number } | null;
  /**
   * Optional: position of the KEY at `path` (for unknown-key errors). Readers without a
   * key/value distinction (haproxy.cfg) leave it out and `locate` is used instead.
   */
  locateKey?(path: (string | number)[]): { file?: string; line: number; col: number } | null;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n') || 'invalid configuration');
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `FILE:LINE:COL: error: PATH: MESSAGE (expected X, found Y)`; parts that are unknown are left out. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
  const path = i.path ? `${i.path}: ` : '';
  let tail = '';
  if (i.expected && i.found) tail = ` (expected ${i.expected}, found ${i.found})`;
  else if (i.expected) tail = ` (expected ${i.expected})`;
  else if (i.found) tail = ` (found ${i.found})`;
  return `${where}: ${i.severity}: ${path}${i.message}${tail}`;
}

/** Human wording of a value for the "found" part of a message. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Uint8Array) return 'binary data';
  if (typeof v === 'object') return 'a map';
  return typeof v;
}

/** Key path as text: names that are not plain identifiers are bracket-quoted. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
