// HAProxy 2.4+ conditional blocks: `.if COND` / `.elif COND` / `.else` / `.endif`, and the
// `.diag`/`.notice`/`.warning`/`.alert` messages. Conditions are evaluated as HAProxy 2.6 would
// (gatehouse reads 2.6 configurations): `defined(VAR)`, `feature(NAME)`, `streq(a,b)`,
// `strneq(a,b)`, `version_atleast(V)`, `version_before(V)`, a number (0 is false), or nothing
// (false). Lines inside a false branch are not read at all.

/** The HAProxy version gatehouse answers conditions for. */
const VERSION = [2, 6, 0];
/** `feature(NAME)`: what gatehouse provides among HAProxy's build features. */
const FEATURES = new Set(['OPENSSL', 'PROMEX', 'THREAD', 'LINUX_TPROXY', 'GETADDRINFO', 'PCRE2', 'PCRE2_JIT']);

interface Frame {
  /** some branch of this block was taken already */
  taken: boolean;
  /** lines of the current branch are read */
  active: boolean;
  /** `.else` seen */
  sawElse: boolean;
}

export class ConditionStack {
  private readonly frames: Frame[] = [];

  /** Whether ordinary lines are read now. */
  get active(): boolean {
    return this.frames.every((f) => f.active);
  }
  get depth(): number {
    return this.frames.length;
  }

  /**
   * A `.keyword args...` line: updates the stack. Returns an error message, or a message to
   * report (`.warning` etc.) as { level, text }, or null.
   */
  directive(kw: string, args: string[], env: Record<string, string | undefined>): { error: string } | { level: 'warning' | 'error' | 'notice'; text: string } | null {
    const enclosing = this.frames.every((f) => f.active);
    switch (kw) {
      case '.if': {
        const v = enclosing ? evalCondition(args, env) : false;
        if (typeof v === 'string') return { error: v };
        this.frames.push({ taken: v, active: v, sawElse: false });
        return null;
      }
      case '.elif': {
        const f = this.frames[this.frames.length - 1];
        if (!f) return { error: "'.elif' without a matching '.if'" };
        if (f.sawElse) return { error: "'.elif' after '.else'" };
        const outer = this.frames.slice(0, -1).every((x) => x.active);
        if (f.taken || !outer) {
          f.active = false;
          return null;
        }
        const v = evalCondition(args, env);
        if (typeof v === 'string') return { error: v };
        f.active = v;
        f.taken = v;
        return null;
      }
      case '.else': {
        const f = this.frames[this.frames.length - 1];
        if (!f) return { error: "'.else' without a matching '.if'" };
        if (f.sawElse) return { error: "a second '.else' in the same '.if' block" };
        f.sawElse = true;
        f.active = !f.taken;
        f.taken = true;
        return null;
      }
      case '.endif':
        if (!this.frames.pop()) return { error: "'.endif' without a matching '.if'" };
        return null;
      case '.diag':
      case '.notice':
      case '.warning':
      case '.alert':
        if (!enclosing) return null;
        return { level: kw === '.alert' ? 'error' : kw === '.warning' ? 'warning' : 'notice', text: args.join(' ') };
    }
    return { error: `unknown directive '${kw}' (expected .if, .elif, .else, .endif, .diag, .notice, .warning or .alert)` };
  }
}

/** true/false, or an error message. */
function evalCondition(args: string[], env: Record<string, string | undefined>): boolean | string {
  if (args.length === 0) return false;
  if (args.length > 1) return `'.if' takes one condition, found '${args.join(' ')}' (quote it if it holds spaces)`;
  const a = args[0];
  if (/^-?\d+$/.test(a)) return Number(a) !== 0;
  const m = /^([a-z_]+)\((.*)\)$/.exec(a);
  if (!m) return `unknown condition '${a}' (expected defined(), feature(), streq(), strneq(), version_atleast(), version_before() or a number)`;
  const params = m[2] === '' ? [] : m[2].split(',');
  switch (m[1]) {
    case 'defined':
      return params.length === 1 ? env[params[0]] !== undefined : `'defined()' takes one variable name`;
    case 'feature':
      return params.length === 1 ? FEATURES.has(params[0]) : `'feature()' takes one feature name`;
    case 'streq':
    case 'strneq':
      if (params.length !== 2) return `'${m[1]}()' takes two strings`;
      return (params[0] === params[1]) === (m[1] === 'streq');
    case 'version_atleast':
    case 'version_before': {
      if (params.length !== 1 || !/^\d+(\.\d+)*/.test(params[0])) return `'${m[1]}()' takes a version such as 2.4`;
      const cmp = compareVersion(params[0]);
      return m[1] === 'version_atleast' ? cmp >= 0 : cmp < 0;
    }
  }
  return `unknown condition function '${m[1]}()'`;
}

/** >0 when gatehouse's HAProxy version is above `v`, 0 equal, <0 below. */
function compareVersion(v: string): number {
  const parts = (/^\d+(\.\d+)*/.exec(v)![0]).split('.').map(Number);
  for (let i = 0; i < Math.max(parts.length, VERSION.length); i++) {
    const d = (VERSION[i] ?? 0) - (parts[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
