// Runs the probes on their timers and the passive-analysis poll. One probe in flight per server;
// the next one is planned when the previous ends (HAProxy does the same), at inter, fastinter or
// downinter depending on the rise/fall counter. First probes are spread over the smallest
// interval so N servers do not fire at once.
import type { Config } from '../config/model';
import { S_OBSERVE_ERRORS, SERVER_STRIDE, SharedState } from '../shared/state';
import type { CheckResult } from './check-result';
import { errnoText } from './check-result';
import { probe } from './probe';
import { HealthPublisher, type LogFn, type ServerHealth } from './publish';
import { nextInterval } from './rise-fall';
import { backendSlots, checkTargets } from './targets';
import { AgentScheduler } from './agent';

/** How often live-traffic error counters (observe) are read. */
export const OBSERVE_POLL_MS = 100;

interface Slot {
  sh: ServerHealth;
  timer: NodeJS.Timeout | null;
  /** Date.now() the timer fires at; 0 while a probe runs */
  dueAt: number;
  running: boolean;
}

export class HealthScheduler {
  private readonly slots: Slot[];
  private readonly observed: Slot[];
  private readonly publisher: HealthPublisher;
  private readonly abort = new AbortController();
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();
  /** agent-check polls (src/health/agent.ts) */
  private readonly agents: AgentScheduler;

  constructor(config: Config, private readonly state: SharedState, log: LogFn) {
    this.publisher = new HealthPublisher(state, backendSlots(config), log);
    this.slots = checkTargets(config).map((t) => ({ sh: this.publisher.restore(t), timer: null, dueAt: 0, running: false }));
    const byIndex = new Map(this.slots.map((s) => [s.sh.target.index, s]));
    this.agents = new AgentScheduler(config, state, log, (i) => byIndex.get(i)?.sh.up ?? null);
    // HAProxy ignores observe on servers without checks: nothing would ever bring them back.
    this.observed = this.slots.filter((s) => s.sh.target.observe !== 'none');
  }

  start(): void {
    this.agents.start();
    const n = this.slots.length;
    if (n === 0) return;
    // HAProxy start_checks(): server i of n first fires at mininter * i / n.
    const minInter = Math.min(...this.slots.map((s) => s.sh.target.inter));
    this.slots.forEach((s, i) => this.plan(s, Math.floor((minInter * i) / n)));
    if (this.observed.length > 0) {
      this.poll = setInterval(() => this.pollObserve(), OBSERVE_POLL_MS);
      this.poll.unref();
    }
  }

  /** Cancels timers and in-flight probes; resolves when nothing of ours is left running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    for (const s of this.slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
    }
    this.abort.abort();
    await Promise.all([...this.inflight, this.agents.stop()]);
  }

  private plan(s: Slot, delayMs: number): void {
    if (this.stopped) return;
    if (s.timer) clearTimeout(s.timer);
    s.dueAt = Date.now() + delayMs;
    s.timer = setTimeout(() => this.fire(s), delayMs);
    // The thread's message port keeps it alive; timers alone must never hold it open.
    s.timer.unref();
  }

  private fire(s: Slot): void {
    s.timer = null;
    if (this.stopped || s.running) return;
    s.running = true;
    s.dueAt = 0;
    const run = this.runOne(s).finally(() => {
      s.running = false;
      this.inflight.delete(run);
    });
    this.inflight.add(run);
  }

  private async runOne(s: Slot): Promise<void> {
    let r: CheckResult;
    const dyn = s.sh.target;
    if (dyn.dynamic) {
      // an address found by DNS (src/dns/): probe the current one; none: the server is in
      // maintenance (resolution) and there is nothing to probe until it has one
      const a = this.state.readAddress(dyn.index).addr;
      if (a === null) {
        this.plan(s, nextInterval(s.sh.health, s.sh.up, dyn, dyn));
        return;
      }
      dyn.host = a.ip;
    }
    try {
      r = await probe(s.sh.target, this.abort.signal);
    } catch (e) {
      // probe() never rejects; if something still does, it is a failed check, not a dead thread.
      r = { status: 'SOCKERR', code: 0, info: errnoText(e), durationMs: -1 };
    }
    if (this.stopped) return;
    this.publisher.recordProbe(s.sh, r);
    const t = s.sh.target;
    this.plan(s, nextInterval(s.sh.health, s.sh.up, t, t));
  }

  private pollObserve(): void {
    if (this.stopped) return;
    const cells = this.state.servers;
    for (const s of this.observed) {
      const t = s.sh.target;
      const off = t.index * SERVER_STRIDE + S_OBSERVE_ERRORS;
      if (Atomics.load(cells, off) < t.errorLimit) continue;
      // Take the streak and reset it in one step, so errors counted meanwhile start the next one.
      const errors = Atomics.exchange(cells, off, 0);
      if (errors < t.errorLimit) continue;
      this.publisher.recordAnalysis(s.sh, errors);
      // Every on_error mode brings the next probe forward to fastinter (HAProxy health_adjust).
      if (!s.running && s.dueAt > Date.now() + t.fastinter) this.plan(s, t.fastinter);
    }
  }
}
