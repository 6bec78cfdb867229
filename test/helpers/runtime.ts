// A worker's request-path tables built in-process, as a worker thread builds them at start-up
// (src/worker/main.ts), for unit tests of the proxy core: the primary's SharedState
// (src/primary/run.ts: SharedState.create) and a counters slab (src/primary/supervisor.ts).
import type { Config } from '../../src/config/model';
import { counterRows, createSlab } from '../../src/shared/counters';
import { SERVER_STRIDE, S_ACTIVE, S_HEALTH, SharedState } from '../../src/shared/state';
import { WorkerRuntime } from '../../src/worker/runtime';
import type { AddressSource } from '../../src/shared/client-address';

export interface RuntimeFixture {
  rt: WorkerRuntime;
  state: SharedState;
  slab: Float64Array;
}

export function workerRuntime(config: Config, workerId = 1): RuntimeFixture {
  const state = SharedState.create(config);
  const slab = createSlab(counterRows(config));
  const rt = new WorkerRuntime(config, state, slab, workerId, null);
  return { rt, state, slab };
}

/** Global index of server `name` of backend `backend`. */
export function serverIndex(rt: WorkerRuntime, backend: string, name: string): number {
  const be = rt.backends.find((b) => b.cfg.name === backend);
  if (be === undefined) throw new Error(`no backend ${backend}`);
  const i = be.cfg.servers.findIndex((s) => s.name === name);
  if (i < 0) throw new Error(`no server ${name} in ${backend}`);
  return be.firstServer + i;
}

/** Requests in flight to a server, all workers (the cell maxconn and leastconn read). */
export function activeOf(state: SharedState, server: number): number {
  return Atomics.load(state.servers, server * SERVER_STRIDE + S_ACTIVE);
}

/** Mark a server up or down as the health checker does (bumps the backend's LB_GEN). */
export function setHealth(rt: WorkerRuntime, server: number, up: boolean): void {
  rt.state.setAndBump(server, rt.servers[server].backend, S_HEALTH, up ? 1 : 0);
}

/** A client address source returning the 4 bytes of a dotted IPv4 address. */
export function ipv4Peer(ip: string): AddressSource {
  const bytes = Uint8Array.from(ip.split('.').map(Number));
  return { getRemoteAddress: () => bytes.slice().buffer };
}
