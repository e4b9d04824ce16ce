#!/usr/bin/env bash
# The load tool's own cost in instructions per unary call, counted by
# valgrind's callgrind (repeatable where CPU time scatters): the
# docs/load-tool.md "Against h2load" figure, for each --client_api.
#
#   bench/client_instructions.sh [BUILD_DIR] [N]   (defaults: build, 5000)
#
# A plain inventory_server (--synthetic_products=100000
# --completion_queues=1, not under valgrind) on an ephemeral port; the tool
# runs under callgrind twice per API, with --total=N and 3N calls of
# GetProductAvailability given as JSON (8 connections x 512 in flight, no
# warm-up), and the difference over 2N calls is printed, so start-up, channel
# set-up and shutdown cancel out. h2load (nghttp2-client) is measured the
# same way for the yardstick when it is installed. About 2 minutes.
set -euo pipefail
# KEEP_CALLGRIND=1 keeps the callgrind files (their directory is printed).
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-5000}
server=$build/server/inventory/inventory_server
tool=$build/bench/inventory_bench
work=$(mktemp -d)
trap 'kill "${spid:-}" 2>/dev/null || true; [[ -n ${KEEP_CALLGRIND:-} ]] || rm -rf "$work"' EXIT
"$server" --synthetic_products=100000 --completion_queues=1 --listen=127.0.0.1:0 \
  >"$work/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
addr=$(grep -o "listening on [0-9.:]*" "$work/server.log" | head -1 | awk '{print $3}')
[[ -n $addr ]] || { cat "$work/server.log"; exit 1; }
# GetProductAvailability {product_id: "sku-00000042"} as a gRPC frame, for h2load.
printf '\x00\x00\x00\x00\x0e\x0a\x0csku-00000042' >"$work/frame"

total() { grep -m1 '^summary' "$1" | awk '{print $2}'; }
run_tool() {
  local api=$1 calls=$2
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$api.$calls" \
    "$tool" --target="$addr" --call=inventory.InventoryService/GetProductAvailability \
    --proto=proto/inventory.proto '--data={"product_id": "sku-00000042"}' \
    --connections=8 --inflight=512 --client_cqs=1 --progress=false --warmup=0s --duration=300s --deadline=60s \
    --total="$calls" --client_api="$api" --format=json >"$work/$api.$calls.json" 2>"$work/$api.$calls.err"
  grep -Eq "\"ok\":$calls[,}]" "$work/$api.$calls.json" || { cat "$work/$api.$calls.json" "$work/$api.$calls.err"; exit 1; }
}
run_h2load() {
  local calls=$1
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.h2load.$calls" \
    h2load -n "$calls" -c 8 -m 64 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/frame" "http://$addr/inventory.InventoryService/GetProductAvailability" \
    >"$work/h2load.$calls.log" 2>&1
  grep -q "$calls succeeded" "$work/h2load.$calls.log" || { cat "$work/h2load.$calls.log"; exit 1; }
}
[[ -n ${KEEP_CALLGRIND:-} ]] && echo "callgrind files: $work"
printf '%-8s %14s %14s %10s\n' load "Ir ($n)" "Ir ($((3 * n)))" "Ir/call"
loads=(cpp core)
command -v h2load >/dev/null && loads+=(h2load)
for load in "${loads[@]}"; do
  for calls in "$n" $((3 * n)); do
    if [[ $load == h2load ]]; then run_h2load "$calls"; else run_tool "$load" "$calls"; fi
  done
  a=$(total "$work/cg.$load.$n") b=$(total "$work/cg.$load.$((3 * n))")
  printf '%-8s %14s %14s %10d\n' "$load" "$a" "$b" $(((b - a) / (2 * n)))
done
