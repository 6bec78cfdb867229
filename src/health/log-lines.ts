// HAProxy's words for server state changes (server.c srv_append_status and friends), so that
// log scrapers and people used to HAProxy read gatehouse's logs unchanged.
import type { CheckResult } from './check-result';
import { showsCode, statusDescription } from './check-result';

export type LogLevel = 'info' | 'notice' | 'warning' | 'alert';

export interface BackendCounts {
  /** usable non-backup servers after the change */
  active: number;
  /** usable backup servers after the change */
  backup: number;
}

export interface ServerNames {
  backendName: string;
  serverName: string;
  backup: boolean;
}

/** HAProxy's chunk_asciiencode: non-printables and the quote as \xHH. */
function asciiEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    out += c < 0x20 || c > 0x7e || ch === '"' ? '\\x' + (c & 0xff).toString(16).toUpperCase().padStart(2, '0') : ch;
  }
  return out;
}

/** ", reason: ..., code: N, info: "...", check duration: Nms" */
export function checkReason(r: CheckResult): string {
  let s = `, reason: ${statusDescription(r.status)}`;
  if (showsCode(r.status)) s += `, code: ${r.code}`;
  if (r.info) s += `, info: "${asciiEncode(r.info)}"`;
  if (r.durationMs >= 0) s += `, check duration: ${r.durationMs}ms`;
  return s;
}

function who(n: ServerNames): string {
  return `${n.backup ? 'Backup ' : ''}Server ${n.backendName}/${n.serverName}`;
}

function runningOnBackup(c: BackendCounts): string {
  return c.backup > 0 && c.active === 0 ? ' Running on backup.' : '';
}

export function serverDownLine(n: ServerNames, r: CheckResult, c: BackendCounts, sessions: number, queued: number): string {
  return (
    `${who(n)} is DOWN${checkReason(r)}. ${c.active} active and ${c.backup} backup servers left.` +
    `${runningOnBackup(c)} ${sessions} sessions active, 0 requeued, ${queued} remaining in queue.`
  );
}

export function serverUpLine(n: ServerNames, r: CheckResult, c: BackendCounts, queued: number): string {
  return (
    `${who(n)} is UP${checkReason(r)}. ${c.active} active and ${c.backup} backup servers online.` +
    `${runningOnBackup(c)} 0 sessions requeued, ${queued} total in queue.`
  );
}

export function backendDownLine(backendName: string): string {
  return `backend ${backendName} has no server available!`;
}
