// Validator primitives: Checker reads typed values at a key path and records issues with their
// source position; small shape helpers; the inheritable Settings of a section.
import {
  type BackendConfig,
  type CustomErrorPage,
  type BalanceAlgorithm,
  type ForwardForOptions,
  type CookieConfig,
  type HealthCheckConfig,
  type LogTarget,
  type TcpCheckConfig,
  type Timeouts,
} from './model';
import { type ConfigIssue, describeValue, formatPath, type SourceMap } from './errors';
import { DURATION_EXPECTED, parseDuration } from './duration';
import { didYouMean } from './suggest';
import { Path, Obj, PLACEMENT, forwardfor } from './validate-keys';


export class Checker {
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  constructor(private readonly src: SourceMap) {}

  /** Position of `path`, walking up to the nearest parent the source map knows. */
  private where(path: Path, atKey: boolean): { file: string; line: number; col: number } {
    for (let p = path; ; p = p.slice(0, -1)) {
      const pos = (atKey && p === path && this.src.locateKey ? this.src.locateKey(p) : null) ?? this.src.locate(p);
      if (pos) return { file: pos.file ?? this.src.file, line: pos.line, col: pos.col };
      if (p.length === 0) return { file: this.src.file, line: 0, col: 0 };
    }
  }

  add(severity: 'error' | 'warning', path: Path, message: string, expected = '', found = '', atKey = false): void {
    const issue: ConfigIssue = { severity, ...this.where(path, atKey), path: formatPath(path), expected, found, message };
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }
  error(path: Path, message: string, expected = '', found = ''): void {
    this.add('error', path, message, expected, found);
  }
  warn(path: Path, message: string, atKey = false): void {
    this.add('warning', path, message, '', '', atKey);
  }
  /** Reports a wrong value; always returns undefined so readers can `return c.bad(...)`. */
  bad(path: Path, expected: string, value: unknown, message = 'invalid value'): undefined {
    this.error(path, message, expected, describeValue(value));
    return undefined;
  }

  /** A map, or null after reporting. `null`/absent reads as an empty map when `emptyOk`. */
  map(v: unknown, path: Path, what: string, emptyOk = true): Obj | null {
    if ((v === null || v === undefined) && emptyOk) return {};
    if (isObj(v)) return v;
    this.bad(path, what, v);
    return null;
  }

  /** Reports every key of `obj` not in `allowed`, with a did-you-mean. */
  keys(obj: Obj, path: Path, allowed: readonly string[], section: string): void {
    const set = new Set(allowed);
    for (const k of Object.keys(obj)) {
      if (set.has(k)) continue;
      const home = has(PLACEMENT, k) ? PLACEMENT[k] : undefined;
      const msg = home
        ? `"${k}" is not allowed in ${section}; it belongs in ${home}`
        : `unknown key "${k}" in ${section}${didYouMean(k, allowed)}`;
      const expected = home ? '' : allowed.length <= 12 ? `one of ${allowed.join(', ')}` : `a key valid in ${section}, see docs/configuration.md`;
      this.add('error', [...path, k], msg, expected, home ? '' : `"${k}"`, true);
    }
  }

  bool(o: Obj, k: string, path: Path): boolean | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    if (typeof v === 'boolean') return v;
    // YAML 1.2 reads yes/no/on/off as strings; say so rather than leave the user puzzled.
    const hint = typeof v === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(v) ? 'invalid value (write true or false without quotes)' : 'invalid value';
    return this.bad([...path, k], 'true or false', v, hint);
  }

  int(o: Obj, k: string, path: Path, min: number, max: number): number | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    // Numeric strings are accepted: the haproxy.cfg reader hands over words as written.
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d{1,16}\s*$/.test(v) ? Number(v) : NaN;
    const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    if (!Number.isInteger(n)) return this.bad([...path, k], expected, v);
    if (n < min || n > max) return this.bad([...path, k], expected, v, 'out of range');
    return n;
  }

  duration(o: Obj, k: string, path: Path, min = 0): number | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    const ms = parseDuration(v);
    if (ms === null) return this.bad([...path, k], DURATION_EXPECTED, v, 'invalid duration');
    if (ms < min) return this.bad([...path, k], `at least ${min}ms`, v, 'duration too short');
    return ms;
  }

  str(o: Obj, k: string, path: Path, opts: { re?: RegExp; expected?: string } = {}): string | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    const expected = opts.expected ?? 'a non-empty string';
    if (typeof v !== 'string' || v === '') return this.bad([...path, k], expected, v);
    if (opts.re && !opts.re.test(v)) return this.bad([...path, k], expected, v);
    return v;
  }

  /** A string, or null when the key is explicitly null/false (used to clear an inherited value). */
  nullableStr(o: Obj, k: string, path: Path, opts: { re?: RegExp; expected?: string } = {}): string | null | undefined {
    if (has(o, k) && (o[k] === null || o[k] === false)) return null;
    return this.str(o, k, path, opts);
  }

  oneOf<T extends string>(o: Obj, k: string, path: Path, values: readonly T[]): T | undefined {
    if (!has(o, k)) return undefined;
    const v = o[k];
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' ? didYouMean(v, values) : '';
    this.error([...path, k], `invalid value${hint}`, `one of ${values.join(', ')}`, describeValue(v));
    return undefined;
  }
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
export function has(o: Obj, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}
/** A list, or a single item standing for a list of one. */
export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}


// ---- sections ----

/** What a defaults/frontend/backend/listen section sets of the inheritable keys. */
export interface Settings {
  mode?: 'http' | 'tcp';
  tcplog?: boolean;
  /** null: explicitly none (clears an inherited one) */
  tcpCheck?: TcpCheckConfig | null;
  timeouts: Partial<Timeouts>;
  retries?: number;
  retryOn?: number;
  redispatch?: boolean;
  forwardfor?: boolean;
  forwardforOptions?: ForwardForOptions;
  httplog?: boolean;
  logs?: LogTarget[] | 'global';
  logFormat?: 'httplog' | 'json';
  /** a HAProxy log-format string (null: explicitly none, from httplog/json) */
  logFormatCustom?: string | null;
  dontlognull?: boolean;
  maxconn?: number;
  balance?: { alg: BalanceAlgorithm; header: string | null };
  hashType?: BackendConfig['hashType'];
  errorPages?: Record<string, CustomErrorPage>;
  health: Partial<HealthCheckConfig>;
  persist?: boolean;
  allbackups?: boolean;
  /** null: explicitly no cookie (clears an inherited one) */
  cookie?: CookieConfig | null;
  defaultBackend?: { name: string; path: Path };
}

export type SectionKind = 'defaults' | 'frontend' | 'backend' | 'listen';
