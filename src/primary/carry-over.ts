// On reload, servers that keep their backend and name keep what the running process learned
// about them: health, administrative state and the last check. Weights come from the new
// configuration unless an administrator had changed them at run time.

import type { Config } from '../config/model';
import {
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
  S_WEIGHT,
  ServerIndex,
  type SharedState,
} from '../shared/state';

const CARRIED = [S_HEALTH, S_ADMIN, S_CHECK_STATUS, S_CHECK_CODE, S_CHECK_DURATION, S_CHECK_HEALTH, S_CHKFAIL, S_CHKDOWN, S_DOWNTIME, S_LAST_CHANGE];

/** Copy per-server state from the old generation into the new one; returns how many servers matched. */
export function carryOverServerState(oldConfig: Config, oldState: SharedState, newConfig: Config, newState: SharedState): number {
  const oldIndex = new ServerIndex(oldConfig);
  const newIndex = new ServerIndex(newConfig);
  const oldByName = new Map<string, { global: number; weight: number }>();
  oldConfig.backends.forEach((b, bi) =>
    b.servers.forEach((s, si) => oldByName.set(`${b.name}/${s.name}`, { global: oldIndex.server(bi, si), weight: s.weight })),
  );
  let matched = 0;
  newConfig.backends.forEach((b, bi) =>
    b.servers.forEach((s, si) => {
      const old = oldByName.get(`${b.name}/${s.name}`);
      if (old === undefined) return;
      const g = newIndex.server(bi, si);
      for (const cell of CARRIED) newState.set(g, cell, oldState.get(old.global, cell));
      // a weight set by an administrator at run time survives; a configured one follows the file
      const runtimeWeight = oldState.get(old.global, S_WEIGHT);
      if (runtimeWeight !== old.weight) newState.set(g, S_WEIGHT, runtimeWeight);
      matched++;
    }),
  );
  return matched;
}
