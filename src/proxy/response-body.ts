// A server's response body on its way to the client, through the engine's backpressure.
// Content-Length bodies go out with `tryEnd` (the engine writes the length); chunked and
// close-delimited ones with `write` (the engine chunks them). What the client cannot take yet is
// staged in one buffer per object, reused by every response it carries, so a long download
// under backpressure allocates nothing per read.

import type { ClientResponse } from './client';
import { FRAMING_LENGTH, FRAMING_NONE } from '../upstream/response-parser';

/** The chunk is out, or staged behind earlier ones already waiting for the client. */
export const BODY_SENT = 0;
/** The client cannot take more now: pause the server and wait for the engine's onWritable. */
export const BODY_BLOCKED = 1;
/** The whole response went out (Content-Length: its last byte). */
export const BODY_DONE = 2;

export class ResponseBody {
  framing = FRAMING_NONE;
  /** the Content-Length, -1 when unknown */
  total = 0;
  /**
   * Bytes the client could not take yet (Content-Length bodies): body offsets
   * [outOffset, outOffset + stageLen).
   */
  private stage: Buffer | null = null;
  private stageLen = 0;
  private outOffset = 0;

  begin(framing: number, total: number): void {
    this.framing = framing;
    this.total = total;
  }

  /** Send `chunk` (a view of a read buffer: copied if it must wait). */
  push(res: ClientResponse, chunk: Buffer): number {
    if (this.framing !== FRAMING_LENGTH) return res.write(chunk) ? BODY_SENT : BODY_BLOCKED;
    if (this.stageLen > 0) {
      this.stageChunk(chunk);
      return BODY_SENT;
    }
    const off = res.getWriteOffset();
    const r = res.tryEnd(chunk, this.total);
    if (r[1]) return BODY_DONE;
    if (r[0]) return BODY_SENT;
    // the engine took part of it (up to its write offset); keep the whole chunk, resend the rest
    this.outOffset = off;
    this.stageChunk(chunk);
    return BODY_BLOCKED;
  }

  /** The engine can take more (onWritable at `offset`): send what is staged. */
  drain(res: ClientResponse, offset: number): number {
    if (this.framing !== FRAMING_LENGTH || this.stageLen === 0) return BODY_SENT;
    const from = offset > this.outOffset ? offset - this.outOffset : 0;
    const r = res.tryEnd(this.stage!.subarray(from, this.stageLen), this.total);
    if (r[1]) {
      this.stageLen = 0;
      return BODY_DONE;
    }
    if (!r[0]) return BODY_BLOCKED;
    this.stageLen = 0;
    this.outOffset = res.getWriteOffset();
    return BODY_SENT;
  }

  /**
   * The server's response is complete: end a body the engine frames itself. False for a
   * Content-Length body, which ends inside tryEnd (possibly later, from drain()).
   */
  end(res: ClientResponse, isHead: boolean, status: number): boolean {
    if (this.framing === FRAMING_LENGTH) return false;
    if (this.framing !== FRAMING_NONE) res.end();
    else if (isHead && this.total >= 0) res.endWithoutBody(this.total);
    else if (isHead || status === 204 || status === 304) res.endWithoutBody();
    else res.end();
    return true;
  }

  /** Keep a copy of `chunk` until the client can take it. */
  private stageChunk(chunk: Buffer): void {
    const need = this.stageLen + chunk.length;
    let stage = this.stage;
    if (stage === null || stage.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 64 * 1024));
      if (stage !== null && this.stageLen > 0) stage.copy(grown, 0, 0, this.stageLen);
      this.stage = stage = grown;
    }
    chunk.copy(stage, this.stageLen);
    this.stageLen = need;
  }

  reset(): void {
    this.stageLen = 0;
    // a buffer grown for an unusual burst is not kept for every later request
    if (this.stage !== null && this.stage.length > 256 * 1024) this.stage = null;
    this.outOffset = 0;
  }
}
