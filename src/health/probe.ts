// One active probe: a TCP connect, or an HTTP request on a fresh connection, bounded by
// `timeout check`. Always resolves (never rejects): every failure is a CheckResult.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CheckResult } from './check-result';
import { errnoText } from './check-result';
import { HttpCheckReply } from './http-check-reply';
import type { CheckTarget } from './targets';
import { runTcpCheck, type TcpCheckPlan } from './tcp-check';
import { checkConnect, type CheckSocket } from './check-connect';
import { describeTlsError } from '../upstream/tls-connect';

export type ProbeSpec = Pick<CheckTarget, 'kind' | 'host' | 'port' | 'timeoutMs' | 'request' | 'expect'> & { tcpCheck?: TcpCheckPlan | null; conn?: CheckTarget['conn'] };

export function probe(spec: ProbeSpec, signal: AbortSignal): Promise<CheckResult> {
  if (spec.tcpCheck) return runTcpCheck(spec.tcpCheck, spec, signal);
  return new Promise<CheckResult>((resolve) => {
    const started = performance.now();
    const reply = spec.kind === 'http' ? new HttpCheckReply(spec.expect) : null;
    let connected = false;
    let settled = false;
    let socket: net.Socket | null = null;
    let cs: CheckSocket | null = null;
    let timer: NodeJS.Timeout | null = null;

    const finish = (r: Omit<CheckResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve({ ...r, durationMs: Math.max(0, Math.round(performance.now() - started)) });
    };
    const onAbort = () => finish({ status: 'SOCKERR', code: 0, info: 'check aborted' });

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);

    timer = setTimeout(() => {
      // Before the handshake it is the network (L4); after it, the application is too slow (L7).
      if (!connected) finish({ status: cs !== null && cs.tcpUp() ? 'L6TOUT' : 'L4TOUT', code: 0, info: '' });
      else finish({ status: 'L7TOUT', code: 0, info: '' });
    }, spec.timeoutMs);
    timer.unref();

    try {
      cs = checkConnect(spec.host, spec.port, spec.conn ?? null);
      socket = cs.socket;
    } catch (e) {
      // Synchronous throws (e.g. an invalid port) are a connection problem, not a crash.
      return finish({ status: 'L4CON', code: 0, info: errnoText(e) });
    }
    socket.setNoDelay(true);
    const tls = cs.ready === 'secureConnect';
    socket.on(cs.ready, () => {
      connected = true;
      // over TLS a plain connect check passes at layer 6 (HAProxy: "Layer6 check passed")
      if (!reply || !spec.request) return finish({ status: tls ? 'L6OK' : 'L4OK', code: 0, info: '' });
      socket!.write(spec.request);
    });
    socket.on('data', (chunk: Buffer) => {
      if (!reply) return;
      const v = reply.push(chunk);
      if (v) finish(v);
    });
    socket.on('end', () => {
      if (reply) finish(reply.end());
    });
    socket.on('error', (err) => {
      // a TLS handshake that failed (a certificate that does not verify) is a layer 6 failure
      if (!connected && tls && cs!.tcpUp()) return finish({ status: 'L6RSP', code: 0, info: 'SSL handshake failure: ' + describeTlsError(err) });
      if (!connected) return finish({ status: 'L4CON', code: 0, info: errnoText(err) });
      // Like HAProxy: a network error after data arrived is judged on the data (an RST right
      // after the last byte is common); with no data at all it is an invalid response.
      if (reply && reply.received() > 0) return finish(reply.end());
      finish({ status: 'L7RSP', code: 0, info: errnoText(err) });
    });
    socket.on('close', () => {
      if (!connected) return finish({ status: 'L4CON', code: 0, info: 'Connection closed' });
      if (reply) finish(reply.end());
    });
  });
}
