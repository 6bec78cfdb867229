// gatehouse's optional native addon (native/gatehouse_native.c, built by node-gyp at `npm ci`
// from binding.gyp). It is N-API, so the one build loads in every Node the package runs on.
// Everything it does has a pure-JS fallback: when it did not build (no compiler, no headers) or
// GATEHOUSE_NATIVE=0 is set, `native` is null and gatehouse runs without it.

import * as path from 'node:path';

export interface NativeAddon {
  /**
   * Accepts up to out.length connections from listening descriptor `fd` (non-blocking,
   * close-on-exec), their descriptors written to `out`. Returns how many, or -errno when none
   * was accepted and the queue was not just empty.
   */
  acceptBurst(fd: number, out: Int32Array): number;
  /** closes a descriptor no handle took; 0 or -errno */
  closeFd(fd: number): number;
}

const FILE = path.join('build', 'Release', 'gatehouse_native.node');

function load(): NativeAddon | null {
  if (process.env.GATEHOUSE_NATIVE === '0') return null;
  // dist/shared/ in the package, dist-test/src/shared/ in the test build
  for (const up of ['../..', '../../..']) {
    try {
      const m = require(path.join(__dirname, up, FILE)) as Partial<NativeAddon>;
      if (typeof m.acceptBurst === 'function' && typeof m.closeFd === 'function') return m as NativeAddon;
    } catch {
      // not built (or not loadable here): try the next place, then run without it
    }
  }
  return null;
}

/** the addon, or null: every caller has a path without it */
export const native: NativeAddon | null = load();
