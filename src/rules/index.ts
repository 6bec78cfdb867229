// The request/response rule engine the worker calls (see engine.ts for the contract).
export { ACT_DENY, ACT_FORWARD, ACT_REDIRECT, ACT_RETURN, CompiledRules, Decision, HeaderPlan, HDR_ALL, HDR_LAZY, HDR_NONE, RoutingTable, evalRequest, evalResponse, STATS_NONE, STATS_FRONTEND, STATS_BACKEND } from './engine';
export { RequestView, ResponseView } from '../acl/view';
export { parseHttpRule, parseRedirectRule, parseUseBackend } from './parse';
export { fillRequestView } from './uws';
export { ErrorPageTable } from './error-table';
