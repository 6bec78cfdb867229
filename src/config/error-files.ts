// Custom error pages (HAProxy's errorfile / errorloc / errorloc302 / errorloc303, and http-errors
// sections imported with errorfiles): the YAML `error_pages` map, read and checked at load time.
// An errorfile is a complete HTTP response, sent as written (HAProxy reads it once at start-up);
// it is split here into status, reason, headers and body so the worker can write it with uWS
// (which sets Content-Length itself, so the file's own is dropped).
import * as fs from 'node:fs';
import type { CustomErrorPage } from './model';

/** Statuses HAProxy 2.6 accepts for errorfile/errorloc. */
export const ERROR_FILE_CODES = [200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504];

/** Largest errorfile HAProxy accepts (its buffer size less the rewrite reserve, tune.bufsize default). */
const MAX_FILE = 16384 - 1024;

export type Report = (key: string | null, message: string, expected?: string, found?: string) => void;

/**
 * `error_pages: { "503": { file: PATH } | { location: URL, code: 302|303 } }` -> pages by status.
 * Problems go to `report` with the status key (or null for the whole map).
 */
export function buildErrorPages(v: unknown, report: Report): Record<string, CustomErrorPage> {
  const out: Record<string, CustomErrorPage> = {};
  if (v === null || v === undefined) return out;
  if (typeof v !== 'object' || Array.isArray(v)) {
    report(null, 'invalid value', 'a map of status codes to { file: PATH } or { location: URL, code: 302|303 }');
    return out;
  }
  for (const [code, spec] of Object.entries(v as Record<string, unknown>)) {
    const status = Number(code);
    if (!ERROR_FILE_CODES.includes(status)) {
      report(code, `status ${code} cannot have a custom error page`, ERROR_FILE_CODES.join(', '), code);
      continue;
    }
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      report(code, 'invalid error page', '{ file: PATH } or { location: URL, code: 302|303 }');
      continue;
    }
    const s = spec as Record<string, unknown>;
    if (typeof s.file === 'string') {
      const page = readErrorFile(s.file, (m) => report(code, m));
      if (page) out[code] = page;
    } else if (typeof s.location === 'string' && s.location !== '') {
      const redirect = s.code === undefined ? 302 : s.code;
      if (redirect !== 302 && redirect !== 303) {
        report(code, 'invalid redirect code', '302 or 303', String(redirect));
        continue;
      }
      // HAProxy's errorloc answer, header for header
      out[code] = { status: redirect, reason: redirect === 302 ? 'Found' : 'See Other', headers: ['cache-control', 'no-cache', 'location', s.location], body: '' };
    } else {
      report(code, 'invalid error page', '{ file: PATH } or { location: URL, code: 302|303 }');
    }
  }
  return out;
}

/** Reads and splits an errorfile; null after reporting a problem. */
export function readErrorFile(file: string, problem: (message: string) => void): CustomErrorPage | null {
  let raw: string;
  try {
    const buf = fs.readFileSync(file);
    if (buf.length > MAX_FILE) {
      problem(`errorfile '${file}' is larger than ${MAX_FILE} bytes`);
      return null;
    }
    raw = buf.toString('latin1');
  } catch (e) {
    problem(`cannot read errorfile '${file}': ${(e as Error).message}`);
    return null;
  }
  const headEnd = raw.search(/\r?\n\r?\n/);
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  const body = headEnd < 0 ? '' : raw.slice(headEnd).replace(/^\r?\n\r?\n/, '');
  const lines = head.split(/\r?\n/);
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) {
    problem(`errorfile '${file}' does not start with an HTTP status line such as "HTTP/1.0 503 Service Unavailable"`);
    return null;
  }
  const headers: string[] = [];
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c < 1) {
      problem(`errorfile '${file}': invalid header line "${l}"`);
      return null;
    }
    const name = l.slice(0, c).trim().toLowerCase();
    // uWS writes the length (and the connection handling) itself
    if (name === 'content-length' || name === 'connection' || name === 'transfer-encoding') continue;
    headers.push(name, l.slice(c + 1).trim());
  }
  return { status: Number(m[1]), reason: m[2] ?? '', headers, body };
}
