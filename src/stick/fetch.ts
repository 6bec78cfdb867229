// The sc_* / scN_* / src_* sample fetches (HAProxy 2.6 manual 7.3.3): what each name reads, and
// its evaluation against the request's trackers or, for src_*, the client address's entry.
import type { RequestView } from '../acl/view';
import { KeyBuf, keyFromIp } from './keys';
import { tableNamed } from './registry';
import type { StickTable } from './table';
import {
  DT_BYTES_IN_CNT, DT_BYTES_IN_RATE, DT_BYTES_OUT_CNT, DT_BYTES_OUT_RATE, DT_CONN_CNT, DT_CONN_CUR, DT_CONN_RATE,
  DT_GPC0, DT_GPC0_RATE, DT_GPC1, DT_GPC1_RATE, DT_GPT0, DT_HTTP_ERR_CNT, DT_HTTP_ERR_RATE, DT_HTTP_REQ_CNT,
  DT_HTTP_REQ_RATE, DT_SESS_CNT, DT_SESS_RATE,
} from './types';

const OP_READ = 0;
const OP_KBYTES = 1;
const OP_INC = 2;
const OP_CLR = 3;
const OP_TRACKED = 4;

/** fetch suffix -> [data type, operation, rate updated by inc] */
const SUFFIXES: Record<string, [number, number, number]> = {
  conn_cnt: [DT_CONN_CNT, OP_READ, -1],
  conn_cur: [DT_CONN_CUR, OP_READ, -1],
  conn_rate: [DT_CONN_RATE, OP_READ, -1],
  sess_cnt: [DT_SESS_CNT, OP_READ, -1],
  sess_rate: [DT_SESS_RATE, OP_READ, -1],
  http_req_cnt: [DT_HTTP_REQ_CNT, OP_READ, -1],
  http_req_rate: [DT_HTTP_REQ_RATE, OP_READ, -1],
  http_err_cnt: [DT_HTTP_ERR_CNT, OP_READ, -1],
  http_err_rate: [DT_HTTP_ERR_RATE, OP_READ, -1],
  bytes_in_rate: [DT_BYTES_IN_RATE, OP_READ, -1],
  bytes_out_rate: [DT_BYTES_OUT_RATE, OP_READ, -1],
  kbytes_in: [DT_BYTES_IN_CNT, OP_KBYTES, -1],
  kbytes_out: [DT_BYTES_OUT_CNT, OP_KBYTES, -1],
  gpc0_rate: [DT_GPC0_RATE, OP_READ, -1],
  gpc1_rate: [DT_GPC1_RATE, OP_READ, -1],
  get_gpc0: [DT_GPC0, OP_READ, -1],
  get_gpc1: [DT_GPC1, OP_READ, -1],
  get_gpt0: [DT_GPT0, OP_READ, -1],
  inc_gpc0: [DT_GPC0, OP_INC, DT_GPC0_RATE],
  inc_gpc1: [DT_GPC1, OP_INC, DT_GPC1_RATE],
  clr_gpc0: [DT_GPC0, OP_CLR, -1],
  clr_gpc1: [DT_GPC1, OP_CLR, -1],
  tracked: [-1, OP_TRACKED, -1],
};

export interface StickFetchName {
  /** canonical model name: sc_<suffix> or src_<suffix> */
  fetch: string;
  /** scN_ names: the slot their name carries; -1 otherwise */
  slot: number;
  /** sc_ (slot in the first argument) */
  slotArg: boolean;
}

/** Recognizes sc_X, sc0_X..sc2_X and src_X names; null when it is none. */
export function stickFetchName(name: string): StickFetchName | null {
  const m = /^(sc|sc([0-2])|src)_([a-z0-9_]+)$/.exec(name);
  if (m === null || SUFFIXES[m[3]] === undefined) return null;
  if (m[1] === 'src') return m[3] === 'tracked' ? null : { fetch: `src_${m[3]}`, slot: -1, slotArg: false };
  return { fetch: `sc_${m[3]}`, slot: m[2] === undefined ? -1 : Number(m[2]), slotArg: m[2] === undefined };
}

export function isStickFetch(fetch: string): boolean {
  return /^(sc|src)_/.test(fetch) && stickFetchName(fetch) !== null;
}

/** Every fetch name this module answers (for did-you-mean and the docs). */
export const STICK_FETCH_NAMES: string[] = Object.keys(SUFFIXES).flatMap((s) => [`sc_${s}`, `sc0_${s}`, `sc1_${s}`, `sc2_${s}`, ...(s === 'tracked' ? [] : [`src_${s}`])]);

const keyBuf = new KeyBuf();

/** A compiled sc_/src_ fetch. Model form: fetch `sc_X` with arg "N[,table]", or `src_X` with arg "table". */
export class StickFetch {
  readonly slot: number;
  readonly table: StickTable | null;
  readonly data: number;
  readonly op: number;
  readonly rate: number;

  constructor(fetch: string, arg: string) {
    const src = fetch.startsWith('src_');
    const [d, op, rate] = SUFFIXES[fetch.slice(src ? 4 : 3)];
    this.data = d;
    this.op = op;
    this.rate = rate;
    const parts = arg === '' ? [] : arg.split(',');
    this.slot = src ? -1 : Number(parts.shift() ?? '0');
    const name = parts[0];
    this.table = name === undefined ? null : tableNamed(name) ?? null;
    if (name !== undefined && this.table === null) throw new Error(`internal: stick table ${name} is not open`);
  }

  /** The sample: an integer, or NaN when the fetch fails (HAProxy: no sample, the ACL does not match). */
  eval(req: RequestView): number {
    let t: StickTable | null;
    let idx: number;
    if (this.slot >= 0) {
      const tr = req.trackers;
      const tracked = tr !== null ? tr.tables[this.slot] : null;
      if (this.op === OP_TRACKED) return tracked !== null ? 1 : 0;
      if (tracked === null || tr === null) return NaN;
      t = tracked;
      idx = tr.idx[this.slot];
      if (this.table !== null && this.table !== t) return NaN; // another table than the tracked one
      return this.apply(t, idx, t.generation(idx) === tr.gen[this.slot] ? tr.gen[this.slot] : -1);
    }
    t = this.table;
    if (t === null) return NaN;
    const ip = req.srcAddress();
    if (ip === null || !keyFromIp(t.cfg.type, ip, keyBuf)) return NaN;
    idx = t.get(keyBuf.bytes, keyBuf.len, this.op === OP_INC);
    if (idx < 0) return t.dataOff[this.data] < 0 ? NaN : 0; // no entry: 0, as HAProxy
    return this.apply(t, idx, t.generation(idx));
  }

  private apply(t: StickTable, idx: number, gen: number): number {
    if (t.dataOff[this.data] < 0) return NaN; // not stored in this table
    if (gen === -1) return 0;
    switch (this.op) {
      case OP_READ: {
        const v = t.read(idx, gen, this.data);
        return v === v ? v : 0;
      }
      case OP_KBYTES: {
        const v = t.read(idx, gen, this.data);
        return v === v ? Math.floor(v / 1024) : 0;
      }
      case OP_INC:
        t.inc(idx, gen, this.data, t.dataOff[this.rate] >= 0 ? this.rate : -1);
        return t.read(idx, gen, this.data) || 0;
      case OP_CLR: {
        const v = t.read(idx, gen, this.data);
        t.set(idx, gen, this.data, 0);
        return v === v ? v : 0;
      }
    }
    return NaN;
  }
}
