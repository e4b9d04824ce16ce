#!/usr/bin/env bash
# Reproduces every figure of the README's performance section: the headline
# comparison with the plain async baseline, then one comparison per
# optimisation, each the InventoryService with and without it. Every line is
# a bench/h2load_compare.sh run (server on CPU 0, h2load on CPU 1, 8
# connections x 64 streams, rounds interleaved, every response checked).
#
# Usage: bench/ablation.sh [RESULTS_DIR]   (env RUNS, DURATION as in h2load_compare.sh)
# Needs build/ (default options) and build-nojemalloc/ (-DINVENTORY_JEMALLOC=OFF):
#   cmake -S . -B build -G Ninja && cmake --build build
#   cmake -S . -B build-nojemalloc -G Ninja -DINVENTORY_JEMALLOC=OFF &&
#     cmake --build build-nojemalloc --target inventory_server
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-bench/results}
mkdir -p "$results"
export RUNS=${RUNS:-3} DURATION=${DURATION:-10}
server=build/server/inventory/inventory_server
baseline=build/bench/baseline_async_server
listen='--listen=127.0.0.1:{PORT}'

compare() { # NAME  A_LABEL A_CMD  B_LABEL B_CMD
  local name=$1
  echo "== $name: $2 vs $4"
  NAME_A=$2 SERVER_CMD_A=$3 NAME_B=$4 SERVER_CMD_B=$5 bash bench/h2load_compare.sh \
    >"$results/$name.txt" 2>&1 || { cat "$results/$name.txt"; exit 1; }
  sed -n '/^run /,/^ratio/p' "$results/$name.txt"
}

compare headline "inventory_server" "$server $listen" "baseline" "$baseline $listen"
compare same-queues "inventory_server(1cq)" "$server --completion_queues=1 $listen" \
  "baseline(1cq)" "$baseline --cqs=1 $listen"
compare depth "depth=64" "$server $listen" "depth=512" "$server --requests_per_method=512 $listen"
compare depth-1 "depth=64" "$server $listen" "depth=1" "$server --requests_per_method=1 $listen"
compare deadlock-detection "detection-off" "$server $listen" \
  "detection-on" "$server --mutex_deadlock_detection $listen"
compare allocator "jemalloc" "$server $listen" \
  "glibc-malloc" "build-nojemalloc/server/inventory/inventory_server $listen"
compare queues "1cq" "$server --completion_queues=1 $listen" "2cq" "$server --completion_queues=2 $listen"
compare reflection "reflection-off" "$server $listen" "reflection-on" "$server --reflection $listen"
compare channel-args "default-args" "$server $listen" \
  "bdp_probe=0" "$server --grpc_channel_args=grpc.http2.bdp_probe=0 $listen"
