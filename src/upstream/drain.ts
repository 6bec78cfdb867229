// A client that leaves while its request is with the server does not cost the server
// connection. As HAProxy does without `option abortonclose`, the response is read and dropped,
// and the connection goes back to the pool once it completes cleanly. Closing it instead made
// every aborted request a new connection later: wrk stopping 5,000 clients left ~1,200 to be
// reopened, each slow while the server was busy (Tc of 300+ ms in native-bench scenario f).
// Bounded: a response larger than DRAIN_LIMIT, close-delimited, or slower than `timeout server`
// closes the connection instead.

import { CONN_BUSY, type HttpConnOwner, type UpstreamConn } from './connection';
import { FRAMING_CLOSE, FRAMING_LENGTH, FRAMING_UPGRADE } from './response-parser';

/** Response bytes worth reading to keep a connection (more: closing is cheaper). */
export const DRAIN_LIMIT = 128 * 1024;

/**
 * Take over `conn`, whose owner is gone. `framing` is the response's framing when its head was
 * already seen (-1 when not). False when the connection is not worth keeping: the caller
 * closes it.
 */
export function drainConnection(conn: UpstreamConn, framing: number, timeoutMs: number): boolean {
  if (conn.state !== CONN_BUSY || conn.parser.complete || tooCostly(framing, conn.parser.bodyRemaining)) return false;
  new Drain(conn, timeoutMs);
  return true;
}

/** A close-delimited body, a switch of protocols, or more Content-Length bytes to come than DRAIN_LIMIT. */
function tooCostly(framing: number, lengthLeft: number): boolean {
  return framing === FRAMING_CLOSE || framing === FRAMING_UPGRADE || (framing === FRAMING_LENGTH && lengthLeft > DRAIN_LIMIT);
}

class Drain implements HttpConnOwner {
  private bytes = 0;
  private done = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly conn: UpstreamConn,
    timeoutMs: number,
  ) {
    // one timer per abandoned request: rare, and nothing per request on the hot path
    this.timer = setTimeout(() => this.close(), timeoutMs);
    this.timer.unref();
    conn.handOff(this);
  }

  onUpstreamConnect(): void {}

  onUpstreamDrain(): void {}

  /** The connection failed or closed: nothing left to keep. */
  onUpstreamFail(): void {
    this.stop();
  }

  onUpstreamData(conn: UpstreamConn, data: Buffer): void {
    conn.parse(data);
    // Back to the pool only after execute() returned (never from inside llhttp's callbacks).
    if (!this.done && conn.parser.complete) {
      this.stop();
      conn.done();
    }
  }

  onResponseHead(_status: number, _reason: string, _headers: string[], framing: number, length: number, keepAlive: boolean): void {
    this.conn.keepAlive = keepAlive;
    if (tooCostly(framing, length)) this.close();
  }

  onResponseBody(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > DRAIN_LIMIT) this.close();
  }

  onResponseComplete(): void {}

  onResponseUpgrade(): void {}

  private close(): void {
    if (this.done) return;
    this.stop();
    this.conn.destroy();
  }

  private stop(): void {
    this.done = true;
    clearTimeout(this.timer);
  }
}
