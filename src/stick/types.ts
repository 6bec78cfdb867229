// Stick-table data types and table definitions, as HAProxy 2.6 names and numbers them
// (include/haproxy/stick_table-t.h): the numbers are also the ids the peers protocol sends.

/** How a data type is stored: HAProxy's std_type. */
export const STD_SINT = 0;
export const STD_UINT = 1;
export const STD_ULL = 2;
export const STD_FRQP = 3;

export interface DataTypeInfo {
  /** HAProxy's STKTABLE_DT_* number (peers protocol id) */
  id: number;
  name: string;
  std: number;
  /** takes a period argument: `http_req_rate(10s)` */
  period: boolean;
}

const D = (id: number, name: string, std: number): DataTypeInfo => ({ id, name, std, period: std === STD_FRQP });

/** The data types gatehouse stores, by HAProxy id. */
export const DATA_TYPES: readonly DataTypeInfo[] = [
  D(0, 'server_id', STD_SINT),
  D(1, 'gpt0', STD_UINT),
  D(2, 'gpc0', STD_UINT),
  D(3, 'gpc0_rate', STD_FRQP),
  D(4, 'conn_cnt', STD_UINT),
  D(5, 'conn_rate', STD_FRQP),
  D(6, 'conn_cur', STD_UINT),
  D(7, 'sess_cnt', STD_UINT),
  D(8, 'sess_rate', STD_FRQP),
  D(9, 'http_req_cnt', STD_UINT),
  D(10, 'http_req_rate', STD_FRQP),
  D(11, 'http_err_cnt', STD_UINT),
  D(12, 'http_err_rate', STD_FRQP),
  D(13, 'bytes_in_cnt', STD_ULL),
  D(14, 'bytes_in_rate', STD_FRQP),
  D(15, 'bytes_out_cnt', STD_ULL),
  D(16, 'bytes_out_rate', STD_FRQP),
  D(17, 'gpc1', STD_UINT),
  D(18, 'gpc1_rate', STD_FRQP),
];

/** HAProxy data types gatehouse does not store (refused with "not supported"). */
export const UNSUPPORTED_DATA_TYPES = ['server_key', 'http_fail_cnt', 'http_fail_rate', 'gpt', 'gpc', 'gpc_rate'];

export const DT_SERVER_ID = 0;
export const DT_GPT0 = 1;
export const DT_GPC0 = 2;
export const DT_GPC0_RATE = 3;
export const DT_CONN_CNT = 4;
export const DT_CONN_RATE = 5;
export const DT_CONN_CUR = 6;
export const DT_SESS_CNT = 7;
export const DT_SESS_RATE = 8;
export const DT_HTTP_REQ_CNT = 9;
export const DT_HTTP_REQ_RATE = 10;
export const DT_HTTP_ERR_CNT = 11;
export const DT_HTTP_ERR_RATE = 12;
export const DT_BYTES_IN_CNT = 13;
export const DT_BYTES_IN_RATE = 14;
export const DT_BYTES_OUT_CNT = 15;
export const DT_BYTES_OUT_RATE = 16;
export const DT_GPC1 = 17;
export const DT_GPC1_RATE = 18;
export const DT_COUNT = DATA_TYPES.length;

export function dataTypeByName(name: string): DataTypeInfo | undefined {
  return DATA_TYPES.find((d) => d.name === name);
}

export type KeyType = 'ip' | 'ipv6' | 'integer' | 'string' | 'binary';

/** HAProxy's peers protocol key types (PEER_KT_*: sint 2, ipv4 4, ipv6 5, str 6, bin 7). */
export const KEY_TYPE_IDS: Record<KeyType, number> = { integer: 2, ip: 4, ipv6: 5, string: 6, binary: 7 };

/** A stick table as the configuration defines it (plain data: structured-cloned to workers). */
export interface StickTableConfig {
  /** the proxy's name (stick-table) or the peers section's table name */
  name: string;
  type: KeyType;
  /** key length in bytes: 4 (ip, integer), 16 (ipv6), `len` for string/binary (default 32) */
  keyLen: number;
  /** maximum number of entries */
  size: number;
  /** ms after the last update an entry goes; 0 = never */
  expire: number;
  nopurge: boolean;
  /** peers section whose peers share this table, or null */
  peers: string | null;
  /** stored data: HAProxy id and period (ms, rates only; 0 otherwise), in the order written */
  store: { id: number; period: number }[];
  /** "file:line" or YAML path, for messages */
  where: string;
  /**
   * The table's memory, shared by every thread of the process. Set by the primary before the
   * workers start (src/stick/registry.ts attachTables); absent while only checking a config.
   */
  buffer?: SharedArrayBuffer;
}

export interface PeerConfig {
  name: string;
  host: string;
  port: number;
  /** this process (its name is the local peer name) */
  local: boolean;
}

export interface PeersSectionConfig {
  name: string;
  peers: PeerConfig[];
  /** the tables of this section (`table` lines and `stick-table ... peers NAME`) */
  tables: string[];
}

/** Everything stick-table related in a configuration. */
export interface StickConfig {
  tables: StickTableConfig[];
  peers: PeersSectionConfig[];
  /** this process's peer name (global `localpeer`, else the host name) */
  localPeer: string;
}
