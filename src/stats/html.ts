// The HTML dashboard, in the spirit of HAProxy's stats page: one table per proxy with its
// FRONTEND row, a row per server (coloured by status) and the BACKEND row, then a chart of the
// proxy's last 15 minutes; every row ends with a sparkline. Rendered on the server; the one
// inline script (dashboard-script.ts) draws the charts from `<uri>;history` and keeps page and
// charts live without reloading. Without scripts the tables still show, refreshed by <meta refresh>.
import type { StatsRow } from './columns';
import { ADMIN_MESSAGES, MAX_WEIGHT, type AdminResult } from './admin';
import type { LatencySummary } from './histograms';
import type { BackendView, FrontendView, ProxyView, ServerView, Snapshot } from './snapshot';
import { gatehouseVersion } from './version';
import { DASHBOARD_SCRIPT } from './dashboard-script';

export interface PageOptions {
  uri: string;
  /** seconds; 0 = none */
  refresh: number;
  hideVersion: boolean;
  admin: boolean;
  user: string;
  result: AdminResult | null;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s: string | number): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

export function formatUptime(sec: number): string {
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${d}d ${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s`;
}

function bytes(v: number): string {
  if (v < 1024) return String(v);
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[u]}`;
}

export function ms(v: number): string {
  if (v < 1) return v.toFixed(3);
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return String(Math.round(v));
}

function duration(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(sec / 86400)}d${Math.floor((sec % 86400) / 3600)}h`;
}

/** A numeric cell: '' stays empty; data-v keeps the raw value for scripts and tests. */
function td(cls: string, v: string | number | undefined, shown?: string): string {
  if (v === undefined || v === '') return `<td class="${cls}"></td>`;
  return `<td class="${cls}" data-v="${esc(v)}">${shown ?? esc(v)}</td>`;
}

function latencyCells(l: LatencySummary | null): string {
  if (!l) return '<td class="p50"></td><td class="p90"></td><td class="p99"></td><td class="p999"></td>';
  const c = (cls: string, v: number) => `<td class="${cls} lat" data-v="${v}" title="${l.count} requests">${ms(v)}</td>`;
  return c('p50', l.p50) + c('p90', l.p90) + c('p99', l.p99) + c('p999', l.p999);
}

function commonCells(r: StatsRow, l: LatencySummary | null): string {
  const b = (v: string | number | undefined) => (v === undefined || v === '' ? undefined : bytes(Number(v)));
  return (
    td('qcur', r.qcur) + td('qmax', r.qmax) +
    td('rate', r.rate) + td('rate_max', r.rate_max) +
    td('scur', r.scur) + td('smax', r.smax) + td('slim', r.slim) + td('stot', r.stot) + td('lbtot', r.lbtot) +
    td('lastsess', r.lastsess, r.lastsess === undefined || Number(r.lastsess) < 0 ? '' : duration(Number(r.lastsess))) +
    td('bin', r.bin, b(r.bin)) + td('bout', r.bout, b(r.bout)) +
    td('dreq', r.dreq) + td('dresp', r.dresp) +
    td('ereq', r.ereq) + td('econ', r.econ) + td('eresp', r.eresp) +
    td('wretr', r.wretr) + td('wredis', r.wredis) +
    td('hrsp_1xx', r.hrsp_1xx) + td('hrsp_2xx', r.hrsp_2xx) + td('hrsp_3xx', r.hrsp_3xx) + td('hrsp_4xx', r.hrsp_4xx) + td('hrsp_5xx', r.hrsp_5xx) +
    latencyCells(l)
  );
}

function lastCheck(r: StatsRow): string {
  if (r.check_status === undefined || r.check_status === '') return '';
  let s = esc(r.check_status);
  if (r.check_code !== undefined && r.check_code !== '') s += `/${esc(r.check_code)}`;
  if (r.check_duration !== undefined && r.check_duration !== '') s += ` in ${esc(r.check_duration)}ms`;
  return s;
}

/** The row's sparkline (drawn by the page script from the history of proxy/name). */
function spark(proxy: string, name: string): string {
  return `<td class="trend"><canvas class="spark" data-proxy="${esc(proxy)}" data-name="${esc(name)}"></canvas></td>`;
}

function frontendRow(f: FrontendView, adminCol: boolean): string {
  const r = f.row;
  return (
    `<tr class="frontend" data-row="FRONTEND">` + (adminCol ? '<td></td>' : '') + `<td class="name">Frontend</td>` + spark(f.name, 'FRONTEND') +
    commonCells(r, f.latency) +
    `<td class="status" data-status="OPEN">OPEN</td><td></td><td></td><td></td><td></td><td></td><td></td><td></td></tr>`
  );
}

function serverRow(s: ServerView, backend: string, adminCol: boolean): string {
  const r = s.row;
  const box = adminCol ? `<td class="sel"><input type="checkbox" name="s" value="${esc(s.name)}" aria-label="select ${esc(s.name)}"></td>` : '';
  return (
    `<tr class="server ${s.statusClass}${s.backup ? ' backup' : ''}" data-server="${esc(s.name)}" data-backend="${esc(backend)}" data-status="${esc(s.status)}">` +
    box + `<td class="name">${esc(s.name)}</td>` + spark(backend, s.name) + commonCells(r, s.latency) +
    `<td class="status" data-status="${esc(s.status)}">${esc(s.status)} <span class="since">${duration(Number(r.lastchg) || 0)}</span></td>` +
    `<td class="lastchk">${lastCheck(r)}</td>` +
    td('weight', r.weight) +
    `<td class="act">${s.backup ? '-' : 'Y'}</td><td class="bck">${s.backup ? 'Y' : '-'}</td>` +
    td('chkfail', r.chkfail) + td('chkdown', r.chkdown) +
    td('downtime', r.downtime, r.downtime === undefined || r.downtime === '' ? '' : duration(Number(r.downtime))) +
    `</tr>`
  );
}

function backendRow(b: BackendView, adminCol: boolean): string {
  const r = b.row;
  const cls = b.status === 'UP' ? 'up' : 'down';
  return (
    `<tr class="backend ${cls}" data-row="BACKEND">` + (adminCol ? '<td></td>' : '') + `<td class="name">Backend</td>` + spark(b.name, 'BACKEND') +
    commonCells(r, b.latency) +
    `<td class="status" data-status="${esc(b.status)}">${esc(b.status)} <span class="since">${duration(Number(r.lastchg) || 0)}</span></td><td></td>` +
    td('weight', r.weight) + td('act', r.act) + td('bck', r.bck) + `<td></td>` + td('chkdown', r.chkdown) + `<td></td></tr>`
  );
}

function header(adminCol: boolean): string {
  const groups: [string, string[]][] = [
    ['Queue', ['Cur', 'Max']],
    ['Session rate', ['Cur', 'Max']],
    ['Sessions', ['Cur', 'Max', 'Limit', 'Total', 'LbTot', 'Last']],
    ['Bytes', ['In', 'Out']],
    ['Denied', ['Req', 'Resp']],
    ['Errors', ['Req', 'Conn', 'Resp']],
    ['Warnings', ['Retr', 'Redis']],
    ['Responses', ['1xx', '2xx', '3xx', '4xx', '5xx']],
    ['Latency (ms)', ['p50', 'p90', 'p99', 'p99.9']],
    ['Server', ['Status', 'LastChk', 'Wght', 'Act', 'Bck', 'Chk', 'Dwn', 'Dwntme']],
  ];
  const top = (adminCol ? '<th rowspan="2"></th>' : '') + '<th rowspan="2" class="name"></th>' +
    '<th rowspan="2" class="trend" title="requests/s (blue), p99 (orange), DOWN/MAINT/DRAIN seconds (band)">Last 15 min</th>' + groups.map(([g, c]) => `<th colspan="${c.length}">${g}</th>`).join('');
  const sub = groups.map(([, c]) => c.map((x) => `<th>${x}</th>`).join('')).join('');
  return `<thead><tr class="groups">${top}</tr><tr class="cols">${sub}</tr></thead>`;
}

function proxyTable(p: ProxyView, o: PageOptions): string {
  const adminCol = o.admin && p.backend !== null && p.backend.servers.length > 0;
  const kind = p.frontend && p.backend ? 'listen' : p.frontend ? 'frontend' : 'backend';
  let rows = '';
  if (p.frontend) rows += frontendRow(p.frontend, adminCol);
  if (p.backend) {
    for (const s of p.backend.servers) rows += serverRow(s, p.backend.name, adminCol);
    rows += backendRow(p.backend, adminCol);
  }
  const table =
    `<table class="stats">${header(adminCol)}<tbody>${rows}</tbody></table>`;
  let body = table;
  if (adminCol) {
    body =
      `<form method="post" action="${esc(o.uri)}" class="admin">` +
      `<input type="hidden" name="b" value="${esc(p.backend!.name)}">` + table +
      `<div class="actions">Choose the action to perform on the checked servers: ` +
      `<select name="action"><option value="">Select...</option><option value="ready">Set state to READY</option>` +
      `<option value="drain">Set state to DRAIN</option><option value="maint">Set state to MAINT</option>` +
      `<option value="weight">Set weight to</option></select> ` +
      `<input type="number" name="weight" min="0" max="${MAX_WEIGHT}" placeholder="weight" class="weight"> ` +
      `<button type="submit">Apply</button></div></form>`;
  }
  // the proxy's chart: its FRONTEND row (what clients saw), or BACKEND for a plain backend
  const row = p.frontend ? 'FRONTEND' : 'BACKEND';
  // shaded where the backend (if any) was DOWN
  const band = p.backend ? 'BACKEND' : row;
  const chart = `<div class="chart"><canvas class="pxchart" data-proxy="${esc(p.name)}" data-name="${row}" data-band="${band}" aria-label="${esc(p.name)}: last 15 minutes"></canvas></div>`;
  return `<section class="proxy ${kind}" id="px-${esc(p.name)}" data-proxy="${esc(p.name)}"><h2><span class="pxname">${esc(p.name)}</span> <span class="kind">${kind}</span></h2>${body}${chart}</section>`;
}

const CSS = `
body{font-family:Arial,Helvetica,sans-serif;font-size:12px;margin:12px 16px;color:#1b1b1b;background:#fff}
h1{font-size:20px;margin:0 0 6px;color:#1f4e79}h1 .ver{font-size:13px;color:#666;font-weight:normal}
.top{display:flex;gap:24px;align-items:flex-start;margin-bottom:10px}
table.info td{padding:1px 10px 1px 0}table.info td:first-child{color:#555}
.legend{display:grid;grid-template-columns:repeat(4,auto);gap:3px 10px}
.legend span{display:inline-block;width:14px;height:10px;border:1px solid #888;vertical-align:middle;margin-right:4px}
.msg{padding:6px 10px;margin:6px 0;border:1px solid #7a7;background:#e2f5e2}.msg.err{border-color:#c77;background:#fbe3e3}
section.proxy{margin:14px 0}
h2{font-size:13px;margin:0;padding:3px 8px;background:#1f4e79;color:#fff;display:inline-block;border-radius:3px 3px 0 0}
h2 .kind{font-weight:normal;color:#cde;font-size:11px}
table.stats{border-collapse:collapse;font-size:11px;width:100%}
table.stats th{background:#dde6ee;border:1px solid #9ab;padding:2px 3px;font-weight:bold}
table.stats tr.groups th{background:#c8d6e3}
table.stats td{border:1px solid #ccd;padding:2px 4px;text-align:right;white-space:nowrap}
table.stats td.name,table.stats td.status,table.stats td.lastchk{text-align:left}
td.name{font-weight:bold}td.lat{background:rgba(255,255,255,.35)}
tr.frontend,tr.backend{background:#e8e8d0;font-weight:bold}
tr.backend.down{background:#ff9090}
tr.up,.legend .up{background:#c0ffc0}tr.down,.legend .down{background:#ff9090}
tr.going-down,.legend .going-down{background:#ffffa0}tr.going-up,.legend .going-up{background:#ffd020}
tr.maint,.legend .maint{background:#c07820;color:#fff}tr.drain,.legend .drain{background:#20a0ff}
tr.nocheck,.legend .nocheck{background:#e0e0e0}
tr.backup.up{background:#b0d0ff}
span.since{color:#555;font-weight:normal;font-size:10px}tr.maint span.since{color:#eee}
form.admin .actions{margin-top:4px;padding:4px;background:#eef2f6;border:1px solid #ccd}
input.weight{width:70px}
td.trend{padding:1px 2px;width:124px;background:#fff}canvas.spark{display:block;width:120px;height:18px}
div.chart{border:1px solid #ccd;border-top:0;background:#fbfcfd}canvas.pxchart{display:block;width:100%;height:180px}
`;

/** Stick tables (src/stick): one row each, the figures `show table` and the metrics give. */
function stickTables(s: Snapshot): string {
  const tables = s.tables ?? [];
  if (tables.length === 0) return '';
  const head = ['table', 'type', 'size', 'used', 'evicted', 'refused (full)', 'bad keys', 'learned (peers)', 'lock waits'];
  const rows = tables
    .map((t) => `<tr class="sticktable" id="table-${esc(t.name)}"><td class="name">${esc(t.name)}</td><td>${esc(t.type)}</td>` +
      [t.size, t.used, t.evicted, t.refused, t.badKeys, t.learned, t.contended].map((v) => td('', v)).join('') + '</tr>')
    .join('');
  return `<h2>Stick tables</h2><table class="stats sticktables"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderHtml(s: Snapshot, o: PageOptions): string {
  const ver = o.hideVersion ? '' : ` <span class="ver">version ${esc(gatehouseVersion())}</span>`;
  // With scripts the page updates itself (tables every `refresh` s, charts every second);
  // without, <meta refresh> reloads it as before.
  const refresh = o.refresh > 0 ? `<noscript><meta http-equiv="refresh" content="${o.refresh}"></noscript>` : '';
  const msg = o.result
    ? `<div class="msg${o.result === 'DONE' || o.result === 'NONE' ? '' : ' err'}" data-result="${o.result}">${esc(ADMIN_MESSAGES[o.result])}</div>`
    : '';
  const legend = [
    ['up', 'active UP'], ['going-down', 'UP, going down'], ['going-up', 'DOWN, going up'], ['down', 'DOWN'],
    ['drain', 'DRAIN'], ['maint', 'MAINT (admin)'], ['nocheck', 'no check'],
  ]
    .map(([c, t]) => `<div><span class="${c}"></span>${t}</div>`)
    .join('');
  const info =
    `<table class="info"><tr><td>pid</td><td id="pid">${s.pid}</td></tr>` +
    `<tr><td>uptime</td><td id="uptime" data-v="${s.uptimeSec}">${formatUptime(s.uptimeSec)}</td></tr>` +
    `<tr><td>workers</td><td id="workers">${s.workers}</td></tr>` +
    `<tr><td>refresh</td><td id="refresh">${o.refresh > 0 ? `${o.refresh}s` : 'off'}</td></tr>` +
    `<tr><td>updated</td><td id="updated">${esc(new Date(s.nowMs).toISOString().replace('T', ' ').slice(0, 19))} UTC</td></tr>` +
    (o.user ? `<tr><td>user</td><td id="user">${esc(o.user)}${o.admin ? ' (admin)' : ''}</td></tr>` : '') +
    `</table>`;
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">${refresh}<title>Statistics Report for gatehouse</title>` +
    `<style>${CSS}</style></head><body data-uri="${esc(o.uri)}" data-refresh="${o.refresh}">` +
    `<h1>gatehouse statistics report${ver}</h1>` +
    `<div class="top">${info}<div class="legend">${legend}</div></div>${msg}` +
    s.proxies.map((p) => proxyTable(p, o)).join('') +
    stickTables(s) +
    `<script>${DASHBOARD_SCRIPT}</script></body></html>`
  );
}
