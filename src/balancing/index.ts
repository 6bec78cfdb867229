// Builds one Balancer per backend (config order) for a worker thread.

import type { BackendConfig, Config } from '../config/model';
import type { ServerIndex, SharedState } from '../shared/state';
import { UsableSet, type Balancer } from './balancer';
import { FirstBalancer } from './first';
import { HeaderBalancer } from './hdr';
import { LeastConnBalancer } from './leastconn';
import { RandomBalancer } from './random';
import { RoundRobinBalancer } from './roundrobin';
import { SourceBalancer } from './source';
import { StaticRoundRobinBalancer } from './static-rr';
import { UriBalancer } from './uri';
import { HaproxyHashBalancer } from './haproxy-hash';

export type { Balancer } from './balancer';

export function createBalancers(config: Config, state: SharedState, index: ServerIndex): Balancer[] {
  return config.backends.map((b, bi) => createBalancer(b, new UsableSet(state, index, bi, b)));
}

function createBalancer(b: BackendConfig, set: UsableSet): Balancer {
  const names = b.servers.map((s) => s.name);
  if (b.hashType && (b.balance === 'source' || b.balance === 'uri' || b.balance === 'hdr')) {
    return new HaproxyHashBalancer(set, b.balance, b.hashType, b.servers.map((s) => s.weight));
  }
  switch (b.balance) {
    case 'roundrobin':
      return new RoundRobinBalancer(set);
    case 'static-rr':
      return new StaticRoundRobinBalancer(set);
    case 'leastconn':
      return new LeastConnBalancer(set);
    case 'first':
      return new FirstBalancer(set);
    case 'random':
      return new RandomBalancer(set);
    case 'source':
      return new SourceBalancer(set, names);
    case 'uri':
      return new UriBalancer(set, names);
    case 'hdr':
      return new HeaderBalancer(set, names);
  }
}
