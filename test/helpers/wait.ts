// Waiting for something to happen instead of sleeping for a guessed time: poll a condition
// until it holds, failing with what was awaited when it does not within the time allowed.
import type { Proc } from './net';

/**
 * Poll `cond` every `intervalMs` until it is true; returns the ms waited. Throws after
 * `timeoutMs`, naming `what` (a function: evaluated then, e.g. to include the process output).
 */
export async function waitFor(
  what: string | (() => string),
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 10000,
  intervalMs = 10,
): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return Date.now() - t0;
}

/** Occurrences of `pattern` in a process's output so far. */
export function countInOutput(p: Proc, pattern: RegExp): number {
  return (p.output().match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g')) ?? []).length;
}

/** Wait until the process has printed `pattern` at least `count` times (its output in the error). */
export async function waitForOutput(p: Proc, pattern: RegExp, count = 1, timeoutMs = 10000): Promise<void> {
  await waitFor(() => `${count} × ${pattern} in the output:\n${p.output()}`, () => countInOutput(p, pattern) >= count, timeoutMs, 20);
}
