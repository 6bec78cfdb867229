// HAProxy 2.6's stats CSV columns, in HAProxy's order (management guide, section 9.1).
// Scripts and exporters index these by position, so never reorder; only HAProxy appends.
export const CSV_COLUMNS = [
  'pxname', 'svname', 'qcur', 'qmax', 'scur', 'smax', 'slim', 'stot', 'bin', 'bout',
  'dreq', 'dresp', 'ereq', 'econ', 'eresp', 'wretr', 'wredis', 'status', 'weight', 'act',
  'bck', 'chkfail', 'chkdown', 'lastchg', 'downtime', 'qlimit', 'pid', 'iid', 'sid', 'throttle',
  'lbtot', 'tracked', 'type', 'rate', 'rate_lim', 'rate_max', 'check_status', 'check_code', 'check_duration', 'hrsp_1xx',
  'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other', 'hanafail', 'req_rate', 'req_rate_max', 'req_tot', 'cli_abrt',
  'srv_abrt', 'comp_in', 'comp_out', 'comp_byp', 'comp_rsp', 'lastsess', 'last_chk', 'last_agt', 'qtime', 'ctime',
  'rtime', 'ttime', 'agent_status', 'agent_code', 'agent_duration', 'check_desc', 'agent_desc', 'check_rise', 'check_fall', 'check_health',
  'agent_rise', 'agent_fall', 'agent_health', 'addr', 'cookie', 'mode', 'algo', 'conn_rate', 'conn_rate_max', 'conn_tot',
  'intercepted', 'dcon', 'dses', 'wrew', 'connect', 'reuse', 'cache_lookups', 'cache_hits', 'srv_icur', 'src_ilim',
  'qtime_max', 'ctime_max', 'rtime_max', 'ttime_max', 'eint', 'idle_conn_cur', 'safe_conn_cur', 'used_conn_cur', 'need_conn_est', 'uweight',
  'agg_server_status', 'agg_server_check_status', 'agg_check_status',
] as const;

export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** One stats row: only the columns that apply to the row's type are present (HAProxy leaves the rest empty). */
export type StatsRow = Partial<Record<CsvColumn, string | number>>;

export const TYPE_FRONTEND = 0;
export const TYPE_BACKEND = 1;
export const TYPE_SERVER = 2;

/** HAProxy's short descriptions of check_status values (CSV check_desc). */
export const CHECK_DESC: Record<string, string> = {
  UNK: 'Unknown',
  INI: 'Initializing',
  SOCKERR: 'Socket error',
  L4OK: 'Layer4 check passed',
  L4TOUT: 'Layer4 timeout',
  L4CON: 'Layer4 connection problem',
  L6OK: 'Layer6 check passed',
  L6TOUT: 'Layer6 timeout',
  L6RSP: 'Layer6 invalid response',
  L7OK: 'Layer7 check passed',
  L7OKC: 'Layer7 check conditionally passed',
  L7TOUT: 'Layer7 timeout',
  L7RSP: 'Layer7 invalid response',
  L7STS: 'Layer7 wrong status',
};
