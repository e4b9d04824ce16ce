#!/usr/bin/env bash
# How cheap is inventory_bench's own client? Both load generators against the
# same InventoryService, one after the other, rounds interleaved (h2load,
# bench, h2load, bench, ...):
#   server:  taskset -c SERVER_CPU inventory_server --synthetic_products=100000
#              --completion_queues=1
#   h2load:  taskset -c LOAD_CPU h2load -c 8 -m 64 -t 1 (closed loop, 512 streams)
#   bench:   taskset -c LOAD_CPU inventory_bench --target=... --connections=8
#              --inflight=512 (closed loop, 512 calls; one completion queue, as
#              the affinity mask has one CPU)
# Both ask GetProductAvailability for the same product (sku-00000042), so the
# server does the same work for each; the request frame is built as
# bench/h2load_compare.sh builds it. The server is on its own core, so each
# rate is what the load generator on one core gets out of it: the ratio
# bench/h2load says how close our gRPC client comes to nghttp2's.
#
# Every response is checked: h2load counts gRPC errors as successes, so its
# DATA bytes must equal requests x bytes of the one OK response; the bench
# checks every status itself and exits non-zero on any error.
#
# Usage: bench/client_vs_h2load.sh [--rounds=N] [--duration=S] [--warmup=S]
#          [--server-cpu=C] [--load-cpu=C] [--build-dir=DIR]
# Defaults: 3 rounds of 10 s each after a 1 s warm-up, server on CPU 0, load
# on CPU 1, build dir <repo>/build. Prints both rates per round, the medians,
# the ratio, and the load average of the machine around each run (the other
# cores' load is not controlled: run it on a quiet machine).
set -euo pipefail

die() {
  echo "client_vs_h2load: ERROR: $*" >&2
  exit 1
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)
ROUNDS=3
DURATION=10
WARMUP=1
SERVER_CPU=0
LOAD_CPU=1
BUILD_DIR=$repo_dir/build
CONNECTIONS=8
STREAMS=64
for arg in "$@"; do
  case $arg in
    --rounds=*) ROUNDS=${arg#*=} ;;
    --duration=*) DURATION=${arg#*=} ;;
    --warmup=*) WARMUP=${arg#*=} ;;
    --server-cpu=*) SERVER_CPU=${arg#*=} ;;
    --load-cpu=*) LOAD_CPU=${arg#*=} ;;
    --build-dir=*) BUILD_DIR=${arg#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done
for v in ROUNDS DURATION WARMUP SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((ROUNDS > 0 && DURATION > 0 && WARMUP > 0)) || die "rounds, duration and warm-up must be positive"
server=$BUILD_DIR/server/inventory/inventory_server
bench=$BUILD_DIR/bench/inventory_bench
[[ -x $server && -x $bench ]] || die "build inventory_server and inventory_bench in $BUILD_DIR first"
command -v h2load >/dev/null || die "h2load not found (Debian package nghttp2-client)"

work=$(mktemp -d -t client_vs_h2load.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The product both ask for, and its one OK response: the synthetic catalog
# gives sku-<i> the quantity (i * 2654435761 mod 2^32) mod 1000.
readonly ID=sku-00000042
quantity=$(((42 * 2654435761 % 4294967296) % 1000))
((quantity > 0)) || die "pick a product in stock"
# GetProductAvailabilityResponse{is_available: true, quantity} = 08 01 10
# varint(quantity): 5 or 6 bytes, plus the 5-byte gRPC prefix.
if ((quantity < 128)); then ok_bytes=9; else ok_bytes=10; fi
echo "$ID" >"$work/ids.txt"
# gRPC frame: flag 0, length 14 (big-endian), then 0a (field 1, bytes) 0c
# (length 12) and the id, exactly as bench/h2load_compare.sh frames product123.
frame=$work/request.bin
printf '\000\000\000\000\016\012\014%s' "$ID" >"$frame"
[[ $(wc -c <"$frame") -eq 19 ]] || die "request frame is not 19 bytes"

port=$((20000 + RANDOM % 30000))
server_cmd="$server --listen=127.0.0.1:$port --synthetic_products=100000 --completion_queues=1"
echo "+ taskset -c $SERVER_CPU $server_cmd" >&2
taskset -c "$SERVER_CPU" $server_cmd >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do
  grep -q "listening on" "$work/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "server exited"; }
  sleep 0.05
done
grep -q "listening on" "$work/server.log" || die "server did not start"

h2load_cmd() { # $1 duration
  echo taskset -c "$LOAD_CPU" h2load -D "$1" -c "$CONNECTIONS" -m "$STREAMS" -t 1 \
    -H "'content-type: application/grpc'" -H "'te: trailers'" -d "$frame" \
    "http://127.0.0.1:$port/inventory.InventoryService/GetProductAvailability"
}
bench_cmd() {
  echo taskset -c "$LOAD_CPU" "$bench" --target=127.0.0.1:$port --method=get \
    --ids_file="$work/ids.txt" --connections=$CONNECTIONS --inflight=$((CONNECTIONS * STREAMS)) \
    --duration=${DURATION}s --warmup=${WARMUP}s --progress=false \
    --benchmark_out="$work/bench.json" --benchmark_out_format=json
}

run_h2load() { # $1 round; prints "req/s CPU-us-per-request share-of-its-core-%"
  local out=$work/h2load-$1.txt TIMEFORMAT='%3R %3U %3S' times
  eval "$(h2load_cmd "$WARMUP")" >"$work/h2load-warmup.txt" 2>&1 || die "h2load warm-up failed"
  { time eval "$(h2load_cmd "$DURATION")" >"$out" 2>&1; } 2>"$work/h2load-time-$1.txt" ||
    { cat "$out" >&2; die "h2load failed"; }
  local rps succeeded failed errored data
  rps=$(sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p' "$out")
  succeeded=$(sed -nE 's/^requests: .* ([0-9]+) succeeded.*/\1/p' "$out")
  failed=$(sed -nE 's/^requests: .* ([0-9]+) failed, ([0-9]+) errored.*/\1/p' "$out")
  errored=$(sed -nE 's/^requests: .* ([0-9]+) errored.*/\1/p' "$out")
  data=$(sed -nE 's/^traffic: .*\(([0-9]+)\) data$/\1/p' "$out")
  [[ -n $rps && -n $succeeded && -n $data ]] || { cat "$out" >&2; die "cannot parse h2load output"; }
  ((failed == 0 && errored == 0)) || die "h2load: $failed failed, $errored errored"
  ((data == succeeded * ok_bytes)) ||
    die "h2load: DATA bytes $data != $succeeded x $ok_bytes: not every response was OK"
  read -r -a times <"$work/h2load-time-$1.txt"
  awk -v rps="$rps" -v n="$succeeded" -v wall="${times[0]}" -v user="${times[1]}" -v sys="${times[2]}" \
    'BEGIN {printf "%s %.2f %.0f\n", rps, (user + sys) * 1e6 / n, 100 * (user + sys) / wall}'
}

run_bench() { # $1 round; prints "calls/s CPU-us-per-call"
  local out=$work/bench-$1.txt
  eval "$(bench_cmd)" >"$out" 2>&1 || { cat "$out" >&2; die "inventory_bench failed (errors?)"; }
  /usr/bin/python3 - "$work/bench.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["benchmarks"][0]
assert run["errors"] == 0, run
print("%.2f %.2f" % (run["calls_per_second"], run["client_cpu_us_per_call"]))
PY
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
declare -a h2_rates bench_rates h2_shares
echo
printf '%-6s %13s %10s %13s %10s   %s\n' round "h2load req/s" "CPU/req" "bench calls/s" \
  "CPU/call" "load average (1, 5, 15 min) before h2load / before bench / after"
for ((round = 1; round <= ROUNDS; round++)); do
  before_h2=$(loadavg)
  read -r h2 h2_cpu h2_share <<<"$(run_h2load "$round")"
  before_bench=$(loadavg)
  read -r rate cpu <<<"$(run_bench "$round")"
  after=$(loadavg)
  h2_rates+=("$h2")
  bench_rates+=("$rate")
  h2_shares+=("$h2_share")
  printf '%-6s %13s %7s us %13s %7s us   %s / %s / %s\n' "$round" "$h2" "$h2_cpu" "$rate" "$cpu" \
    "$before_h2" "$before_bench" "$after"
done
kill -TERM "$server_pid"
wait "$server_pid" || die "server exited non-zero after SIGTERM"
server_pid=""

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
med_h2=$(printf '%s\n' "${h2_rates[@]}" | median)
med_bench=$(printf '%s\n' "${bench_rates[@]}" | median)
printf '%-6s %13s %10s %13s\n' median "$med_h2" "" "$med_bench"
echo "ratio median(bench)/median(h2load) = $(awk -v a="$med_bench" -v b="$med_h2" 'BEGIN {printf "%.3f", a / b}')"
echo
echo "CPU/req, CPU/call: user + system CPU time of the load generator per successful call (the"
echo "bench's over its measured window). h2load kept its core busy ${h2_shares[*]} % of the time"
echo "(per round): below 100, h2load was not what limited its rate; the server was. The load"
echo "averages include this script's own server and load generator (about 2 when nothing else runs)."
echo
echo "Every h2load response checked (DATA bytes = requests x $ok_bytes); the bench saw no error;"
echo "the server exited 0 on SIGTERM. Commands (PORT: a free port, FRAME: 19-byte request for $ID,"
echo "IDS: a file naming $ID; h2load's measured run follows a ${WARMUP} s warm-up run):"
echo "  server: taskset -c $SERVER_CPU ${server_cmd//$port/PORT}"
echo "  h2load: $(h2load_cmd "$DURATION" | sed "s|$frame|FRAME|; s|$port|PORT|")"
echo "  bench:  $(bench_cmd | sed "s|$work/ids.txt|IDS|; s|$port|PORT|; s|$work/bench.json|OUT.json|")"
echo "  machine: $(nproc) CPUs, $(uname -r)"
