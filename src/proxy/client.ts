// What the proxy core needs from a front engine: the client's request and the client's answer.
// The shapes are the subset of uWebSockets.js's HttpRequest/HttpResponse the core uses, so the
// uWS engine passes its own objects (no adapter, no extra call per request); another engine
// implements the same methods over its own connection.

import type { AddressSource } from '../shared/client-address';
import type { ProxyAddresses } from '../net/proxy-protocol';

/** The request head, readable while the engine's request handler runs (uWS: only then). */
export interface ClientRequest {
  getCaseSensitiveMethod(): string;
  /** the path, without the query */
  getUrl(): string;
  /** the query without '?', undefined when there is none */
  getQuery(): string | undefined;
  /** the value of a header by lower-case name ('' when absent; first occurrence) */
  getHeader(lowerCaseKey: string): string;
  /** every header in order, names lower-case */
  forEach(cb: (key: string, value: string) => void): void;
  /** set once a value held bytes that are not UTF-8 (gatehouse's own engine; see byte-text.ts) */
  readonly rawBytes?: boolean;
}

/** Header lines of an answer, written one by one between the status line and the body. */
export interface HeaderWriter {
  /** a Uint8Array value is written as its bytes (a string: as UTF-8) */
  writeHeader(key: string, value: string | Uint8Array): unknown;
}

/**
 * The answer to one request, with uWS's semantics: writeStatus and writeHeader before any body;
 * `tryEnd` for a body of known total length (returns [ok, done]; not ok: wait for onWritable),
 * `write` for a body of unknown length (the engine chunks it), `end` to finish; `cork` batches
 * everything written inside the callback into one send.
 */
export interface ClientResponse extends HeaderWriter, AddressSource {
  writeStatus(status: string): unknown;
  write(chunk: Uint8Array | string): boolean;
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  end(body?: Uint8Array | string, closeConnection?: boolean): unknown;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): unknown;
  getWriteOffset(): number;
  cork(cb: () => void): unknown;
  /** the engine could not send everything: called when it can take more (return false: not yet) */
  onWritable(handler: (offset: number) => boolean): unknown;
  /** the client went away; nothing may be written after this */
  onAborted(handler: () => void): unknown;
  /** request body bytes; the memory behind `chunk` is reused after the call (uWS: an ArrayBuffer) */
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): void;
  /** the chunked body's trailer fields once its last chunk came ([name, value, ...]; uWS: none) */
  trailers?(): string[] | null;
  /** stop / restart reading the request body (backpressure toward the client) */
  pause(): void;
  resume(): void;
  /** cut the connection at once */
  close(): unknown;
  /** the client's and the bind's addresses and ports (send-proxy); uWS has none: see clientAddresses() */
  proxyAddresses?(): ProxyAddresses;
}
