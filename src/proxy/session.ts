// One request's life as the stats and the access log see it, whatever carries it: when it
// started, how long each phase took, its status and termination state, its frontend/global
// maxconn slot, and the answers gatehouse gives itself (error pages, rule answers, refusals).
// The HTTP exchange (exchange.ts) builds on it; a WebSocket tunnel ends the same record.

import { C_DREQ, C_EREQ, C_INTERCEPTED } from '../shared/counters';
import { ACT_DENY, ACT_REDIRECT, type Decision } from '../rules';
import type { AdmissionWaiter, BackendRuntime, FrontendRuntime, QueueWaiter, TimedRequest, WorkerRuntime } from '../worker/runtime';
import { countRequestEnd, countRequestStart, countStatus } from './accounting';
import { SessionRecord } from './record';
import type { ClientResponse } from './client';
import { E408, writeErrorPage, type ErrorPage } from './error-pages';
import { RequestPlan } from './plan';
import { trackEnd } from '../stick/track';
import { monoNow } from '../shared/clock';
import { performance } from 'node:perf_hooks';

export abstract class Session extends SessionRecord implements AdmissionWaiter, QueueWaiter, TimedRequest {
  private readonly sendRejectB = this.sendReject.bind(this);
  /** the engine's abort handler for this object (bound once: objects serve many requests) */
  protected readonly onAbortedB = this.onAborted.bind(this);
  private rejectPage: ErrorPage | null = null;

  rt!: WorkerRuntime;
  fe!: FrontendRuntime;
  be: BackendRuntime | null = null;
  /** the client's answer; null once the client is gone or the answer is out of our hands */
  res: ClientResponse | null = null;
  readonly plan = new RequestPlan();

  // the log record's fields (access log, histograms) and the server attempt: SessionRecord's
  /** bytes already counted in the stats as they passed (a tunnel's messages) */
  protected liveIn = 0;
  protected liveOut = 0;

  /** the status line went out (no other answer can follow, only a cut) */
  protected headSent = false;
  /** the answer is complete, or the client is gone */
  protected responded = false;
  protected finished = true;
  protected t0 = 0;
  deadline = 0;
  clientDeadline = 0;
  /** holds a frontend/global maxconn slot (WorkerRuntime.admit) */
  private admitted = false;
  /** waiting in the frontend's queue for one */
  private feQueued = false;
  private tQueued = 0;

  /** The request arrived on `fe`. */
  protected beginSession(rt: WorkerRuntime, fe: FrontendRuntime, res: ClientResponse): void {
    this.rt = rt;
    this.fe = fe;
    this.res = res;
    this.finished = false;
    this.acceptMs = Date.now();
    this.t0 = performance.now();
    this.frontend = fe.index;
    countRequestStart(rt.slab, fe.row, this.acceptMs);
  }

  protected setBackend(be: BackendRuntime | null): void {
    this.be = be;
    this.backend = be === null ? -1 : be.index;
  }

  /** Take a frontend/global maxconn slot; false: the request waits for one (retryAdmission). */
  protected admit(): boolean {
    const rt = this.rt;
    rt.active.add(this);
    if (rt.admit(this.fe)) {
      this.admitted = true;
      return true;
    }
    this.feQueued = true;
    this.tQueued = performance.now();
    this.deadline = monoNow() + this.be!.cfg.timeouts.queue;
    this.fe.queue.push(this);
    rt.admissionWaiting++;
    return false;
  }

  /** The request got its maxconn slot after waiting: go on (pick a server). */
  protected abstract onAdmitted(): void;

  /** Called by the worker when a server slot may have freed for a queued request; false = still full. */
  abstract retryFromQueue(): boolean;

  /** The client went away (the engine's abort callback). */
  protected abstract onAborted(): void;

  /** Called by the worker when a maxconn slot may have freed; false = still full. */
  retryAdmission(): boolean {
    if (this.res === null || this.finished) {
      this.leaveQueues();
      return true;
    }
    if (!this.rt.admit(this.fe)) return false;
    this.admitted = true;
    this.leaveQueues();
    this.deadline = 0;
    this.onAdmitted();
    return true;
  }

  /** Leave the frontend's or the backend's queue, if in one (records the time waited). */
  protected leaveQueues(): void {
    if (this.feQueued) {
      this.feQueued = false;
      const q = this.fe.queue;
      const i = q.indexOf(this);
      if (i >= 0) q.splice(i, 1);
      this.rt.admissionWaiting--;
      this.tw = performance.now() - this.tQueued;
      return;
    }
    const waited = this.attempt.dequeue(this);
    if (waited >= 0) this.tw = waited;
  }

  protected get inQueue(): boolean {
    return this.feQueued || this.attempt.queued;
  }

  abstract onTimeout(): void;
  abstract onClientTimeout(): void;
  abstract keepClientTimer(now: number): void;

  /** Cut the client connection (a response had begun, or the request cannot go on). */
  protected cutClient(): void {
    const res = this.res;
    if (res !== null && !this.responded) {
      this.responded = true;
      this.res = null;
      res.close();
    }
    this.finish();
  }

  /**
   * Refuse a request before anything went upstream. The answer waits for the next turn of the
   * event loop: uWS parses every request in a read before returning, so bytes after a rejected
   * head (a smuggled or pipelined request) would be handled first. Deferred, uWS sees them
   * arrive while a response is pending and closes the connection instead (nothing forwarded,
   * no answer), while a lone bad request gets its 4xx.
   */
  protected reject(page: ErrorPage): void {
    this.rejectPage = page;
    // the request never reaches a backend: count it as the frontend's request error only
    this.setBackend(null);
    this.rt.slab[this.fe.row + C_EREQ]++;
    this.res!.onAborted(this.onAbortedB);
    setImmediate(this.sendRejectB);
  }

  /** A deferred reject is pending: it finishes the request itself. */
  protected get rejecting(): boolean {
    return this.rejectPage !== null;
  }

  private sendReject(): void {
    const page = this.rejectPage!;
    this.rejectPage = null;
    const res = this.res;
    this.termination = res === null ? 'CR' : 'PR';
    this.status = statusOf(page);
    if (res !== null) {
      this.responded = true;
      this.headSent = true;
      this.writePage(res, page, -1, true);
    }
    this.finish();
  }

  /** Request rules answered (deny, return, redirect): the request goes to no server. */
  protected answerDecision(d: Decision): void {
    this.setBackend(null);
    if (d.action === ACT_DENY) this.rt.slab[this.fe.row + C_DREQ]++;
    else this.rt.slab[this.fe.row + C_INTERCEPTED]++;
    this.termination = d.action === ACT_DENY ? 'PR' : d.action === ACT_REDIRECT ? 'LR' : '--';
    this.writeDecision(d);
    this.finish();
  }

  /** Write a rule's answer (status, headers, body) to the client. */
  protected writeDecision(d: Decision): void {
    const res = this.res!;
    this.responded = true;
    this.headSent = true;
    this.status = d.status;
    countStatus(this.rt.slab, d.status, this.fe.row, -1, -1);
    this.bytesOut += d.body.length;
    const close = this.plan.clientClose;
    res.cork(() => {
      res.writeStatus(d.status + ' ' + d.reason);
      for (let i = 0; i < d.headersLen; i += 2) res.writeHeader(d.headers[i], d.headers[i + 1]);
      if (close) res.writeHeader('connection', 'close');
      res.end(d.body);
    });
  }

  /** Answer with one of HAProxy's error pages, or cut the client if a response already began. */
  answer(page: ErrorPage, termination: string): void {
    this.termination = termination;
    const res = this.res;
    if (res === null || this.responded) {
      this.finish();
      return;
    }
    if (this.headSent) {
      this.cutClient();
      return;
    }
    this.responded = true;
    this.headSent = true;
    // After a 408 the client is not sending what it announced: close, as HAProxy does.
    const close = this.plan.clientClose || page === E408;
    this.writePage(res, page, this.be === null ? -1 : this.be.row, close);
    this.finish();
  }

  /**
   * Write HAProxy's built-in `page`, or the proxy's own page for that status (errorfile,
   * errorloc: src/rules/error-table.ts), and count its status class.
   */
  private writePage(res: ClientResponse, page: ErrorPage, beRow: number, close: boolean): void {
    const builtIn = statusOf(page);
    const custom = this.rt.errorPages === null ? null : this.rt.errorPages.errorPage(this.fe.index, this.backend, builtIn);
    if (custom === null) {
      this.status = builtIn;
      this.bytesOut += page.body.length;
      const engineCloses = this.plan.engineCloses;
      res.cork(() => writeErrorPage(res, page, close, engineCloses));
    } else {
      this.status = custom.status;
      this.bytesOut += custom.body.length;
      res.cork(() => {
        res.writeStatus(custom.status + ' ' + custom.reason);
        for (let i = 0; i < custom.headers.length; i += 2) res.writeHeader(custom.headers[i], custom.headers[i + 1]);
        // uWS writes its own Connection: close for some requests (see writeErrorPage)
        if (close && this.plan.engineCloses) res.writeHeader('connection', 'close');
        res.end(custom.body, close);
      });
    }
    countStatus(this.rt.slab, this.status, this.fe.row, beRow, -1);
  }

  /** The request is over: its counters, its log line and latency, its maxconn slot. */
  protected finish(): void {
    if (this.finished) return;
    this.finished = true;
    const rt = this.rt;
    this.ta = performance.now() - this.t0;
    const beRow = this.be === null ? -1 : this.be.row;
    const server = this.attempt.server;
    const srvRow = server >= 0 ? rt.servers[server].row : -1;
    countRequestEnd(rt.slab, this.fe.row, beRow, srvRow, this.bytesIn - this.liveIn, this.bytesOut - this.liveOut, this.ta, this.tr, this.tc);
    // stick counters that need the answer: conn_cur, http_err_*, bytes_in/out
    const view = this.plan.view;
    if (view !== null) trackEnd(view.trackers, this.status, this.bytesIn, this.bytesOut);
    rt.active.delete(this);
    if (this.admitted) {
      this.admitted = false;
      rt.releaseAdmission(this.fe);
    }
    if (rt.telemetry !== null) rt.telemetry.onRequestDone(this);
    this.onFinished();
  }

  /** After finish(): the object may serve another request once the engine is done with it. */
  protected abstract onFinished(): void;

  /** Clear the record so the object can serve another request. */
  protected resetSession(): void {
    this.res = null;
    this.setBackend(null);
    this.plan.reset();
    this.clientPort = 0;
    this.httpVersion = 'HTTP/1.1';
    this.attempt.reset();
    this.clientIp = '';
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.liveIn = 0;
    this.liveOut = 0;
    this.status = 0;
    this.termination = '--';
    this.tw = 0;
    this.tc = -1;
    this.tr = -1;
    this.ta = -1;
    this.headSent = false;
    this.responded = false;
    this.admitted = false;
    this.feQueued = false;
    this.deadline = 0;
    this.clientDeadline = 0;
  }
}

/** The numeric status of an error page ("503 Service Unavailable" -> 503). */
export function statusOf(page: ErrorPage): number {
  const s = page.status;
  return (s.charCodeAt(0) - 48) * 100 + (s.charCodeAt(1) - 48) * 10 + (s.charCodeAt(2) - 48);
}
