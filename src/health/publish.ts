// Turns check results into server state: the rise/fall counter, UP/DOWN transitions, the
// SharedArrayBuffer cells the workers and the stats page read, and HAProxy-style log lines.
// Only the health thread writes S_HEALTH; it does so with setAndBump so workers rebuild.
import {
  ADMIN_DRAIN,
  ADMIN_MAINT,
  B_LAST_CHANGE,
  BACKEND_STRIDE,
  S_ACTIVE,
  S_ADMIN,
  S_CHECK_CODE,
  S_CHECK_DURATION,
  S_CHECK_HEALTH,
  S_CHECK_STATUS,
  S_CHKDOWN,
  S_CHKFAIL,
  S_DOWNTIME,
  S_HEALTH,
  S_LAST_CHANGE,
  S_OBSERVE_ERRORS,
  S_QUEUE,
  SERVER_STRIDE,
  SharedState,
  checkStatusIndex,
} from '../shared/state';
import type { CheckResult } from './check-result';
import { passed } from './check-result';
import type { BackendCounts, LogLevel } from './log-lines';
import { backendDownLine, serverDownLine, serverUpLine } from './log-lines';
import { afterFailure, afterSuccess, maxHealth } from './rise-fall';
import type { CheckTarget, ServerSlot } from './targets';

export type LogFn = (level: LogLevel, line: string) => void;

/** The health thread's view of one checked server. */
export interface ServerHealth {
  readonly target: CheckTarget;
  /** HAProxy's check->health, 0..rise+fall-1 (mirrored in S_CHECK_HEALTH) */
  health: number;
  /** mirrored in S_HEALTH */
  up: boolean;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

export class HealthPublisher {
  constructor(
    private readonly state: SharedState,
    private readonly slots: ServerSlot[][],
    private readonly log: LogFn,
  ) {}

  /**
   * Picks up where the shared state stands: a fresh buffer (never checked) starts like HAProxy's
   * default init-state "up" (UP, health = rise: the first failed check takes it DOWN); a thread
   * restarted after a crash resumes from the counter it had published.
   */
  restore(t: CheckTarget): ServerHealth {
    const st = this.state;
    const up = st.get(t.index, S_HEALTH) === 1;
    let health: number;
    if (st.get(t.index, S_CHECK_STATUS) === 0) {
      health = t.rise;
      st.set(t.index, S_CHECK_STATUS, checkStatusIndex('INI'));
      if (!up) health = 0;
    } else {
      health = Math.min(Math.max(st.get(t.index, S_CHECK_HEALTH), 0), maxHealth(t));
      // Keep counter and state consistent whatever the buffer says.
      if (up && health < t.rise) health = t.rise;
      if (!up && health >= t.rise) health = t.rise - 1;
    }
    st.set(t.index, S_CHECK_HEALTH, health);
    return { target: t, health, up };
  }

  /** A probe finished. */
  recordProbe(sh: ServerHealth, r: CheckResult): void {
    const t = sh.target;
    this.storeCheck(t, r);
    if (passed(r.status)) {
      sh.health = afterSuccess(sh.health, t);
      // HAProxy clears the live-traffic error streak when a check passes.
      if (t.observe !== 'none') Atomics.store(this.state.servers, t.index * SERVER_STRIDE + S_OBSERVE_ERRORS, 0);
    } else {
      this.countFailure(sh);
      sh.health = afterFailure(sh.health, t);
    }
    this.settle(sh, r);
  }

  /**
   * Live traffic reached `errors` consecutive failures (>= error_limit): apply on_error like
   * HAProxy's health_adjust(). `fastinter` changes only the schedule (the caller does that).
   */
  recordAnalysis(sh: ServerHealth, errors: number): void {
    const t = sh.target;
    if (t.onError === 'fastinter') return;
    const last = t.observe === 'layer4' ? ', last one was: L4 unsuccessful connection' : '';
    const r: CheckResult = { status: 'HANA', code: 0, info: `Detected ${errors} consecutive errors${last}`, durationMs: -1 };
    // HAProxy keeps the last probe's code; the status and (absent) duration are the analysis'.
    this.state.set(t.index, S_CHECK_STATUS, checkStatusIndex('HANA'));
    this.state.set(t.index, S_CHECK_DURATION, -1);
    if (t.onError === 'mark-down') sh.health = Math.min(sh.health, t.rise);
    // sudden-death: one failure short of DOWN ("pre-fatal"), then the failure itself below.
    if (t.onError === 'sudden-death' && sh.health > t.rise) sh.health = t.rise + 1;
    this.countFailure(sh);
    sh.health = afterFailure(sh.health, t);
    this.settle(sh, r);
  }

  private countFailure(sh: ServerHealth): void {
    // HAProxy counts chkfail only while the server is not already fully down.
    if (sh.health > 0) Atomics.add(this.state.servers, sh.target.index * SERVER_STRIDE + S_CHKFAIL, 1);
  }

  private storeCheck(t: CheckTarget, r: CheckResult): void {
    this.state.set(t.index, S_CHECK_STATUS, checkStatusIndex(r.status));
    this.state.set(t.index, S_CHECK_CODE, r.code);
    this.state.set(t.index, S_CHECK_DURATION, r.durationMs);
  }

  private settle(sh: ServerHealth, r: CheckResult): void {
    this.state.set(sh.target.index, S_CHECK_HEALTH, sh.health);
    if (sh.up && sh.health === 0) this.goDown(sh, r);
    else if (!sh.up && sh.health >= sh.target.rise) this.goUp(sh, r);
  }

  private counts(backend: number): BackendCounts {
    const c = { active: 0, backup: 0 };
    for (const s of this.slots[backend] ?? []) {
      if (!this.state.usable(s.index)) continue;
      if (s.backup) c.backup++;
      else c.active++;
    }
    return c;
  }

  private goDown(sh: ServerHealth, r: CheckResult): void {
    const t = sh.target;
    const before = this.counts(t.backend);
    this.state.setAndBump(t.index, t.backend, S_HEALTH, 0);
    sh.up = false;
    Atomics.add(this.state.servers, t.index * SERVER_STRIDE + S_CHKDOWN, 1);
    const admin = this.state.get(t.index, S_ADMIN);
    // In maintenance the admin already announced it; the state is still kept true underneath.
    if (admin === ADMIN_MAINT) return;
    const after = this.counts(t.backend);
    const line = serverDownLine(t, r, after, this.state.get(t.index, S_ACTIVE), this.state.get(t.index, S_QUEUE));
    // HAProxy: an alert, except for a server that was only draining.
    this.log(admin === ADMIN_DRAIN ? 'notice' : 'alert', line);
    if (before.active + before.backup > 0 && after.active + after.backup === 0) {
      Atomics.store(this.state.backends, t.backend * BACKEND_STRIDE + B_LAST_CHANGE, nowSeconds());
      this.log('alert', backendDownLine(t.backendName));
    }
  }

  private goUp(sh: ServerHealth, r: CheckResult): void {
    const t = sh.target;
    const before = this.counts(t.backend);
    // S_DOWNTIME holds finished down periods; the one ending now started at S_LAST_CHANGE.
    const downSince = this.state.get(t.index, S_LAST_CHANGE);
    const now = nowSeconds();
    if (downSince > 0 && now > downSince) Atomics.add(this.state.servers, t.index * SERVER_STRIDE + S_DOWNTIME, now - downSince);
    this.state.setAndBump(t.index, t.backend, S_HEALTH, 1);
    sh.up = true;
    if (this.state.get(t.index, S_ADMIN) === ADMIN_MAINT) return;
    const after = this.counts(t.backend);
    if (before.active + before.backup === 0 && after.active + after.backup > 0) {
      Atomics.store(this.state.backends, t.backend * BACKEND_STRIDE + B_LAST_CHANGE, now);
    }
    this.log('notice', serverUpLine(t, r, after, this.state.get(t.index, S_QUEUE)));
  }
}
