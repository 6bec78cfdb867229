// HAProxy's built-in error answers (status line and body as HAProxy 2.6 sends them), so
// clients and monitoring that match on them keep working.

import type { ClientResponse } from './client';

export interface ErrorPage {
  status: string;
  body: string;
}

function page(code: number, reason: string, title: string, text: string): ErrorPage {
  return {
    status: `${code} ${reason}`,
    body: `<html><body><h1>${code} ${title}</h1>\n${text}\n</body></html>\n`,
  };
}

export const E400 = page(400, 'Bad request', 'Bad request', 'Your browser sent an invalid request.');
export const E403 = page(403, 'Forbidden', 'Forbidden', 'Request forbidden by administrative rules.');
export const E408 = page(408, 'Request Time-out', 'Request Time-out', "Your browser didn't send a complete request in time.");
export const E413 = page(413, 'Payload Too Large', 'Payload Too Large', 'The request entity exceeds the maximum allowed.');
export const E500 = page(500, 'Internal Server Error', 'Internal Server Error', 'An internal server error occurred.');
export const E502 = page(502, 'Bad Gateway', 'Bad Gateway', 'The server returned an invalid or incomplete response.');
export const E503 = page(503, 'Service Unavailable', 'Service Unavailable', 'No server is available to handle this request.');
export const E504 = page(504, 'Gateway Time-out', 'Gateway Time-out', "The server didn't respond in time.");
export const E414 = page(414, 'Request-URI Too Long', 'Request-URI Too Long', 'The request URI is too long.');
export const E431 = page(431, 'Request Header Fields Too Large', 'Request Header Fields Too Large', 'The request header fields are too large.');
export const E501 = page(501, 'Not Implemented', 'Not Implemented', 'The server does not support the functionality required to fulfill the request.');

/** The answer to a request validateRequest() refused with `status`. */
export function requestErrorPage(status: number): ErrorPage {
  return status === 400 ? E400 : status === 413 ? E413 : status === 414 ? E414 : status === 431 ? E431 : E501;
}

/**
 * Write `page` as the whole answer (call it inside res.cork); `close` ends the connection after
 * it. uWS's end(body, true) writes its own `Connection: close`, except when the request's own
 * Connection header already said close (`engineCloses`, see RequestPlan): then it is ours.
 */
export function writeErrorPage(res: ClientResponse, page: ErrorPage, close: boolean, engineCloses: boolean): void {
  res.writeStatus(page.status);
  res.writeHeader('content-type', 'text/html');
  res.writeHeader('cache-control', 'no-cache');
  if (close && engineCloses) res.writeHeader('connection', 'close');
  res.end(page.body, close);
}
