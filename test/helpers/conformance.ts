// The request cases of ../shared/conformance (h1spec and llhttp's request tests, with what
// HAProxy 2.6 did with each; copied to test/corpus/conformance), replayed on raw sockets and
// judged by one set of rules, for the front engine alone (front-node-conformance.test.ts) and
// a whole gatehouse process (gatehouse-conformance.test.ts).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { REPO } from './net';

export interface Case {
  id: string;
  name: string;
  request_b64: string;
  suite_expects?: { status_ranges: number[][]; timeout_ok: boolean };
  llhttp_strict?: { completes: number; error: string | null };
  haproxy_2_6: { outcome: string; statuses: number[]; end: string; requests_reaching_server: number };
}

// A copy in the repository, so `make test` runs them on a fresh clone; conformance-copy.test
// checks it against ../shared/conformance wherever that sits beside the checkout.
export const CONFORMANCE_DIR = path.join(REPO, 'test', 'corpus', 'conformance');
/** ../shared/conformance beside the checkout (a worktree under wt/ has it one level further up), or null */
export const SHARED_CONFORMANCE_DIR =
  [path.resolve(REPO, '..', 'shared', 'conformance'), path.resolve(REPO, '..', '..', 'shared', 'conformance')].find((d) => fs.existsSync(path.join(d, 'h1spec.json'))) ?? null;

export const SUITES = ['h1spec.json', 'llhttp-requests.json'];

export function loadCases(suite: string): Case[] {
  return JSON.parse(fs.readFileSync(path.join(CONFORMANCE_DIR, suite), 'utf8')) as Case[];
}

export interface Seen {
  statuses: number[];
  /** ms after connect at which each status line's read arrived */
  times: number[];
  firstByteMs: number;
  clientPort: number;
}

/** Sends `data` on a new connection and records the status lines seen within `observeMs`. */
export function replay(port: number, data: Buffer, observeMs: number): Promise<Seen> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const arrivals: Array<[number, number]> = []; // [offset in out, ms]
    let first = -1;
    let clientPort = 0;
    s.on('connect', () => {
      clientPort = s.localPort ?? 0;
      s.write(data);
    });
    s.on('data', (d) => {
      if (first < 0) first = Date.now() - t0;
      arrivals.push([out.length, Date.now() - t0]);
      out += d.toString('latin1');
    });
    s.on('error', () => {});
    setTimeout(() => {
      s.destroy();
      const found = [...out.matchAll(/HTTP\/1\.1 (\d{3}) /g)];
      const times = found.map((m) => {
        let t = -1;
        for (const [off, ms] of arrivals) if (off <= (m.index ?? 0)) t = ms;
        return t;
      });
      resolve({ statuses: found.map((m) => Number(m[1])), times, firstByteMs: first, clientPort });
    }, observeMs);
  });
}

/**
 * What is wrong with one case's outcome (empty: nothing): the same outcome class as HAProxy
 * 2.6, or an error status where HAProxy forwarded something llhttp's strict mode (or the
 * h1spec suite) rejects; an incomplete request gets nothing until the earlier of
 * `timeout http-request` and `timeout client` and then 408; never more requests reach the
 * server (`reached`) than the client gets answers.
 */
export function judge(c: Case, s: Seen, reached: number, timeoutMs: { httpRequest: number; client: number }): string[] {
  const hap = c.haproxy_2_6;
  const soonest = Math.min(timeoutMs.httpRequest, timeoutMs.client) - 60;
  const finals = s.statuses.filter((x) => x >= 200);
  const why: string[] = [];
  if (reached > finals.length) why.push(`${reached} reached the server, ${finals.length} answers`);
  if (hap.outcome === 'hang') {
    if (s.firstByteMs >= 0 && s.firstByteMs < soonest) why.push(`answered after ${s.firstByteMs} ms, before the timeout`);
    if (s.statuses.some((x) => x !== 408 && x !== 100)) why.push(`statuses ${s.statuses.join(',')} (408 expected)`);
  } else if (hap.outcome === 'answered') {
    if (finals.length === 0) why.push('no answer');
    const hapErrors = hap.statuses.some((x) => x >= 400);
    // a late 408 answers bytes left incomplete after the requests HAProxy answered (HAProxy's
    // 10 s timeout was beyond its observation window)
    const ourErrors = finals.filter((x, k) => x >= 400 && !(x === 408 && s.times[s.statuses.indexOf(x, k)] >= soonest && k === finals.length - 1));
    if (ourErrors.length > 0 && !hapErrors) {
      const strictRejects = c.llhttp_strict !== undefined && c.llhttp_strict.error !== null;
      const suiteAllows = c.suite_expects !== undefined && ourErrors.every((x) => c.suite_expects!.status_ranges.some(([lo, hi]) => x >= lo && x <= hi));
      if (!strictRejects && !suiteAllows) why.push(`error ${ourErrors.join(',')} where HAProxy forwarded and the request is valid`);
    }
    if (!hapErrors && ourErrors.length === 0 && finals.length < hap.statuses.filter((x) => x >= 200).length) {
      why.push(`fewer answers than HAProxy (${finals.length} vs ${hap.statuses.length})`);
    }
  } else {
    why.push(`unexpected HAProxy outcome ${hap.outcome}`);
  }
  return why;
}
