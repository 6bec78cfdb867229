// placeholder, replaced below
import type { PeersSectionConfig } from './types';
import type { StickTable } from './table';
export class PeersRuntime {
  constructor(readonly sec: PeersSectionConfig, readonly localName: string, readonly tables: Map<string, StickTable>, readonly log: (level: 'info' | 'notice' | 'warning' | 'alert', text: string) => void) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
