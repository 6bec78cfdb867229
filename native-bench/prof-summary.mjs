#!/usr/bin/env node
// Where a gatehouse worker's time goes, from `node --cpu-prof` output: picks the thread with the
// most busy samples among the .cpuprofile files given (or found in the directories given), and
// prints self time by area of the code and the top functions, as % of busy samples and as
// sampled µs per request when the request count is given.
//   node native-bench/prof-summary.mjs [--requests N] DIR|FILE...
// --cpu-prof samples wall-clock time on the thread: time spent inside a syscall, or descheduled
// on a busy machine, is charged to the JS or native frame that made the call.
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
let requests = null;
const inputs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--requests') requests = Number(args[++i]);
  else inputs.push(args[i]);
}
if (!inputs.length) { console.error('usage: prof-summary.mjs [--requests N] DIR|FILE...'); process.exit(2); }
const files = inputs.flatMap((p) => (fs.statSync(p).isDirectory()
  ? fs.readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(p, f)) : [p]));

// area of the code a frame belongs to
function area(frame) {
  const u = frame.url || '';
  const fn = frame.functionName;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program): native code outside JS frames';
  const m = /\/dist\/(.*)\.js$/.exec(u);
  if (m) {
    const dir = m[1].split('/')[0];
    return `src/${dir === m[1] ? m[1] : `${dir}/`}`;
  }
  if (/^node:(net|internal\/(stream_base_commons|streams\/|net|tcp))/.test(u)) return 'node net + streams';
  if (u.startsWith('node:')) return 'node other';
  if (!u) return 'native (V8 builtins, C++ bindings, uWS)';
  return path.basename(u);
}

function summarize(file) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const s of prof.samples) self.set(s, (self.get(s) || 0) + 1);
  let idle = 0;
  const areas = new Map();
  const fns = new Map();
  for (const [id, hits] of self) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)') { idle += hits; continue; }
    if (f.functionName === '(root)') continue;
    const a = area(f);
    areas.set(a, (areas.get(a) || 0) + hits);
    const k = `${f.functionName || '(anonymous)'} [${a}${/\/dist\//.test(f.url) ? `: ${path.basename(f.url)}` : ''}]`;
    fns.set(k, (fns.get(k) || 0) + hits);
  }
  const total = prof.samples.length;
  const wallUs = prof.endTime - prof.startTime;
  return { file, total, idle, busy: total - idle, wallUs, areas, fns };
}

const sums = files.map(summarize).sort((a, b) => b.busy - a.busy);
if (!sums.length) { console.error('no .cpuprofile found'); process.exit(1); }
const w = sums[0];
const usPerSample = w.wallUs / w.total;
const pct = (x) => `${(100 * x / w.busy).toFixed(1)}%`;
const perReq = (x) => (requests ? ` ${(x * usPerSample / requests).toFixed(2)} µs/req` : '');
console.log(`worker profile: ${path.basename(w.file)} (${files.length} thread profiles; the busiest)`);
console.log(`samples ${w.total}, idle ${w.idle} (${(100 * w.idle / w.total).toFixed(1)}% of wall), busy ${w.busy}; ${(w.wallUs / 1e6).toFixed(1)} s wall${requests ? `; ${requests} requests, busy ${(w.busy * usPerSample / requests).toFixed(1)} µs/req (wall-clock)` : ''}`);
console.log('\nself time by area:');
for (const [a, n] of [...w.areas].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(n).padStart(6)}${perReq(n)}  ${a}`);
console.log('\ntop functions (self):');
for (const [k, n] of [...w.fns].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`  ${pct(n).padStart(6)}${perReq(n)}  ${k}`);
