#!/usr/bin/env node
// gatehouse command line, HAProxy-compatible where HAProxy has the flag:
//   gatehouse -f FILE [-f FILE...] [-c] [-D] [-p PIDFILE] [-sf PID...] [-q]
//   gatehouse -v | -vv
//   gatehouse convert FILE.cfg        print the equivalent YAML
//   gatehouse schema                  print the JSON Schema of the YAML form

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ConfigError, formatIssue } from './config/errors';
import { loadConfig } from './config/load';
import { primaryServesBinds } from './config/model';
import { tcpNotServedYet } from './config/tcp';
import { run } from './primary/run';
import { bindEngine, nodeEngineReason } from './worker/engine';
import { uwsAvailable } from './worker/uws-load';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION: string = (require('../package.json') as { version: string }).version;
const DAEMON_CHILD_ENV = 'GATEHOUSE_DAEMON_CHILD';

const USAGE = `Usage: gatehouse -f FILE [options]
  -f FILE|DIR   configuration: .yaml/.yml is YAML, anything else haproxy.cfg syntax
                (repeatable; a directory loads its *.cfg files in name order)
  -c            check the configuration and exit (0 valid, 1 invalid)
  -D            run as a daemon (also 'daemon' in global)
  -p PIDFILE    write the pid there (also 'pidfile' in global)
  -sf PID...    ask these processes to finish once gatehouse listens
  -q            quiet: no warnings while loading
  -v, -vv       version (-vv: with build details)
  convert FILE  print FILE (haproxy.cfg syntax) as gatehouse YAML
  schema        print the JSON Schema of the YAML configuration (for editors)
`;

interface Args {
  files: string[];
  check: boolean;
  daemon: boolean;
  pidfile: string | null;
  finishPids: number[];
  quiet: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): Args {
  const a: Args = { files: [], check: false, daemon: false, pidfile: null, finishPids: [], quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '-f':
        a.files.push(value());
        break;
      case '-c':
        a.check = true;
        break;
      case '-D':
        a.daemon = true;
        break;
      case '-p':
        a.pidfile = value();
        break;
      case '-q':
        a.quiet = true;
        break;
      case '-sf':
      case '-st':
        while (i + 1 < argv.length && /^\d+$/.test(argv[i + 1])) a.finishPids.push(Number(argv[++i]));
        break;
      default:
        throw new UsageError(`unknown option '${arg}'`);
    }
  }
  if (a.files.length === 0) throw new UsageError('no configuration file given (use -f FILE)');
  return a;
}

function printVersion(verbose: boolean): void {
  console.log(`gatehouse version ${VERSION}`);
  if (verbose) {
    console.log(`Running on: Node.js ${process.version} ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs`);
    console.log('HTTP front end: uWebSockets.js 20.30.0; upstream parser: llhttp (Node built-in)');
  }
}

async function convert(file: string | undefined): Promise<number> {
  if (file === undefined) {
    process.stderr.write('gatehouse convert: needs a haproxy.cfg file\n');
    return 2;
  }
  const { parseHaproxyCfg } = await import('./config/haproxy-cfg');
  const { configToYaml } = await import('./config/to-yaml');
  const { buildModel } = await import('./config/validate');
  const text = fs.readFileSync(file, 'utf8');
  const parsed = parseHaproxyCfg([{ file, text }]);
  buildModel(parsed.doc, parsed.src); // refuse to convert what would not load
  process.stdout.write(configToYaml(parsed.doc));
  return 0;
}

/** -D: re-run ourselves detached; return once the child says it listens. */
function daemonize(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [__filename, ...argv.filter((x) => x !== '-D')], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.on('message', (m) => {
      if (m === 'ready') {
        // Start-up warnings (e.g. a missing /dev/log) are the user's to see before we return.
        process.stderr.write(err);
        child.disconnect();
        child.stderr!.destroy();
        child.unref();
        resolve(0);
      }
    });
    child.on('exit', (code) => {
      process.stderr.write(err);
      resolve(code === 0 ? 1 : (code ?? 1));
    });
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '-v' || argv[0] === '-vv' || argv[0] === '--version') {
    printVersion(argv[0] === '-vv');
    return 0;
  }
  if (argv[0] === '-h' || argv[0] === '--help' || argv.length === 0) {
    process.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'convert') return convert(argv[1]);
  if (argv[0] === 'schema') {
    // JSON Schema of the YAML form, for editors (docs/gatehouse.schema.json is this output)
    const { configSchema } = await import('./config/schema');
    process.stdout.write(JSON.stringify(configSchema(), null, 2) + '\n');
    return 0;
  }

  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`gatehouse: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }

  let loaded;
  try {
    loaded = loadConfig(args.files);
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const i of e.issues) process.stderr.write(formatIssue(i) + '\n');
      const n = e.issues.filter((i) => i.severity === 'error').length;
      process.stderr.write(`Configuration is invalid: ${n} error(s).\n`);
      return 1;
    }
    throw e;
  }
  if (!args.quiet) for (const w of loaded.warnings) process.stderr.write(formatIssue(w) + '\n');
  if (args.check) {
    // which front engine serves each bind, when any is not uWebSockets.js (docs/front-node.md)
    if (!args.quiet) for (const line of engineLines(loaded.config)) process.stderr.write(line + '\n');
    console.log('Configuration file is valid');
    return 0;
  }
  // What mode tcp cannot serve yet (src/config/tcp.ts) is refused here.
  const notServed = tcpNotServedYet(loaded.config);
  if (notServed) {
    process.stderr.write(`gatehouse: ${notServed}\n`);
    return 1;
  }
  const config = loaded.config;
  const inChild = process.env[DAEMON_CHILD_ENV] === '1';
  if ((args.daemon || config.global.daemon) && !inChild) return daemonize(argv);

  // Node internals the workers rely on: a missing one is a clear start-up error (caught below)
  // instead of a worker thread failing on its first request.
  await import('./shared/node-internals');
  await run(config, {
    pidfile: args.pidfile ?? config.global.pidfile,
    finishPids: args.finishPids,
    reload: () => {
      try {
        const next = loadConfig(args.files);
        const refused = tcpNotServedYet(next.config);
        if (refused) throw new Error(refused);
        return { config: next.config, warnings: next.warnings.map(formatIssue) };
      } catch (e) {
        if (e instanceof ConfigError) throw new Error(e.issues.map(formatIssue).join('\n'));
        throw e;
      }
    },
    onReady:
      inChild && process.send
        ? () => {
            // Once detached, the parent closes our stderr pipe: later writes must not fail the
            // process (HAProxy's daemon likewise loses stderr; logs go to the log targets).
            process.stderr.on('error', ignore);
            process.stdout.on('error', ignore);
            process.send!('ready');
          }
        : undefined,
  });
  return -1; // keep running; signals end the process
}

function ignore(): void {}

/** One line per bind served by the node:net engines, and per ssl bind, saying why; nothing when all plain binds run on uWS. */
function engineLines(config: import('./config/model').Config): string[] {
  const uwsOk = uwsAvailable();
  const out: string[] = [];
  for (const fe of config.frontends) {
    if (primaryServesBinds(fe)) continue;
    for (const b of fe.binds) {
      const where = `${fe.fromListen ? 'listen' : 'frontend'} '${fe.name}' bind ${b.text}`;
      if (bindEngine(b, config.global, uwsOk, fe.mode) !== 'node') {
        if (b.ssl) out.push(`[NOTICE] ${where}: uWebSockets.js engine (TLS asks for nothing uWebSockets.js 20.30 lacks)`);
        continue;
      }
      const why = nodeEngineReason(b, config.global, uwsOk, fe.mode);
      out.push(`[NOTICE] ${where}: ${b.ssl ? 'node:tls' : 'node:net'} engine (${why})`);
    }
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`gatehouse: ${e.message}\n`);
    process.exitCode = 1;
  },
);
