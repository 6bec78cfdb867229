// HAProxy's period-based frequency counter (freq_ctr.h/freq_ctr.c, 2.6) on three Float64 slots
// of a stick-table entry: the start tick of the current period, the events of the current
// period and those of the previous one. The rate read is the current events plus the previous
// period's weighted by the part of it still inside the sliding window. Callers hold the
// entry's bucket lock, so there is no rotation flag as in HAProxy's lock-free version.

/** slot offsets inside a counter */
export const FQ_TICK = 0;
export const FQ_CURR = 1;
export const FQ_PREV = 2;

/** Adds `inc` events at tick `now` (ms, 32-bit wrapping as HAProxy's ticks). */
export function freqUpdate(f: Float64Array, at: number, period: number, now: number, inc: number): void {
  let tick = f[at + FQ_TICK];
  if ((now - tick) >>> 0 < period) {
    f[at + FQ_CURR] += inc;
    return;
  }
  // rotate: the current period becomes the previous one
  f[at + FQ_PREV] = f[at + FQ_CURR];
  f[at + FQ_CURR] = inc;
  tick = (tick + period) | 0;
  if ((now - tick) >>> 0 >= period) {
    // at least two periods went by
    f[at + FQ_PREV] = 0;
    tick = now;
  }
  f[at + FQ_TICK] = tick;
}

/** Events over the last period (read_freq_ctr_period, with HAProxy's low-rate flapping correction). */
export function freqRead(f: Float64Array, at: number, period: number, now: number): number {
  let curr = f[at + FQ_CURR];
  let past = f[at + FQ_PREV];
  let remain = (f[at + FQ_TICK] + period - now) | 0;
  if (remain < 0) {
    remain += period;
    past = remain >= 0 ? curr : 0;
    curr = 0;
  }
  if (curr === 0 && past <= 1) return past;
  return Math.floor((past * remain + curr * period) / period);
}
