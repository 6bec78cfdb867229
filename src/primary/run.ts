// The primary thread: shared state, worker and health threads, the control plane (stats),
// signals and the pidfile. It never touches client traffic itself.

import * as fs from 'node:fs';
import type { Config } from '../config/model';
import { startHealthThread, type HealthThreadHandle } from '../health';
import { LogSink } from '../log/sink';
import { SharedState } from '../shared/state';
import { PrimaryTelemetry } from '../stats/telemetry-primary';
import { Supervisor } from './supervisor';

export interface RunOptions {
  pidfile: string | null;
  /** PIDs to ask to finish (HAProxy's -sf) once our listeners are up */
  finishPids: number[];
  /** called once every listener is up (daemon mode tells its parent) */
  onReady?: () => void;
}

export async function run(config: Config, opts: RunOptions): Promise<void> {
  const state = SharedState.create(config);
  const sink = new LogSink(config.global.logs);
  const log = (level: 'info' | 'notice' | 'warning' | 'alert', text: string) => sink.event(level, text);
  const telemetry = new PrimaryTelemetry(config, state, sink);

  const supervisor = new Supervisor(config, state, {
    log,
    onWorkerStarted: (id, slab, send) => telemetry.addWorker(id, slab, send),
    onWorkerGone: (id) => telemetry.removeWorker(id),
    onWorkerMessage: (id, msg) => {
      telemetry.onWorkerMessage(id, msg);
    },
  });

  let health: HealthThreadHandle | null = null;
  try {
    await supervisor.start();
    await telemetry.startStatsServers();
    health = startHealthThread(config, state.buffer, log);
  } catch (e) {
    log('alert', `cannot start: ${(e as Error).message}`);
    await supervisor.stop(0);
    await telemetry.stop();
    await sink.close();
    process.exitCode = 1;
    throw e;
  }

  if (opts.pidfile !== null) {
    try {
      fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
    } catch (e) {
      log('warning', `cannot write pidfile ${opts.pidfile}: ${(e as Error).message}`);
    }
  }
  for (const pid of opts.finishPids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch (e) {
      log('warning', `-sf: cannot signal ${pid}: ${(e as Error).message}`);
    }
  }

  const binds = config.frontends.map((f) => `${f.name}=${f.binds.map((b) => b.text).join(',')}`).join(' ');
  log('notice', `gatehouse started: pid ${process.pid}, ${config.global.workers} worker(s), ${binds}`);
  opts.onReady?.();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      log('warning', `${signal} again: stopping now`);
      process.exit(0);
    }
    stopping = true;
    const grace = config.global.gracePeriod;
    log('notice', `${signal} received: no new connections, finishing in-flight requests (grace ${grace} ms)`);
    await supervisor.stop(grace);
    await health?.stop();
    await telemetry.stop();
    if (opts.pidfile !== null) {
      try {
        fs.unlinkSync(opts.pidfile);
      } catch {
        /* already gone */
      }
    }
    log('notice', 'gatehouse stopped');
    await sink.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Until seamless reload exists, SIGHUP must not kill the process (its default action).
  process.on('SIGHUP', () => log('warning', 'SIGHUP: configuration reload is not supported yet; still running the old configuration'));
}
