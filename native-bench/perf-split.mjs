#!/usr/bin/env node
// Where a proxy's user-space CPU goes, from `perf record -e cpu-clock -g` call graphs (unlike
// --cpu-prof, perf samples the CPU, so time inside system calls is the kernel's, not the
// caller's). Reads `perf script -F ip,sym,dso` output and prints the share of kernel and user
// samples, the top user functions (self), and the inclusive share of the parts of a request
// listed in PARTS below.
//   perf record -e cpu-clock -F 4999 -g -p <node PID> -o perf.data -- sleep 5
//   perf script -i perf.data -F ip,sym,dso > stacks.txt
//   node native-bench/perf-split.mjs stacks.txt [--top N]
// Start gatehouse with `node --perf-basic-prof` (BENCH_GATEHOUSE_NODE_ARGS_UWS/_NODE in run.sh)
// for JIT symbols; give perf the node process's PID, not a wrapping shell's.
import fs from 'node:fs';

const args = process.argv.slice(2);
let top = 15;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length !== 1 || !(top >= 0)) {
  console.error('usage: perf-split.mjs STACKS.txt [--top N]   (STACKS: perf script -F ip,sym,dso output)');
  process.exit(2);
}

// a sample is in a part when one of its frames matches `take`, no frame matches `notUnder`,
// and its leaf (where the CPU was) does not match `notLeaf`
const PARTS = [
  { label: 'uWS calls the request handler (request in)', take: [/uWS_App_(get|any|post)/] },
  { label: 'the answer inside the uWS cork', take: [/res_cork/] },
  { label: 'upstream write, without gatehouse JS', take: [/JS:\*flushHeads|StreamBase::WriteString|StreamBase::Writev/], notLeaf: [/^JS:/] },
  // the uWS engine reads only its upstream sockets through libuv streams, the node engine also its clients
  { label: 'reads through libuv + Node streams, without gatehouse JS', take: [/uv__read/], notUnder: [/JS:\*onRead .*\/dist\//] },
  { label: 'node engine: client read (raw-client onRead)', take: [/JS:\*onRead .*\/dist\/front-node\/raw-client/] },
  { label: 'accepting (onconnection)', take: [/onconnection/] },
  { label: 'GC, young generation (scavenges)', take: [/Scavenger/] },
  { label: 'GC, all', take: [/Scavenger|MarkCompact|ConcurrentMarking|Heap::/] },
];

/** one sample: its frames, leaf first, each "ip sym (dso)" */
function* samples(text) {
  let cur = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      if (cur.length) yield cur;
      cur = [];
    } else {
      cur.push(line);
    }
  }
  if (cur.length) yield cur;
}

// "7f1c2d3e4f5a v8::String::WriteUtf8 (/usr/bin/node)" -> "v8::String::WriteUtf8 (/usr/bin/node)"
const symOf = (frame) => frame.replace(/^[0-9a-f]+\s+/, '');

let total = 0;
let user = 0;
const self = new Map();
const inPart = new Array(PARTS.length).fill(0);
for (const s of samples(fs.readFileSync(files[0], 'latin1'))) {
  total++;
  if (s[0].includes('[kernel.kallsyms]')) continue;
  user++;
  const leaf = symOf(s[0]).replace(/ \(\/tmp\/perf-\d+\.map\)$/, '');
  self.set(leaf, (self.get(leaf) ?? 0) + 1);
  const syms = s.map(symOf);
  const matches = (res, f) => res !== undefined && res.some((re) => re.test(f));
  for (let p = 0; p < PARTS.length; p++) {
    const { take, notUnder, notLeaf } = PARTS[p];
    if (!syms.some((f) => matches(take, f)) || syms.some((f) => matches(notUnder, f)) || matches(notLeaf, syms[0])) continue;
    inPart[p]++;
  }
}
if (total === 0) {
  console.error(`${files[0]}: no samples (was it made by perf script -F ip,sym,dso?)`);
  process.exit(1);
}
const pct = (n, of) => `${((100 * n) / of).toFixed(1)}%`;
console.log(`${total} samples: kernel ${pct(total - user, total)}, user ${pct(user, total)}`);
if (user === 0) process.exit(0);
console.log('\nshare of user samples, inclusive:');
for (let p = 0; p < PARTS.length; p++) if (inPart[p] > 0) console.log(`  ${pct(inPart[p], user).padStart(6)}  ${PARTS[p].label}`);
console.log(`\ntop ${top} user functions, self:`);
for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(n, user).padStart(6)}  ${name.slice(0, 120)}`);
