// The request header that carries the internal stats listener's per-generation secret
// (src/stats/routed.ts): workers add it on requests to a hidden stats backend and drop any
// copy a client sent; the listener serves nothing without it.
export const STATS_KEY_HEADER = 'x-gatehouse-stats-key';
