#!/usr/bin/env bash
# Feature overhead, gatehouse against itself on the same nginx backends, in alternating rounds:
#   base    1 worker, roundrobin over 2 servers, no checks, no access log
#   storm   base + a second backend of 200 HTTP-checked servers (inter STORM_INTER, default 1s): the probe storm of
#           issue 3 running beside the traffic (the traffic's backend is unchanged)
#   logs    base + httplog access logging to a file (issue 4: stats, histograms, logs on)
# Prints median req/s and p99 per variant and the ratio to base. Bounded: ROUNDS x 3 x ~8 s.
# Usage: bash native-bench/overhead.sh   (ROUNDS=3 DURATION=5s by default)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk >/dev/null; }
done
[ -f dist/cli.js ] || make build >/dev/null

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

declare -A rps p99
for r in $(seq 1 "$ROUNDS"); do
  for v in base storm logs; do
    node dist/cli.js -q -f "$work/$v.yaml" >"$work/$v.out" 2>&1 &
    gh=$!
    pids+=($gh)
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$FE") 2>/dev/null && break; sleep 0.1; done
    wrk -t1 -c50 -d1s "http://127.0.0.1:$FE/" >/dev/null
    out=$(wrk -t1 -c50 -d"$DURATION" --latency "http://127.0.0.1:$FE/")
    rps[$v]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
    p99[$v]+="$(echo "$out" | awk '$1 == "99%" {print $2}') "
    kill "$gh"; wait "$gh" 2>/dev/null || true
    echo "round $r $v: $(echo "$out" | awk '/Requests\/sec/ {print $2}') req/s, p99 $(echo "$out" | awk '$1 == "99%" {print $2}')"
  done
done
[ -s "$work/access.log" ] && echo "access log lines written in the last logs round: $(wc -l <"$work/access.log")"

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { sed -E 's/([0-9.]+)us/\1e-3/; s/([0-9.]+)ms/\1/; s/([0-9.]+)s$/\1e3/' | awk '{printf "%.2f", $1}'; }
b=$(echo "${rps[base]}" | median)
echo
echo "| variant | median req/s | vs base | median p99 ms |"
echo "|---|--:|--:|--:|"
for v in base storm logs; do
  m=$(echo "${rps[$v]}" | median)
  p=$(for x in ${p99[$v]}; do echo "$x" | to_ms; echo; done | median)
  echo "| $v | $m | $(awk -v a="$m" -v b="$b" 'BEGIN {printf "%.2f", a / b}') | $p |"
done
