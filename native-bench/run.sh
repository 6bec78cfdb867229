#!/usr/bin/env bash
# native-bench entry point (`make bench`): gatehouse vs HAProxy vs nginx on the same backends.
#   bash native-bench/run.sh [scenario...]     scenarios: a b c (= c64k c1m) d e f g h p i, or all
# Environment: BENCH_SCENARIOS (default "a b"), BENCH_DURATION (5s), BENCH_ROUNDS (3),
# BENCH_WARMUP (2s), BENCH_IDLE_CONNS (10000), BENCH_DOWNLOAD_MB (1024), BENCH_MAX_SECONDS (1800),
# BENCH_PROXIES (gatehouse,gatehouse-node,haproxy,nginx), BENCH_PROXY_CPUS / BENCH_LOAD_CPUS (taskset lists),
# BENCH_SAVE=0 (don't write results/), BENCH_README=1 (copy the table into README.md),
# BENCH_KEEP_TMP=1. See native-bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/sbin:/sbin"

# 1. tools: Debian packages haproxy (2.6 on bookworm), nginx, wrk
missing=()
for tool in haproxy nginx wrk; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "[bench] installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
fi
command -v node >/dev/null 2>&1 || { echo "[bench] node is required" >&2; exit 1; }

# 2. file descriptors: 5,000 clients (f) and 10,000 idle connections (g) need them
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then want=65536; else want="$hard"; fi
ulimit -n "$want" 2>/dev/null || true

# 3. cleanup: bench.mjs records "PID STARTTIME" of every process it starts; anything still
#    alive when this script exits (crash, Ctrl-C, kill) is stopped here. The start time guards
#    against killing an unrelated process that reused a PID.
workdir="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
pidfile="$workdir/pids"
: > "$pidfile"
export BENCH_WORKDIR="$workdir" BENCH_PIDFILE="$pidfile"
cleanup() {
  local pid start now left=()
  while read -r pid start; do
    [ -n "$pid" ] || continue
    now="$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat" 2>/dev/null || true)"
    if [ -n "$now" ] && [ "$now" = "$start" ]; then kill -TERM "$pid" 2>/dev/null && left+=("$pid"); fi
  done < "$pidfile"
  if ((${#left[@]})); then
    sleep 2
    for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then echo "[bench] kept $workdir" >&2; else rm -rf "$workdir"; fi
}
trap cleanup EXIT

# node runs in the background so a signal to this script is handled at once (forwarded to it)
node "$here/bench.mjs" "$@" &
node_pid=$!
trap 'kill -TERM "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; exit 130' INT TERM HUP
set +e
wait "$node_pid"
exit $?
