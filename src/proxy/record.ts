// The log record's fields (RequestRecord, src/log/format.ts), declared once for the two kinds of
// session that fill them: an HTTP request (session.ts) and a mode tcp session
// (src/worker/tcp-engine.ts). Both pick their server with a ServerAttempt, whose server and
// retries are the record's. Every field is set here, in one order, so each subclass keeps a
// single object shape; the subclasses assign their own starting values, never add these again.

import type { RequestRecord } from '../log/format';
import { ServerAttempt } from './attempt';

export abstract class SessionRecord implements RequestRecord {
  readonly attempt = new ServerAttempt();

  clientIp = '';
  clientPort = 0;
  acceptMs = 0;
  frontend = 0;
  backend = -1;
  tq = 0;
  tw = 0;
  tc = -1;
  tr = -1;
  ta = -1;
  status = 0;
  bytesOut = 0;
  bytesIn = 0;
  termination = '--';
  method = '';
  uri = '';
  httpVersion = 'HTTP/1.1';
  get server(): number {
    return this.attempt.server;
  }
  get retries(): number {
    return this.attempt.retries;
  }
}
