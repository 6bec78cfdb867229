// The engine's own answers, byte for byte as HAProxy 2.6 writes its built-in error pages
// (header names and order included; wording as src/worker/error-pages.ts), built once.

function page(code: number, reason: string, text: string): Buffer {
  const body = `<html><body><h1>${code} ${reason}</h1>\n${text}\n</body></html>\n`;
  return Buffer.from(
    `HTTP/1.1 ${code} ${reason}\r\nContent-length: ${body.length}\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n${body}`,
    'latin1',
  );
}

const PAGES = new Map<number, Buffer>([
  [400, page(400, 'Bad request', 'Your browser sent an invalid request.')],
  [408, page(408, 'Request Time-out', "Your browser didn't send a complete request in time.")],
  [413, page(413, 'Payload Too Large', 'The request entity exceeds the maximum allowed.')],
  [414, page(414, 'Request-URI Too Long', 'The request URI is too long.')],
  [431, page(431, 'Request Header Fields Too Large', 'The request header fields are too large.')],
  [500, page(500, 'Internal Server Error', 'An internal server error occurred.')],
  [501, page(501, 'Not Implemented', 'The server does not support the functionality required to fulfill the request.')],
]);

/** The complete answer (status line to body, Connection: close) for `status`; 400's for unknown ones. */
export function errorAnswer(status: number): Buffer {
  return PAGES.get(status) ?? (PAGES.get(400) as Buffer);
}
