#!/usr/bin/env bash
# Feature overhead, gatehouse against itself on the same nginx backends, in alternating rounds:
#   base    1 worker, roundrobin over 2 servers, no checks, no access log
#   storm   base + a second backend of 200 HTTP-checked servers (inter STORM_INTER, default 1s): the probe storm of
#           issue 3 running beside the traffic (the traffic's backend is unchanged)
#   logs    base + httplog access logging to a file (issue 4: stats, histograms, logs on)
#   lognolines  (only when named in VARIANTS) base + a log target that takes no access lines (level notice):
#           what having logs configured costs the request path before any line is written (the worker then
#           reads the client address of every request for %ci)
#   logdevnull  (only when named in VARIANTS) logs, but to file:/dev/null: every line built and written, no
#           page cache growing (separates the log code from the file system's cost)
# Prints median req/s, p99 and CPU per request (all gatehouse threads, and the busiest thread = the worker;
# utime+stime from /proc) per variant, the ratios to the first variant, and per-round req/s ratios.
# Bounded: ROUNDS x variants x ~8 s.
# Usage: bash native-bench/overhead.sh   (ROUNDS=3 DURATION=5s by default)
# Knobs: VARIANTS="base logs" (a subset, in this order per round), GATEHOUSE=path/to/cli.js (another build;
# default dist/cli.js), KEEP_LOG=path (copy the last logs round's access log there).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
VARIANTS=${VARIANTS:-base storm logs}
GATEHOUSE=${GATEHOUSE:-dist/cli.js}
TICK=$(getconf CLK_TCK)
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; }
done
[ "$GATEHOUSE" != dist/cli.js ] || [ -f dist/cli.js ] || make build >/dev/null

work=$(mktemp -d /tmp/gatehouse-overhead-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
B1=$(free_port); B2=$(free_port); FE=$(free_port)
for i in 1 2; do
  port=$([ $i = 1 ] && echo "$B1" || echo "$B2")
  mkdir -p "$work/be$i"
  cat >"$work/be$i/nginx.conf" <<EOF
worker_processes 1; pid $work/be$i/nginx.pid; error_log $work/be$i/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/be$i; proxy_temp_path $work/be$i; fastcgi_temp_path $work/be$i; uwsgi_temp_path $work/be$i; scgi_temp_path $work/be$i;
  server { listen 127.0.0.1:$port; location / { return 200 "0123456789abcde\n"; } } }
EOF
  nginx -p "$work/be$i" -c "$work/be$i/nginx.conf" -g 'daemon off;' &
  pids+=($!)
done

base() {
  cat <<EOF
global: { workers: 1 $1 }
defaults:
  timeout: { connect: 5s, client: 50s, server: 50s }
frontends:
  fe: { bind: ["127.0.0.1:$FE"], default_backend: be $2 }
backends:
  be:
    balance: roundrobin
    servers:
      - { name: web1, address: "127.0.0.1:$B1" }
      - { name: web2, address: "127.0.0.1:$B2" }
EOF
}
base "" "" >"$work/base.yaml"
{
  base "" ""
  echo "  probed:"
  echo "    health_check: { type: http, uri: /health, inter: ${STORM_INTER:-1s} }"
  echo "    servers:"
  for n in $(seq 1 200); do echo "      - { name: s$n, address: \"127.0.0.1:$([ $((n % 2)) = 0 ] && echo "$B1" || echo "$B2")\", check: true }"; done
} >"$work/storm.yaml"
base ", log: [{ target: \"file:$work/access.log\" }]" ", httplog: true" >"$work/logs.yaml"
base ", log: [{ target: \"file:$work/notice.log\", level: notice }]" ", httplog: true" >"$work/lognolines.yaml"
base ", log: [{ target: \"file:/dev/null\" }]" ", httplog: true" >"$work/logdevnull.yaml"

# utime + stime in clock ticks: of the whole process (every thread), and per thread ("TID TICKS" lines).
# The text after the last ')' starts at field 3 (a thread name may contain spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
task_ticks() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')"; done; }

declare -A rps p99 cpu wcpu
for r in $(seq 1 "$ROUNDS"); do
  for v in $VARIANTS; do
    if [ "$v" = logs ]; then rm -f "$work/access.log"; fi
    node "$GATEHOUSE" -q -f "$work/$v.yaml" >"$work/$v.out" 2>&1 &
    gh=$!
    pids+=($gh)
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$FE") 2>/dev/null && break; sleep 0.1; done
    (exec 3<>"/dev/tcp/127.0.0.1/$FE") 2>/dev/null || { echo "gatehouse ($v) did not start:"; cat "$work/$v.out"; exit 1; }
    warm=$(wrk -t1 -c50 -d1s "http://127.0.0.1:$FE/" | awk '/requests in/ {print $1}')
    t0=$(cpu_ticks "$gh"); task_ticks "$gh" >"$work/tasks0"
    out=$(wrk -t1 -c50 -d"$DURATION" --latency "http://127.0.0.1:$FE/")
    t1=$(cpu_ticks "$gh"); task_ticks "$gh" >"$work/tasks1"
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    us=$(awk -v t="$((t1 - t0))" -v hz="$TICK" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    # the busiest thread is the (single) worker: its CPU per request is what bounds its throughput
    wt=$(awk 'NR == FNR {a[$1] = $2; next} ($1 in a) && $2 - a[$1] > m {m = $2 - a[$1]} END {print m + 0}' "$work/tasks0" "$work/tasks1")
    wus=$(awk -v t="$wt" -v hz="$TICK" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    rps[$v]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
    p99[$v]+="$(echo "$out" | awk '$1 == "99%" {print $2}') "
    cpu[$v]+="$us "
    wcpu[$v]+="$wus "
    kill "$gh"; wait "$gh" 2>/dev/null || true
    if [ "$v" = logs ]; then served=$((warm + reqs)); fi
    echo "round $r $v: $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s, p99 $(echo "$out" | awk '$1 == "99%" {print $2}'), $us CPU us/req ($wus in the worker thread)"
  done
done
if [ -s "$work/access.log" ]; then
  echo "access log lines written in the last logs round: $(wc -l <"$work/access.log") (wrk counted $served answers; the log also has gatehouse's own start/stop events)"
  [ -z "${KEEP_LOG:-}" ] || cp "$work/access.log" "$KEEP_LOG"
fi

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { sed -E 's/([0-9.]+)us/\1e-3/; s/([0-9.]+)ms/\1/; s/([0-9.]+)s$/\1e3/' | awk '{printf "%.2f", $1}'; }
first=${VARIANTS%% *}
b=$(echo "${rps[$first]}" | median)
bc=$(echo "${cpu[$first]}" | median)
bw=$(echo "${wcpu[$first]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "| variant | median req/s | vs $first | median p99 ms | CPU us/req (process) | vs $first | CPU us/req (worker thread) | $first / variant |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|"
for v in $VARIANTS; do
  m=$(echo "${rps[$v]}" | median)
  p=$(for x in ${p99[$v]}; do echo "$x" | to_ms; echo; done | median)
  c=$(echo "${cpu[$v]}" | median)
  w=$(echo "${wcpu[$v]}" | median)
  echo "| $v | $m | $(ratio "$m" "$b") | $p | $c | $(ratio "$c" "$bc") | $w | $(ratio "$bw" "$w") |"
done
echo
echo "Last column: the worker thread's CPU per request in $first over the variant's, the throughput ratio the"
echo "variant would reach with the worker thread as the bottleneck (another estimate; on a shared machine every"
echo "column swings: compare several runs)."
echo "Per-round ratios (variant / $first of the same round, req/s):"
for v in $VARIANTS; do
  [ "$v" = "$first" ] && continue
  rs=$(paste -d' ' <(echo "${rps[$first]}" | tr ' ' '\n' | grep -v '^$') <(echo "${rps[$v]}" | tr ' ' '\n' | grep -v '^$') |
    awk '{printf "%.2f ", $2 / $1}')
  echo "  $v: $rs(median $(echo "$rs" | median))"
done
