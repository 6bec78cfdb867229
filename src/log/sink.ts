// Primary-side log output: process events (worker restarts, health changes) to every target, and
// the access-log lines the workers batch to the primary for the targets they do not write
// themselves (stdout, stderr, syslog over udp/unix; `file:` targets are appended to by the
// workers directly). One LogSink per set of targets.
import type { LogTarget } from '../config/model';
import { FileOutput, StdOutput, UdpOutput, UnixOutput, type Output } from './outputs';
import { facilityCode, frame3164, frame5424, priority, severityCode } from './syslog';
import { parseTarget } from './targets';

export { parseTarget } from './targets';

export type EventLevel = 'info' | 'notice' | 'warning' | 'alert';

interface Route {
  out: Output;
  facility: number;
  /** most verbose severity accepted (HAProxy's level: a ceiling) */
  maxSeverity: number;
  format: LogTarget['format'];
}

const EVENT_TAG: Record<EventLevel, string> = {
  info: '[INFO]    ',
  notice: '[NOTICE]  ',
  warning: '[WARNING] ',
  alert: '[ALERT]   ',
};

export class LogSink {
  private readonly routes: Route[] = [];
  private constructing = true;
  private readonly deferred: string[] = [];
  /** lines handed to write()/writeLines() (tests and stats count them) */
  linesWritten = 0;
  /** warnings the outputs reported (a worker reporting the same one is not repeated) */
  readonly warnings = new Set<string>();

  constructor(targets: LogTarget[]) {
    const warn = (text: string) => {
      this.warnings.add(text);
      if (this.constructing) this.deferred.push(text);
      else this.event('warning', text);
    };
    for (const t of targets) {
      let spec;
      try {
        spec = parseTarget(t.target);
      } catch (e) {
        warn((e as Error).message);
        continue;
      }
      let out: Output;
      switch (spec.kind) {
        case 'stdout':
          out = new StdOutput(process.stdout);
          break;
        case 'stderr':
          out = new StdOutput(process.stderr);
          break;
        case 'file':
          out = new FileOutput(spec.path!, warn);
          break;
        case 'udp':
          out = new UdpOutput(spec.host!, spec.port!, warn);
          break;
        case 'unix':
          out = new UnixOutput(spec.path!, t.format === 'rfc5424', warn);
          break;
      }
      this.routes.push({ out, facility: facilityCode(t.facility), maxSeverity: severityCode(t.level || 'debug'), format: t.format });
    }
    this.constructing = false;
    for (const text of this.deferred.splice(0)) this.event('warning', text);
  }

  get hasTargets(): boolean {
    return this.routes.length > 0;
  }

  private send(r: Route, msg: string, severity: number): void {
    const pri = priority(r.facility, severity);
    if (r.out instanceof UnixOutput) r.out.write('<' + pri + '>' + msg);
    else if (r.format === 'rfc5424') r.out.write(frame5424(pri, msg));
    else if (r.format === 'rfc3164') r.out.write(frame3164(pri, msg));
    else r.out.write(msg);
  }

  /** One log line (no trailing newline) at `level` (default info, the level of access logs). */
  write(line: string, level = 'info'): void {
    this.linesWritten++;
    const sev = severityCode(level);
    for (const r of this.routes) if (sev <= r.maxSeverity) this.send(r, line, sev);
  }

  /**
   * A batch of '\n'-terminated info lines from a worker: raw stream targets take it in one write.
   * `workersWriteFiles`: the workers appended these lines to the file targets themselves
   * (WorkerTelemetry), so only the other targets take them here.
   */
  writeLines(text: string, count: number, workersWriteFiles = false): void {
    this.linesWritten += count;
    const sev = severityCode('info');
    let lines: string[] | null = null;
    for (const r of this.routes) {
      if (sev > r.maxSeverity) continue;
      if (workersWriteFiles && r.out instanceof FileOutput) continue;
      if (r.format === 'raw' && r.out.writeBlock) {
        r.out.writeBlock(text);
        continue;
      }
      lines ??= text.split('\n');
      // The text ends with '\n': the last element is empty.
      for (let i = 0; i < lines.length - 1; i++) this.send(r, lines[i], sev);
    }
  }

  /** A process event: always on stderr (HAProxy style), and to every target that takes its level. */
  event(level: EventLevel, text: string): void {
    const line = EVENT_TAG[level] + '(' + process.pid + ') : ' + text;
    process.stderr.write(line + '\n');
    const sev = severityCode(level);
    for (const r of this.routes) {
      if (sev > r.maxSeverity || r.out.isStderr) continue;
      if (r.format === 'raw' || r.out instanceof UnixOutput) {
        if (r.out instanceof UnixOutput) this.send(r, text, sev);
        else r.out.write(line);
      } else this.send(r, text, sev);
    }
  }

  /** Reopen file targets (log rotation). */
  reopen(): void {
    for (const r of this.routes) r.out.reopen?.();
  }

  async close(): Promise<void> {
    await Promise.all(this.routes.map((r) => r.out.close()));
  }
}
