#!/usr/bin/env bash
# Runs inventory_bench's load mode at several load levels against one target
# and writes every level as one benchmark of one JSON file, ready for
# bench/plot_latency.sh (latency against throughput) or compare.py.
#
# Usage: bench/sweep.sh TARGET METHOD LEVELS OUT.json [INVENTORY_BENCH_FLAG...]
#   TARGET   host:port of a running server
#   METHOD   get, batch, reserve, product_get or place_order
#   LEVELS   offered rates for an open loop, "1000,5000,20000", or in-flight
#            levels for a closed loop, "inflight=1,16,64,256"
# Environment: BENCH (default <repo>/build/bench/inventory_bench),
#   LOAD_CPU (pin the bench with taskset -c, e.g. 1; default: not pinned).
# Example, the chart in bench/results/:
#   taskset -c 0 build/server/inventory/inventory_server --synthetic_products=100000 \
#     --completion_queues=1 --listen=127.0.0.1:50051 &
#   LOAD_CPU=1 bench/sweep.sh 127.0.0.1:50051 get 10000,20000,40000 sweep.json --duration=10s
#   bench/plot_latency.sh sweep.json sweep.svg
# A level whose calls fail beyond --max_error_ratio (default 0: any) still
# lands in the JSON; the script then says so and exits 1 after the sweep.
set -euo pipefail
if (($# < 4)); then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
target=$1 method=$2 levels=$3 out=$4
shift 4
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${BENCH:-$repo_dir/build/bench/inventory_bench}
[[ -x $bench ]] || { echo "sweep: $bench not built" >&2; exit 1; }
if [[ $levels == inflight=* ]]; then
  level_flag=--inflight=${levels#inflight=}
else
  level_flag=--rate=$levels
fi
pin=()
if [[ -n ${LOAD_CPU:-} ]]; then pin=(taskset -c "$LOAD_CPU"); fi
status=0
"${pin[@]}" "$bench" --target="$target" --method="$method" "$level_flag" \
  --benchmark_out="$out" --benchmark_out_format=json "$@" || status=$?
echo "sweep: load average after the sweep: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if ((status != 0)); then
  echo "sweep: inventory_bench exited with status $status (see its FAILED lines); $out was written" >&2
  exit 1
fi
echo "sweep: wrote $out" >&2
