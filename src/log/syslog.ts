// Syslog framing (RFC 3164 and RFC 5424) for log lines the primary sends to syslog targets.
import * as os from 'node:os';

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  auth2: 10, ftp: 11, ntp: 12, audit: 13, alert: 14, cron2: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

export const SEVERITIES: Record<string, number> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export function facilityCode(name: string): number {
  return FACILITIES[name] ?? FACILITIES.local0;
}

export function severityCode(name: string): number {
  return SEVERITIES[name] ?? SEVERITIES.info;
}

export const APP_NAME = 'gatehouse';
const HOST = os.hostname().split('.')[0] || '-';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? '0' + n : '' + n;
}

let sec3164 = -1;
let stamp3164 = '';

/** <PRI>Mmm dd hh:mm:ss HOST gatehouse[PID]: MSG (local time, day padded with a space) */
export function frame3164(pri: number, msg: string, now = Date.now()): string {
  return prefix3164(pri, now) + msg;
}

/** frame3164's header: everything before MSG (cached per second). */
export function prefix3164(pri: number, now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  if (sec !== sec3164) {
    const d = new Date(sec * 1000);
    const day = d.getDate();
    stamp3164 =
      MONTHS[d.getMonth()] + ' ' + (day < 10 ? ' ' + day : '' + day) + ' ' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
      ' ' + HOST + ' ' + APP_NAME + '[' + process.pid + ']: ';
    sec3164 = sec;
  }
  return '<' + pri + '>' + stamp3164;
}

/** <PRI>1 TIMESTAMP HOST gatehouse PID - - MSG (UTC timestamp with milliseconds) */
export function frame5424(pri: number, msg: string, now = Date.now()): string {
  return prefix5424(pri, now) + msg;
}

/** frame5424's header: everything before MSG. */
export function prefix5424(pri: number, now = Date.now()): string {
  return '<' + pri + '>1 ' + new Date(now).toISOString() + ' ' + HOST + ' ' + APP_NAME + ' ' + process.pid + ' - - ';
}

export function priority(facility: number, severity: number): number {
  return facility * 8 + severity;
}
