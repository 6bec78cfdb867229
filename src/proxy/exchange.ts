// What happens when an exchange's trip fails (retries, redispatch, 502/503/504, cuts, timeouts,
// a client that leaves), and the hand-off of a valid 101 to the engine's tunnel. The way there
// and back is ExchangeFlow's (exchange-flow.ts).

import { C_CLI_ABRT, C_ERESP, C_SRV_ABRT } from '../shared/counters';
import { FAIL_CONNECT, FAIL_IO, FAIL_PARSE, type UpstreamConn } from '../upstream/connection';
import { checkSwitchingProtocols } from '../upstream/ws-handshake';
import { countConnectError, countResponseError, countStatus, observeStatus } from './accounting';
import { RETRY_NONE, RETRY_SAME } from './attempt';
import { RO_CONN_FAILURE, RO_EMPTY_RESPONSE, RO_JUNK_RESPONSE, RO_RESPONSE_TIMEOUT } from '../config/retry-on';
import type { ClientResponse } from './client';
import { E408, E502, E503, E504, type ErrorPage } from './error-pages';
import { ExchangeFlow } from './exchange-flow';
import { drainConnection } from '../upstream/drain';
import { flushHeadOf } from '../upstream/head-batch';
import { performance } from 'node:perf_hooks';

/** The front engine's side of a protocol switch (uWS: WebSocket termination). */
export interface Upgrader {
  /**
   * The server accepted the upgrade with a valid 101 (`headers`): answer the client, then relay
   * between it and `conn` (now out of the pool) until both sides are done, and end the
   * exchange's record with ex.endTunnel(). `rest`: bytes the server sent after its 101.
   */
  switchProtocols(ex: Exchange, res: ClientResponse, conn: UpstreamConn, headers: string[], rest: Buffer): void;
}
export class Exchange extends ExchangeFlow {
  constructor(private readonly recycle: (ex: Exchange) => void) {
    super();
  }

  protected recycleSelf(): void {
    this.recycle(this);
  }

  /** retry-on <status>: drop the server's answer (and its connection), send the request again. */
  protected retryOnAnswer(conn: UpstreamConn): void {
    this.retryAfterFeed = false;
    if (this.conn === conn) {
      this.conn = null;
      conn.destroy();
    }
    this.upstreamComplete = false;
    // counted as a retry (attempt.retry), not as a response error: the answer was valid
    this.retryOrFail('SH', E502);
  }

  onResponseUpgrade(rest: Buffer): void {
    // a view of the connection's read buffer: keep a copy for the tunnel
    this.upgradeRest = rest.length > 0 ? Buffer.from(rest) : null;
  }

  /** The server answered the upgrade with 101: check it, then hand everything to the upgrader. */
  protected switchProtocols(): void {
    const conn = this.conn!;
    const res = this.res;
    const headers = this.upgradeHeaders!;
    const rest = this.upgradeRest ?? EMPTY;
    this.upgradeHeaders = null;
    this.upgradeRest = null;
    const plan = this.plan;
    if (res === null) {
      this.dropConn();
      this.attempt.release();
      this.finish();
      return;
    }
    if (checkSwitchingProtocols({ minor: conn.parser.versionMinor, headers }, plan.wsKey, plan.wsOffered) !== null) {
      this.conn = null;
      conn.destroy();
      countResponseError(this.rt, this.be!, this.attempt.server);
      this.attempt.release();
      this.answer(E502, 'PH');
      return;
    }
    this.status = 101;
    this.tr = performance.now() - this.tSent;
    this.headSent = true;
    this.deadline = 0;
    const server = this.attempt.server;
    observeStatus(this.rt, server, 101);
    countStatus(this.rt.slab, 101, this.fe.row, this.be!.row, this.rt.servers[server].row);
    // the tunnel's own ticker watches it from now on
    this.rt.active.delete(this);
    this.tunneled = true;
    this.conn = null;
    this.res = null;
    this.upgrader!.switchProtocols(this, res, conn, headers, rest);
  }

  /** From the tunnel: bytes it relayed, already counted in the stats as they passed. */
  countTunnel(bytesIn: number, bytesOut: number): void {
    this.bytesIn += bytesIn;
    this.liveIn += bytesIn;
    this.bytesOut += bytesOut;
    this.liveOut += bytesOut;
  }

  /** From the tunnel: both sides are done (the tunnel set `termination` if not clean). */
  endTunnel(): void {
    this.responded = true;
    this.attempt.release();
    this.finish();
  }

  // ---- failures ----

  onUpstreamFail(conn: UpstreamConn, phase: number): void {
    if (conn !== this.conn || this.finished) return;
    this.conn = null;
    const rt = this.rt;
    const server = this.attempt.server;
    // a held head (and body) never left: the answer below replaces it
    this.heldHeaders = null;
    this.heldBody.length = 0;
    this.heldComplete = false;
    this.retryAfterFeed = false;
    if (this.res === null) {
      this.attempt.release();
      this.finish();
      return;
    }
    const retryOn = this.be!.cfg.retryOn;
    if (phase === FAIL_CONNECT) {
      countConnectError(rt, this.be!, server);
      this.retryOrFail('SC', E503, (retryOn & RO_CONN_FAILURE) !== 0);
      return;
    }
    if (!this.headSent) {
      if (phase === FAIL_IO && conn.received === 0 && this.body.replayable) {
        // A reused connection the server closed while idle: re-send once on a fresh one (not a
        // retry, in HAProxy either).
        if (conn.served > 0) {
          this.connectFresh();
          return;
        }
        // A fresh connection closed with no answer: the request never left when its head was
        // still held back (a connection failure); otherwise it may be what killed the server,
        // and goes again only with `retry-on empty-response` (HAProxy's default: not).
        countResponseError(rt, this.be!, server);
        const mask = this.body.headHeld ? RO_CONN_FAILURE : RO_EMPTY_RESPONSE;
        this.retryOrFail('SH', E502, (retryOn & mask) !== 0);
        return;
      }
      countResponseError(rt, this.be!, server);
      // something that is not a complete response head: retry-on junk-response
      this.retryOrFail(phase === FAIL_PARSE ? 'PH' : 'SH', E502, (retryOn & RO_JUNK_RESPONSE) !== 0);
      return;
    }
    // The response was already streaming: all we can do is cut the client connection.
    rt.slab[rt.servers[server].row + C_SRV_ABRT]++;
    this.attempt.release();
    this.termination = 'SD';
    this.cutClient();
  }

  /**
   * Retry on another connection while retries last, when `allowed` (the backend's retry-on);
   * then answer `page` (503 by default).
   */
  private retryOrFail(termination: string, page: ErrorPage = E503, allowed = true): void {
    if (allowed && this.body.replayable && this.res !== null) {
      const next = this.attempt.retry();
      if (next === RETRY_SAME) {
        this.connectFresh();
        return;
      }
      if (next !== RETRY_NONE) {
        this.dispatch(this.attempt.exclude);
        return;
      }
    }
    this.attempt.release();
    this.answer(page, termination);
  }

  /** Called by the worker's ticker when `deadline` passed. */
  onTimeout(): void {
    if (this.finished) return;
    if (this.inQueue) {
      this.leaveQueues();
      this.answer(E503, 'sQ');
      return;
    }
    if (this.connLine !== null) {
      // waited its whole timeout connect in the line for a connection: as a connect timeout
      this.connLine = null;
      countConnectError(this.rt, this.be!, this.attempt.server);
      this.retryOrFail('sC', E503, (this.be!.cfg.retryOn & RO_CONN_FAILURE) !== 0);
      return;
    }
    const conn = this.conn;
    if (conn !== null && !this.requestSent) {
      // connect timeout
      this.conn = null;
      conn.destroy();
      countConnectError(this.rt, this.be!, this.attempt.server);
      this.retryOrFail('sC', E503, (this.be!.cfg.retryOn & RO_CONN_FAILURE) !== 0);
      return;
    }
    if (conn !== null) {
      this.conn = null;
      conn.destroy();
    }
    if (!this.headSent) {
      this.rt.slab[this.be!.row + C_ERESP]++;
      // retry-on response-timeout (retryOrFail gives the slot back either way)
      this.retryOrFail('sH', E504, this.requestSent && this.body.done && (this.be!.cfg.retryOn & RO_RESPONSE_TIMEOUT) !== 0);
    } else {
      this.attempt.release();
      this.termination = 'sD';
      this.cutClient();
    }
  }

  /**
   * Called by the worker's ticker while `clientDeadline` watches the client (an upload, or a
   * download the client is not reading). uWS 20.30 cuts such a client after its own fixed
   * ~10 s (its timer runs during uploads whatever arrives, and from every write the client does
   * not take), so `timeout client` could never be longer. pause()+resume() re-arms that timer
   * for another 10 s: back to back, uWS restores the socket's poll events as they were, so a
   * pending onWritable is not lost (AsyncSocket::throttle_helper). Not while the client is
   * paused for backpressure: pause() already stopped the timer then.
   */
  keepClientTimer(now: number): void {
    if (now - this.clientTimerAt < CLIENT_TIMER_REARM_MS) return;
    this.clientTimerAt = now;
    const res = this.res;
    if (res === null || this.clientPaused || this.responded) return;
    res.pause();
    res.resume();
  }

  /** Called by the worker's ticker when the client stalled longer than `timeout client`. */
  onClientTimeout(): void {
    this.clientDeadline = 0;
    if (this.finished) return;
    this.rt.slab[this.fe.row + C_CLI_ABRT]++;
    this.dropConn();
    this.attempt.release();
    if (!this.headSent) {
      this.answer(E408, 'cD');
    } else {
      this.termination = 'cD';
      this.cutClient();
    }
  }

  protected onAborted(): void {
    this.res = null;
    // a deferred reject finishes the exchange itself; a tunnel's client is the upgrader's
    if (this.rejecting || this.tunneled || this.finished) return;
    this.leaveQueues();
    if (!this.responded) {
      this.termination = this.headSent ? 'CD' : 'CH';
      this.rt.slab[this.fe.row + C_CLI_ABRT]++;
      const server = this.attempt.server;
      if (server >= 0) this.rt.slab[this.rt.servers[server].row + C_CLI_ABRT]++;
    }
    this.responded = true;
    this.dropConn();
    this.attempt.release();
    this.finish();
  }

  /**
   * Let go of the server connection (the client is gone): back to the pool if its response
   * completed; when the whole request went out, left to finish its response (drain.ts);
   * otherwise closed.
   */
  private dropConn(): void {
    const conn = this.conn;
    if (conn === null) return;
    // the client left while its bodiless request's head waited for the end of this loop turn
    // (head-batch.ts): it goes now, as it would have unbatched (a head held for its first body
    // bytes stays unsent: the server sees nothing of a request whose body never came)
    if (this.requestSent && !this.upstreamComplete) flushHeadOf(conn);
    this.conn = null;
    if (this.upstreamComplete) conn.done();
    else if (!this.requestSent || !this.body.done || this.upgrader !== null || !drainConnection(conn, this.headSent ? this.out.framing : -1, this.be!.cfg.timeouts.server)) conn.destroy();
  }

  protected onFinished(): void {
    // The engine keeps delivering an unfinished upload to this object's onData: it may only
    // serve another request once the body is complete (onClientData recycles it then).
    if (this.body.done || this.res === null) this.recycleSelf();
  }

  /** Clear per-request state so the object can serve another request. */
  reset(): void {
    this.resetSession();
    this.body.reset();
    this.out.reset();
    this.clientPaused = false;
    this.conn = null;
    this.connLine = null;
    this.requestSent = false;
    this.upgrader = null;
    this.upgradeHeaders = null;
    this.upgradeRest = null;
    this.tunneled = false;
    this.upstreamComplete = false;
    this.upstreamPaused = false;
    this.heldHeaders = null;
    this.heldBody.length = 0;
    this.heldComplete = false;
    this.retryAfterFeed = false;
    this.clientTimerAt = 0;
  }
}

/** How often keepClientTimer re-arms uWS's 10 s timer (its granularity is 4 s). */
const CLIENT_TIMER_REARM_MS = 2000;

const EMPTY = Buffer.alloc(0);
