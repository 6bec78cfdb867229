// Stick-table parts of the configuration model (plain data, structured-cloned to workers).
import type { AclCondition, FormatPart } from '../config/model';
export type { StickConfig, StickTableConfig, PeersSectionConfig, PeerConfig, KeyType } from './types';

/** http-request rules of stick tables. `table` '' = the proxy's own (resolved by the validator). */
export type StickRule = { cond: AclCondition | null } & (
  | { action: 'track-sc'; slot: number; key: FormatPart[]; table: string }
  | { action: 'sc-inc-gpc'; slot: number; counter: 0 | 1 }
  | { action: 'sc-set-gpt0'; slot: number; value: FormatPart[] }
);

/** `stick on|match|store-request <pattern> [table <name>] [if|unless <cond>]` (persistence). */
export interface StickPersistRule {
  kind: 'on' | 'match' | 'store-request';
  key: FormatPart[];
  table: string;
  cond: AclCondition | null;
}
