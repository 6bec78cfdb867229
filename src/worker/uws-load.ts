// uWebSockets.js, loaded only where its native binary exists for this Node.js. The package
// (a republish of upstream 20.30) ships builds for Node 16/18/20 (ABI 93/108/115); on any
// other Node its entry point prints a warning and returns a slow Node.js imitation of its API,
// under which gatehouse's workers could not share ports. So the binary is required directly,
// and without it uWS is "unavailable": binds then run on gatehouse's node:net engine.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as UWS from 'uWebSockets.js';

export type Uws = typeof UWS;

let loaded: Uws | null | undefined;
let reason = '';

function binaryFile(): string {
  return `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
}

/** Whether this Node.js has a uWebSockets.js binary (checked without loading it). */
export function uwsAvailable(): boolean {
  try {
    const dir = path.dirname(require.resolve('uWebSockets.js/package.json'));
    return fs.existsSync(path.join(dir, 'binaries', binaryFile()));
  } catch {
    return false;
  }
}

/** The uWS module, or null when this Node.js has no uWebSockets.js binary (see uwsUnavailable). */
export function loadUws(): Uws | null {
  if (loaded !== undefined) return loaded;
  const file = binaryFile();
  try {
    const dir = path.dirname(require.resolve('uWebSockets.js/package.json'));
    loaded = require(path.join(dir, 'binaries', file)) as Uws;
  } catch (e) {
    loaded = null;
    reason = `uWebSockets.js 20.30 has no binary for Node.js ${process.version} (${file}): ${(e as Error).message.split('\n')[0]}`;
  }
  return loaded;
}

/** Why uWS did not load ('' when it did or was not tried). */
export function uwsUnavailable(): string {
  return reason;
}

/** The uWS module for code that runs only on the uWS engine (a clear error if it cannot). */
export function requireUws(): Uws {
  const u = loadUws();
  if (u === null) throw new Error(reason);
  return u;
}
