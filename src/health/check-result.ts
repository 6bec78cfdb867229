// What one probe (or one passive-analysis verdict) concluded, in HAProxy's vocabulary.
import type { CheckStatusName } from '../shared/state';

export interface CheckResult {
  status: CheckStatusName;
  /** HTTP status of the probe's response, 0 when none was read */
  code: number;
  /** HAProxy's "info": reason phrase, errno text, first line of a garbage reply... */
  info: string;
  /** ms from the start of the probe; -1 when not a probe (HANA) */
  durationMs: number;
}

/** HAProxy's check_statuses[].desc: the words that follow "reason:" in log lines. */
const DESCRIPTIONS: Partial<Record<CheckStatusName, string>> = {
  UNK: 'Unknown',
  INI: 'Initializing',
  HANA: 'Health analyze',
  SOCKERR: 'Socket error',
  L4OK: 'Layer4 check passed',
  L4TOUT: 'Layer4 timeout',
  L4CON: 'Layer4 connection problem',
  L6OK: 'Layer6 check passed',
  L6TOUT: 'Layer6 timeout',
  L6RSP: 'Layer6 invalid response',
  L7TOUT: 'Layer7 timeout',
  L7RSP: 'Layer7 invalid response',
  L7OK: 'Layer7 check passed',
  L7OKC: 'Layer7 check conditionally passed',
  L7STS: 'Layer7 wrong status',
};

export function statusDescription(status: CheckStatusName): string {
  return DESCRIPTIONS[status] ?? 'Unknown';
}

export function passed(status: CheckStatusName): boolean {
  return status === 'L4OK' || status === 'L6OK' || status === 'L7OK' || status === 'L7OKC';
}

/** HAProxy prints "code:" only for statuses at or above its L57DATA marker. */
export function showsCode(status: CheckStatusName): boolean {
  return status === 'L7OK' || status === 'L7OKC' || status === 'L7STS';
}

// strerror() texts for the errno codes a connect can end with, so log lines read like HAProxy's.
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  EPIPE: 'Broken pipe',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
};

export function errnoText(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && ERRNO_TEXT[code]) return ERRNO_TEXT[code];
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return String(err);
}
