// The test matrix (Makefile `test`): the engine-dependent files run once with uWS (the default)
// and once with GATEHOUSE_ENGINE=node, which makes the node:net engine the default of every
// configuration that names none (src/config/validate.ts).

import { uwsAvailable } from '../../src/worker/uws-load';

/** This run serves plain binds with the node:net front engine. */
export const NODE_ENGINE = process.env.GATEHOUSE_ENGINE === 'node';

/** For `test(name, { skip: onNodeEngine('why') })`: skipped, with its reason, on the node engine. */
export function onNodeEngine(reason: string): string | false {
  return NODE_ENGINE ? `node engine: ${reason}` : false;
}

/** Whether uWebSockets.js has a binary for this Node.js (20.30: not Node 22/24), checked without loading it. */
export function uwsLoads(): boolean {
  return uwsAvailable();
}
