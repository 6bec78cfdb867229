// HAProxy time values: an integer with an optional unit (us, ms, s, m, h, d); a bare number is
// milliseconds. Results are whole milliseconds (microseconds round up, so 1us is not "no timeout").

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Largest value a Node timer accepts (2^31-1 ms, about 24.8 days); HAProxy has the same ceiling. */
export const MAX_DURATION_MS = 2_147_483_647;

export const DURATION_EXPECTED = 'a duration such as 500ms, 5s, 2m, 1h or a number of milliseconds';

/** Milliseconds, or null when `v` is not a valid duration (negative, fractional, unknown unit, too large). */
export function parseDuration(v: unknown): number | null {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return null;
    ms = v;
  } else if (typeof v === 'string') {
    const m = /^\s*(\d{1,15})\s*(us|ms|s|m|h|d)?\s*$/.exec(v);
    if (!m) return null;
    ms = Math.ceil(Number(m[1]) * UNIT_MS[m[2] ?? 'ms']);
  } else {
    return null;
  }
  return ms <= MAX_DURATION_MS ? ms : null;
}
