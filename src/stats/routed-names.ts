// Names of the hidden stats backends (routed.ts), apart so the renderers can leave them out
// without loading the listeners.
import type { BackendConfig } from '../config/model';

/** The server name of every hidden stats backend (HAProxy logs intercepted stats requests as `<STATS>`). */
export const STATS_SERVER_NAME = '<STATS>';

/** The hidden backend of one proxy's stats page ('<' is never in a configured name). */
export function statsTargetName(proxy: string): string {
  return `<STATS>:${proxy}`;
}

/** Whether a backend name is one of the hidden stats backends' (no configured name has '<'). */
export function isInternalName(name: string): boolean {
  return name.startsWith('<STATS>:');
}

/** A backend gatehouse added itself: never a row in stats, CSV, JSON, Prometheus or the history. */
export function isInternalBackend(b: BackendConfig): boolean {
  return b.internalStats !== undefined;
}
