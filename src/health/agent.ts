// agent-check (HAProxy's external agent): every agent-inter, connect to the server's agent
// (agent-addr:agent-port), send agent-send if set, and read one line. Its words, comma or space
// separated, change the server: "N%" sets the weight to N% of the configured one, "ready",
// "drain" and "maint" set the administrative state, "up" and "down" (also "fail", "stopped")
// the operational one. An agent that cannot be reached, or says nothing, changes nothing
// (HAProxy). "down" holds until the agent says "up"; "up" does not override a failing health
// check. Everything lands in the shared state (setAndBump), as the other checks do.
import * as net from 'node:net';
import type { Config } from '../config/model';
import { ADMIN_DRAIN, ADMIN_MAINT, ADMIN_READY, S_ADMIN, S_HEALTH, S_WEIGHT, ServerIndex, dynamicAddress, type SharedState } from '../shared/state';
import type { LogFn } from './publish';

export interface AgentTarget {
  index: number;
  backend: number;
  name: string;
  host: string;
  /** the host is the address DNS gives the server (src/dns/), read before each exchange */
  dynamic: boolean;
  port: number;
  inter: number;
  send: string | null;
  weight: number;
  timeoutMs: number;
}

/** Every server with an agent, from the validated config. */
export function agentTargets(config: Config): AgentTarget[] {
  const idx = new ServerIndex(config);
  const out: AgentTarget[] = [];
  config.backends.forEach((b, bi) =>
    b.servers.forEach((s, si) => {
      const a = s.agent;
      if (!a) return;
      out.push({
        index: idx.server(bi, si),
        backend: bi,
        name: `${b.name}/${s.name}`,
        host: a.addr ?? s.checkAddr ?? s.host,
        dynamic: a.addr === null && s.checkAddr === null && dynamicAddress(s),
        port: a.port,
        inter: Math.max(100, a.inter),
        send: a.send,
        weight: s.weight,
        timeoutMs: Math.max(100, Math.min(b.timeouts.check || a.inter, a.inter)),
      });
    }),
  );
  return out;
}

/** What one agent line asks for; null fields: no change. */
export interface AgentVerdict {
  weightPct: number | null;
  admin: number | null;
  up: boolean | null;
}

/** Parses an agent reply line (HAProxy's words; unknown words are ignored). */
export function parseAgentReply(line: string): AgentVerdict {
  const v: AgentVerdict = { weightPct: null, admin: null, up: null };
  for (const word of line.trim().toLowerCase().split(/[\s,]+/)) {
    if (word === '') continue;
    const pct = /^(\d{1,3})%$/.exec(word);
    if (pct) v.weightPct = Math.min(256 * 100, Number(pct[1]));
    else if (word === 'ready') v.admin = ADMIN_READY;
    else if (word === 'drain') v.admin = ADMIN_DRAIN;
    else if (word === 'maint') v.admin = ADMIN_MAINT;
    else if (word === 'up') v.up = true;
    else if (word === 'down' || word === 'fail' || word === 'stopped') v.up = false;
  }
  return v;
}

/** One agent exchange: the first line of the reply, or null (unreachable, timeout, nothing). */
export function askAgent(t: AgentTarget, signal: AbortSignal): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const sock = net.connect({ host: t.host, port: t.port });
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(v);
    };
    const onAbort = () => finish(null);
    signal.addEventListener('abort', onAbort);
    const timer = setTimeout(() => finish(buf.length > 0 ? buf : null), t.timeoutMs);
    timer.unref();
    sock.setEncoding('latin1');
    sock.on('connect', () => {
      if (t.send !== null) sock.write(t.send);
    });
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.search(/\r?\n/);
      if (nl >= 0) finish(buf.slice(0, nl));
      else if (buf.length > 1024) finish(buf.slice(0, 1024));
    });
    sock.on('end', () => finish(buf.length > 0 ? buf : null));
    sock.on('error', () => finish(null));
  });
}

export class AgentScheduler {
  private readonly targets: AgentTarget[];
  private readonly timers = new Map<AgentTarget, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  /** servers the agent itself took down (S_HEALTH 0), by global index */
  private readonly agentDown = new Set<number>();
  /** servers the agent put in drain/maint (so "ready" only undoes the agent's own change) */
  private readonly agentAdmin = new Set<number>();
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    config: Config,
    private readonly state: SharedState,
    private readonly log: LogFn,
    /** the regular health check's verdict for a server: true up, false down, null no check */
    private readonly checkUp: (index: number) => boolean | null,
  ) {
    this.targets = agentTargets(config);
  }

  start(): void {
    this.targets.forEach((t, i) => this.plan(t, Math.floor((t.inter * i) / Math.max(1, this.targets.length))));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const tm of this.timers.values()) clearTimeout(tm);
    this.abort.abort();
    await Promise.all([...this.inflight]);
  }

  private plan(t: AgentTarget, delay: number): void {
    if (this.stopped) return;
    const tm = setTimeout(() => {
      const run = this.runOne(t).finally(() => {
        this.inflight.delete(run);
        this.plan(t, t.inter);
      });
      this.inflight.add(run);
    }, delay);
    tm.unref();
    this.timers.set(t, tm);
  }

  private async runOne(t: AgentTarget): Promise<void> {
    if (t.dynamic) {
      // the address DNS gives the server (src/dns/); none: nothing to ask
      const a = this.state.readAddress(t.index).addr;
      if (a === null) return;
      t.host = a.ip;
    }
    const line = await askAgent(t, this.abort.signal);
    if (line === null || this.stopped) return;
    this.apply(t, parseAgentReply(line), line.trim());
  }

  /** Applies a verdict to the shared state; logs what changed. */
  apply(t: AgentTarget, v: AgentVerdict, text: string): void {
    const st = this.state;
    if (v.weightPct !== null) {
      const w = Math.min(256, Math.round((t.weight * v.weightPct) / 100));
      if (st.get(t.index, S_WEIGHT) !== w) {
        st.setAndBump(t.index, t.backend, S_WEIGHT, w);
        this.log('notice', `Server ${t.name} weight set to ${w} by its agent ("${text}").`);
      }
    }
    if (v.admin !== null) {
      const cur = st.get(t.index, S_ADMIN);
      if (v.admin === ADMIN_READY) {
        if (this.agentAdmin.delete(t.index) && cur !== ADMIN_READY) {
          st.setAndBump(t.index, t.backend, S_ADMIN, ADMIN_READY);
          this.log('notice', `Server ${t.name} is READY again (agent: "${text}").`);
        }
      } else if (cur !== v.admin && cur !== ADMIN_MAINT) {
        // an operator's maintenance stays the operator's
        st.setAndBump(t.index, t.backend, S_ADMIN, v.admin);
        this.agentAdmin.add(t.index);
        this.log('notice', `Server ${t.name} is ${v.admin === ADMIN_DRAIN ? 'DRAIN' : 'MAINT'} (agent: "${text}").`);
      }
    }
    if (v.up === false && st.get(t.index, S_HEALTH) === 1) {
      st.setAndBump(t.index, t.backend, S_HEALTH, 0);
      this.agentDown.add(t.index);
      this.log('alert', `Server ${t.name} is DOWN, reason: Agent check says "${text}".`);
    } else if (v.up === true && this.agentDown.has(t.index) && this.checkUp(t.index) !== false) {
      this.agentDown.delete(t.index);
      st.setAndBump(t.index, t.backend, S_HEALTH, 1);
      this.log('notice', `Server ${t.name} is UP (agent: "${text}").`);
    }
  }
}
