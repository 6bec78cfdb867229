// ACLs: parse (load time, from words to the model), compile (once per worker, model to flat
// matchers), eval (per request). src/rules builds on these.
export { parseAclTests, parseCondition, parseFormat, type RuleSide } from './parse';
export { AclScope, CAcl, CCond, CFormat, CTest } from './compile';
export { evalCondition, evalFormat, testMatches } from './eval';
export { RequestView, ResponseView, SINGLE_HEADERS } from './view';
export { PREDEFINED_ACLS, PREDEFINED_UNSUPPORTED } from './fetches';
export { RuleSyntaxError, splitWords, joinWords, quoteWord } from './words';
