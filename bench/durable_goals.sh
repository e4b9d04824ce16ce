#!/usr/bin/env bash
# The durability goals of the README, measured with inventory_bench's load
# mode against inventory_server --data_dir (RocksDB, --sync=true: an fsync
# per group commit), everything sharing the machine's 2 cores (nothing
# pinned), rounds repeated and medians reported:
#
#   writes   ReserveStock at 256 in flight (8 connections), every order a new
#            order_id of one line: durable reservations/s.
#   reads    GetProductAvailability at 256 in flight alone, then while the
#            write load above runs in a second inventory_bench process:
#            the drop of the read rate (goal: at most 20%).
#
#   bench/durable_goals.sh [--build-dir=DIR] [--duration=10] [--runs=3]
#                          [--server-cpu=C --load-cpu=C]
# With the CPU flags the server runs pinned to one core (one completion
# queue, the journal's writer on the same core) and every load generator on
# the other, which separates the server's own costs from the clients'.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BUILD_DIR=$repo/build
DURATION=10
RUNS=3
SERVER_CPU=
LOAD_CPU=
for arg in "$@"; do
  case $arg in
    --server-cpu=*) SERVER_CPU=${arg#*=} ;;
    --load-cpu=*) LOAD_CPU=${arg#*=} ;;
    --build-dir=*) BUILD_DIR=${arg#*=} ;;
    --duration=*) DURATION=${arg#*=} ;;
    --runs=*) RUNS=${arg#*=} ;;
    *) echo "usage: $0 [--build-dir=DIR] [--duration=S] [--runs=N]" >&2; exit 2 ;;
  esac
done
server=$BUILD_DIR/server/inventory/inventory_server
bench=${BENCH:-$BUILD_DIR/bench/inventory_bench}
work=$(mktemp -d -t durable_goals.XXXXXX)
server_pid=
server_prefix=() load_prefix=()
[[ -n $SERVER_CPU ]] && server_prefix=(taskset -c "$SERVER_CPU")
[[ -n $LOAD_CPU ]] && load_prefix=(taskset -c "$LOAD_CPU")
cleanup() {
  [[ -n $server_pid ]] && kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 100,000 products with stock no run can exhaust.
{
  echo "product_id,quantity"
  for ((i = 0; i < 100000; i++)); do printf 'sku-%08d,100000000\n' "$i"; done
} >"$work/catalog.csv"

start_server() {  # sets port and server_pid
  rm -rf "$work/data"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${server_prefix[@]}" "$server" --listen="127.0.0.1:$port" --data_dir="$work/data" --sync=true \
    --catalog="$work/catalog.csv" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q "listening on" "$work/server.log" && return
    sleep 0.05
  done
  cat "$work/server.log" >&2
  exit 1
}
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || { echo "server did not exit 0" >&2; exit 1; }
  server_pid=
}
# load PORT METHOD EXTRA...: prints the achieved rate (calls/s) of one run.
load() {
  local port=$1 method=$2 out
  shift 2
  out=$work/load-$method-$RANDOM.json
  "${load_prefix[@]}" "$bench" --target="127.0.0.1:$port" --method="$method" --catalog_size=100000 \
    --connections=8 --duration="${DURATION}s" --warmup=2s --progress=false \
    --benchmark_out="$out" --benchmark_out_format=json "$@" >"$out.txt" 2>&1 ||
    { cat "$out.txt" >&2; echo "inventory_bench $method failed (errors?)" >&2; exit 1; }
  /usr/bin/python3 -c '
import json, sys
run = json.load(open(sys.argv[1]))["benchmarks"][0]
print(round(run["items_per_second"]))' "$out"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

writes=() reads=() reads_loaded=() writes_during=()
for ((run = 1; run <= RUNS; run++)); do
  start_server
  w=$(load "$port" reserve --inflight=256)
  r=$(load "$port" get --inflight=256)
  # Reads while the full write load runs beside them (started first, and
  # running past the read window).
  load "$port" reserve --inflight=256 --duration="$((DURATION + 4))s" >"$work/bg.rate" &
  bg=$!
  sleep 1
  rl=$(load "$port" get --inflight=256)
  wait "$bg"
  wd=$(cat "$work/bg.rate")
  stop_server
  echo "run $run: writes alone $w/s; reads alone $r/s; reads beside full writes $rl/s" \
    "(writes meanwhile $wd/s)"
  writes+=("$w") reads+=("$r") reads_loaded+=("$rl") writes_during+=("$wd")
done
mw=$(printf '%s\n' "${writes[@]}" | median)
mr=$(printf '%s\n' "${reads[@]}" | median)
mrl=$(printf '%s\n' "${reads_loaded[@]}" | median)
mwd=$(printf '%s\n' "${writes_during[@]}" | median)
echo
echo "GOAL durable writes: median $mw reservations/s at 256 in flight, --sync=true (goal >= 20000)"
echo "GOAL reads under write load: reads alone $mr/s; beside full-speed writes ($mwd/s) $mrl/s," \
  "a drop of $(awk -v a="$mr" -v b="$mrl" 'BEGIN {printf "%.1f%%", (1 - b / a) * 100}') (goal <= 20%)"
echo "pinning: server ${SERVER_CPU:-not pinned}, load ${LOAD_CPU:-not pinned}"
echo "server: inventory_server --data_dir=DIR --sync=true --catalog=<100,000 products x 1e8>"
echo "load:   inventory_bench --target=127.0.0.1:PORT --method=reserve|get --catalog_size=100000" \
  "--connections=8 --inflight=256 --duration=${DURATION}s --warmup=2s"
