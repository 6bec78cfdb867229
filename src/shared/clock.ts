// The clock every per-request deadline runs on (timeouts, queue waits, idle pooled connections,
// tunnel close waits). Monotonic: a wall-clock step (NTP setting the time on a freshly booted
// machine, an operator's `date -s`) must neither expire every request at once nor stretch a
// timeout. Only differences mean anything; log dates keep using Date.now().
export function monoNow(): number {
  return performance.now();
}
