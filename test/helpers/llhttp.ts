// Node's own llhttp binding (`_http_common`'s HTTPParser), for tests that compare gatehouse with
// llhttp's reading of the same bytes. gatehouse itself no longer uses it (its upstream response
// parser is src/upstream/response-parser.ts).

export interface HTTPParserInstance {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | Error;
  finish(): Error | undefined;
  close(): void;
  [k: number]: unknown;
}

export interface HTTPParserCtor {
  new (): HTTPParserInstance;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

function load(): HTTPParserCtor {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ctor = (require('_http_common') as { HTTPParser?: HTTPParserCtor }).HTTPParser;
  if (typeof ctor !== 'function' || typeof ctor.RESPONSE !== 'number') {
    throw new Error(`Node.js ${process.version} has no require('_http_common').HTTPParser for the llhttp comparison tests`);
  }
  return ctor;
}

export const HTTPParser: HTTPParserCtor = load();
