// The primary thread: shared state, worker and health threads, the control plane (stats),
// signals, reload and the pidfile. It never touches client traffic itself.
//
// Everything that depends on one configuration is a Generation. SIGHUP builds the next
// generation beside the running one (new workers bind the same ports: SO_REUSEPORT), and only
// once it listens does the old one stop accepting and drain, so the ports never go dark.

import * as fs from 'node:fs';
import type { Config } from '../config/model';
import { startHealthThread, type HealthThreadHandle } from '../health';
import { LogSink } from '../log/sink';
import { SharedState } from '../shared/state';
import { PrimaryTelemetry } from '../stats/telemetry-primary';
import { RoutedStats } from '../stats/routed';
import { CounterCarry, carryOverServerState } from './carry-over';
import { fitMaxconnToFdLimit, readFdLimits } from './fd-limit';
import { migrateReqProblem } from './migrate-req';
import { SignalRouter, statusLines } from './signals';
import { SharedListeners, engineFallbackNotice } from './shared-listeners';
import { Supervisor } from './supervisor';
import { bindTakingOver, giveBack, type Takeover } from './takeover';
import { attachTables } from '../stick/registry';
import { StickService } from '../stick/service';
import { ResolversService } from '../dns/resolver';

type Level = 'info' | 'notice' | 'warning' | 'alert';

export interface RunOptions {
  pidfile: string | null;
  /** PIDs to ask to finish (HAProxy's -sf) once our listeners are up */
  finishPids: number[];
  /** called once every listener is up (daemon mode tells its parent) */
  onReady?: () => void;
  /** re-read the configuration files for SIGHUP; throws with the errors to log */
  reload?: () => { config: Config; warnings: string[] };
}

interface Generation {
  config: Config;
  state: SharedState;
  sink: LogSink;
  telemetry: PrimaryTelemetry;
  supervisor: Supervisor;
  health: HealthThreadHandle | null;
  /** the previous generation's counters under this configuration's names (null at start) */
  carry: CounterCarry | null;
  log: (level: Level, text: string) => void;
  /** stick tables' purge and peers (src/stick/service.ts) */
  stick: StickService;
  /** listening sockets of node-engine binds, shared by the workers (kept across reloads) */
  listeners: SharedListeners;
  /** DNS discovery of server addresses (src/dns/) */
  dns: ResolversService;
  /** internal stats listeners of proxying frontends and backends (src/stats/routed.ts) */
  routed: RoutedStats;
}

/** Start workers (and, unless `deferStats`, stats) for one configuration. */
async function startGeneration(written: Config, prev: Generation | null, statsRetryMs: number, deferStats: boolean, bound: SharedListeners | null = null): Promise<Generation> {
  // stats pages of proxying frontends and of backends: internal listeners first, since the
  // workers' configuration names their ports (hidden backends, src/stats/routed.ts)
  const routed = await RoutedStats.open(written);
  const config = routed.config;
  const state = SharedState.create(config);
  if (prev !== null) carryOverServerState(prev.config, prev.state, config, state);
  // stick tables: memory shared with the workers (in workerData), kept across a reload when unchanged
  attachTables(config, prev?.config ?? null);
  const sink = new LogSink(config.global.logs);
  const log = (level: Level, text: string) => sink.event(level, text);
  // before the workers get the config: maxconn may have to shrink to the descriptor limit
  const fd = fitMaxconnToFdLimit(config);
  if (fd.warning !== null) log('warning', fd.warning);
  const stick = new StickService(config, log);
  const telemetry = new PrimaryTelemetry(config, state, sink);
  routed.attach(telemetry);
  const internal = routed.describe();
  if (internal !== '') log('notice', `stats pages served through the workers: ${internal} (internal listeners; only requests carrying this generation's key are answered)`);
  // the live history (stats page charts) goes on for every object that keeps its name
  if (prev !== null) telemetry.adoptHistory(prev.telemetry);
  // Counters of objects that keep their names carry over; the old generation's slabs are read
  // live while it drains, then folded into a fixed base (see carry-over.ts).
  const carry = prev !== null ? new CounterCarry(prev.telemetry.carrySource(), config) : null;
  telemetry.carry = carry;
  const slabs = new Map<number, Float64Array>();
  let listeners: SharedListeners;
  try {
    listeners = bound ?? SharedListeners.open(config, prev?.listeners ?? null);
  } catch (e) {
    log('alert', `cannot start: ${(e as Error).message}`);
    await routed.close();
    await telemetry.stop();
    await sink.close();
    throw e;
  }
  if (prev === null) {
    const notice = engineFallbackNotice(config);
    if (notice !== null) log('notice', notice);
  }
  const supervisor = new Supervisor(config, state, listeners.fds(), {
    log,
    onWorkerStarted: (id, slab, send) => {
      slabs.set(id, slab);
      telemetry.addWorker(id, slab, send);
    },
    onWorkerGone: (id) => {
      // The telemetry keeps a gone worker's totals; the supervisor hands the same slab to the
      // worker that replaces it, so it must start from zero or those totals would count twice.
      telemetry.removeWorker(id);
      slabs.get(id)?.fill(0);
    },
    onWorkerMessage: (id, msg) => {
      telemetry.onWorkerMessage(id, msg);
    },
  });
  const dns = new ResolversService(config, state, log);
  telemetry.dns = dns;
  const gen: Generation = { config, state, sink, telemetry, supervisor, health: null, carry, log, stick, listeners, dns, routed };
  try {
    await supervisor.start();
    if (!deferStats) await telemetry.startStatsServers(statsRetryMs);
  } catch (e) {
    log('alert', `cannot start: ${(e as Error).message}`);
    await supervisor.stop(0);
    listeners.closeExcept(prev?.listeners ?? null);
    await routed.close();
    await telemetry.stop();
    await sink.close();
    throw e;
  }
  dns.start();
  gen.health = startHealthThread(config, state.buffer, log);
  await stick.start();
  return gen;
}

/** Stop accepting, let in-flight requests finish within the grace period, release everything. */
async function stopGeneration(gen: Generation, graceMs: number, statsAlreadyClosed = false, next: Generation | null = null): Promise<void> {
  if (!statsAlreadyClosed) await gen.telemetry.closeStatsServers();
  // first: the next generation's peers listener waits for this one's port
  await gen.stick.stop();
  await gen.supervisor.stop(graceMs);
  // after the workers: a draining one may still forward a stats request
  await gen.routed.close();
  // the next generation's workers listen on the sockets of the addresses it kept
  gen.listeners.closeExcept(next?.listeners ?? null);
  gen.dns.stop();
  await gen.health?.stop();
  await gen.telemetry.stop();
  await gen.sink.close();
}

export async function run(config: Config, opts: RunOptions): Promise<void> {
  // With -sf the old process still holds the stats ports until it hears from us.
  const replacing = opts.finishPids.length > 0;
  // Workers accept traffic before the start completes: signals in that window are kept and
  // acted on once the handlers below are ready (signals.ts), never by their default actions.
  const signals = new SignalRouter();
  signals.install();
  let gen: Generation;
  let takeover: Takeover | null = null;
  try {
    if (replacing) takeover = await bindTakingOver(config, opts.finishPids);
    gen = await startGeneration(config, null, 0, replacing, takeover?.listeners ?? null);
  } catch (e) {
    if (takeover?.paused === true) giveBack(opts.finishPids);
    signals.uninstall();
    process.exitCode = 1;
    throw e;
  }
  if (takeover?.paused === true) gen.log('notice', `-sf: paused ${opts.finishPids.join(' ')} (SIGTTOU) to take over the ports of the node engine`);
  // Said once per process, when listeners first close under running ones (a reload, or -sf).
  let migrateChecked = false;
  const checkMigrateReq = async (g: Generation, what: string) => {
    if (migrateChecked) return;
    migrateChecked = true;
    const problem = await migrateReqProblem();
    if (problem !== null) g.log('warning', `${what}: ${problem}`);
  };
  if (replacing) await checkMigrateReq(gen, '-sf');
  for (const pid of opts.finishPids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch (e) {
      gen.log('warning', `-sf: cannot signal ${pid}: ${(e as Error).message}`);
    }
  }
  if (replacing) {
    try {
      await gen.telemetry.startStatsServers(10000);
    } catch (e) {
      gen.log('alert', `cannot serve stats: ${(e as Error).message}`);
    }
  }

  if (opts.pidfile !== null) {
    try {
      fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
    } catch (e) {
      gen.log('warning', `cannot write pidfile ${opts.pidfile}: ${(e as Error).message}`);
    }
  }
  const describe = (c: Config) => c.frontends.map((f) => `${f.name}=${f.binds.map((b) => b.text).join(',')}`).join(' ');
  const fdLimit = readFdLimits();
  const fdText = fdLimit === null ? '' : ` (fd limit ${fdLimit.soft})`;
  gen.log('notice', `gatehouse started: pid ${process.pid}, ${config.global.workers} worker(s), maxconn ${config.global.maxconn}${fdText}, ${describe(config)}`);
  opts.onReady?.();

  let stopping = false;
  let reloading = false;
  /** a reload signal came during a reload: read the files once more when it ends */
  let reloadAgain = false;
  /** SIGTTOU without SIGTTIN yet: the listeners stay closed, across reloads too */
  let paused = false;

  const shutdown = async (signal: string) => {
    if (stopping) {
      gen.log('warning', `${signal} again: stopping now`);
      process.exit(0);
    }
    stopping = true;
    const grace = gen.config.global.gracePeriod;
    gen.log('notice', `${signal} received: no new connections, finishing in-flight requests (grace ${grace} ms)`);
    const last = gen;
    await stopGeneration(last, grace);
    if (opts.pidfile !== null) {
      try {
        fs.unlinkSync(opts.pidfile);
      } catch {
        /* already gone */
      }
    }
    process.stderr.write(`[NOTICE]  (${process.pid}) : gatehouse stopped\n`);
    process.exit(0);
  };

  const reload = async (signal: string) => {
    if (stopping) return;
    if (reloading) {
      // The files may have changed again since this reload read them.
      reloadAgain = true;
      return;
    }
    if (opts.reload === undefined) {
      gen.log('warning', `${signal}: no configuration files to re-read`);
      return;
    }
    reloading = true;
    try {
      let next: { config: Config; warnings: string[] };
      try {
        next = opts.reload();
      } catch (e) {
        gen.log('alert', `${signal}: the new configuration is invalid; still running the old one.\n${(e as Error).message}`);
        return;
      }
      for (const w of next.warnings) gen.log('warning', w);
      const old = gen;
      // The old generation gives up the stats ports first (they are not SO_REUSEPORT); its
      // workers keep accepting until the new ones listen.
      await old.telemetry.closeStatsServers();
      let fresh: Generation;
      try {
        fresh = await startGeneration(next.config, old, 5000, false);
      } catch (e) {
        await old.telemetry.startStatsServers(5000).catch(() => undefined);
        old.log('alert', `${signal}: cannot start the new configuration (${(e as Error).message}); still running the old one`);
        return;
      }
      gen = fresh;
      if (paused && fresh.supervisor.pause()) {
        fresh.listeners.closeAll();
        fresh.log('notice', `${signal}: the new workers' listeners stay paused until SIGTTIN`);
      }
      fresh.log('notice', `${signal}: configuration reloaded: ${next.config.global.workers} worker(s), ${describe(next.config)}`);
      await checkMigrateReq(fresh, signal);
      await stopGeneration(old, old.config.global.gracePeriod, true, fresh);
      // Every old worker has exited: its counts are final.
      fresh.carry?.freeze();
      const m = fresh.carry?.matched;
      fresh.log(
        'notice',
        `${signal}: previous configuration finished` +
          (m ? `; counters carried over for ${m.frontends} frontend(s), ${m.backends} backend(s), ${m.servers} server(s)` : ''),
      );
    } finally {
      reloading = false;
      if (reloadAgain) {
        reloadAgain = false;
        void reload(signal);
      }
    }
  };

  const pause = (signal: string) => {
    if (stopping || paused) return;
    paused = true;
    gen.supervisor.pause();
    // node-engine and tcp ports: while the primary holds the socket the kernel still queues
    // connections; closed, they are refused (as HAProxy's are) and another process may bind
    gen.listeners.closeAll();
    gen.log('notice', `${signal}: listeners paused: no new connections, open ones are still served (SIGTTIN resumes)`);
  };

  const resume = async (signal: string) => {
    if (stopping || !paused) return;
    paused = false;
    const errors: string[] = [];
    gen.listeners = SharedListeners.open(gen.config, null, errors);
    errors.push(...(await gen.supervisor.resume(gen.listeners.fds())));
    if (errors.length === 0) gen.log('notice', `${signal}: listening again`);
    else gen.log('alert', `${signal}: listening again, except: ${errors.join('; ')}`);
  };

  const status = async () => {
    try {
      for (const line of statusLines(await gen.telemetry.snapshot())) gen.log('notice', line);
    } catch (e) {
      gen.log('warning', `status report failed: ${(e as Error).message}`);
    }
  };

  signals.attach((action, signal) => {
    if (action === 'stop') void shutdown(signal);
    else if (action === 'reload') void reload(signal);
    else if (action === 'pause') pause(signal);
    else if (action === 'resume') void resume(signal);
    else void status();
  });
}
