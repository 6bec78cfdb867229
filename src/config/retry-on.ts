// HAProxy's `retry-on`: which failures of a server attempt send the request again (within
// `retries`). A backend keeps them as one bit mask; the exchange tests the bit of the failure
// it sees. HAProxy's default is conn-failure only: a request that the server received and then
// died on (closed, reset, timed out, answered junk) is not replayed unless asked for.

export const RO_CONN_FAILURE = 1 << 0;
export const RO_EMPTY_RESPONSE = 1 << 1;
export const RO_JUNK_RESPONSE = 1 << 2;
export const RO_RESPONSE_TIMEOUT = 1 << 3;
/** accepted for compatibility: gatehouse sends no TLS early data, so it never fires */
export const RO_0RTT_REJECTED = 1 << 4;

/** The statuses HAProxy 2.6 accepts, each with its bit (from 1 << 5 on). */
const STATUSES = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504];
const STATUS_SHIFT = 5;

const KEYWORDS: Record<string, number> = {
  none: 0,
  'conn-failure': RO_CONN_FAILURE,
  'empty-response': RO_EMPTY_RESPONSE,
  'junk-response': RO_JUNK_RESPONSE,
  'response-timeout': RO_RESPONSE_TIMEOUT,
  '0rtt-rejected': RO_0RTT_REJECTED,
  'all-retryable-errors':
    RO_CONN_FAILURE | RO_EMPTY_RESPONSE | RO_JUNK_RESPONSE | RO_RESPONSE_TIMEOUT | RO_0RTT_REJECTED | statusBit(500) | statusBit(502) | statusBit(503) | statusBit(504),
};

export const DEFAULT_RETRY_ON = RO_CONN_FAILURE;

function statusBit(status: number): number {
  const i = STATUSES.indexOf(status);
  return i < 0 ? 0 : 1 << (STATUS_SHIFT + i);
}

/** Any status bit set at all (so the common mask costs one test per response). */
const ANY_STATUS = ((1 << STATUSES.length) - 1) << STATUS_SHIFT;

/** Does `mask` ask for a retry when the server answers `status`? */
export function retryOnStatus(mask: number, status: number): boolean {
  return (mask & ANY_STATUS) !== 0 && (mask & statusBit(status)) !== 0;
}

/** The keywords HAProxy accepts, for error messages. */
export const RETRY_ON_KEYWORDS = [...Object.keys(KEYWORDS), ...STATUSES.map(String)];

/**
 * Parse a retry-on list (HAProxy: replaces, not adds to, what was inherited). Returns the mask,
 * or an error message naming the first unknown keyword. `none` may not be combined.
 */
export function parseRetryOn(words: string[]): number | string {
  if (words.length === 0) return 'expects at least one keyword';
  let mask = 0;
  for (const w of words) {
    if (Object.prototype.hasOwnProperty.call(KEYWORDS, w)) {
      if (w === 'none' && words.length > 1) return "'none' cannot be combined with other keywords";
      mask |= KEYWORDS[w];
      continue;
    }
    const bit = /^[0-9]{3}$/.test(w) ? statusBit(Number(w)) : 0;
    if (bit === 0) return `unknown keyword '${w}' (expected: ${RETRY_ON_KEYWORDS.join(', ')})`;
    mask |= bit;
  }
  return mask;
}
