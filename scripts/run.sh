#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build the
# binaries, then run what this project is for:
#   1. inventory_server with its durable store in build/run/inventory-data
#      (fresh each run), and product_server in front of it, both over 100,000
#      synthetic products, on free loopback ports;
#   2. the seed article's Python client (client/seed_client.py) against the
#      inventory, after SetStock gives its product123 the article's 10 units;
#   3. a short inventory_bench load run against the ProductService: GetProduct
#      for random ids of the catalog (each a catalog hit and a live inventory
#      look-up), with its rate, latency percentiles and errors by code;
#   4. both servers stopped with SIGTERM; each must drain and exit 0.
# Exits non-zero if any step fails. Logs stay in build/run/.
# LOAD_SECONDS (default 10) sets the load run's measured window.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

bash scripts/install_deps.sh
# gRPC: the release build of deps/grpc/ (once, about 13 minutes on 2 cores),
# or Debian's binary package with INVENTORY_SYSTEM_GRPC=1.
if [ "${INVENTORY_SYSTEM_GRPC:-0}" = "1" ]; then
  grpc_args=(-DINVENTORY_SYSTEM_GRPC=ON)
else
  bash deps/grpc/build_grpc.sh
  grpc_args=(-DINVENTORY_SYSTEM_GRPC=OFF)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${grpc_args[@]}"
cmake --build build --target inventory_server product_server health_probe inventory_bench

run=$repo/build/run
rm -rf "$run"
mkdir -p "$run/stubs"
# Loopback only, never through a proxy from the environment.
unset http_proxy https_proxy grpc_proxy HTTP_PROXY HTTPS_PROXY

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# start NAME LOG ARG...: starts build/.../NAME on a free port, waits for its
# "listening on HOST:PORT" line, and sets $port, $metrics_port and $pid.
start() {
  local name=$1 log=$2
  shift 2
  "$@" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 </dev/null >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  local line=
  for _ in $(seq 1 300); do
    line=$(grep -m1 -oE 'listening on [^ ]+:[0-9]+.*' "$log" || true)
    [[ -n $line ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "run.sh: $name did not start" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n $line ]] || { cat "$log" >&2; echo "run.sh: $name printed no listening line" >&2; exit 1; }
  port=$(sed -E 's/^listening on [^ ]+:([0-9]+).*/\1/' <<<"$line")
  metrics_port=$(sed -nE 's/.*metrics on port ([0-9]+).*/\1/p' <<<"$line")
  echo "$name: pid $pid, gRPC on 127.0.0.1:$port, metrics on 127.0.0.1:$metrics_port (log: ${log#"$repo"/})"
}

say "1. inventory_server (durable, build/run/inventory-data) and product_server, 100,000 products"
start inventory_server "$run/inventory.log" build/server/inventory/inventory_server \
  --data_dir="$run/inventory-data" --synthetic_products=100000 --allow_unauthenticated_admin
inventory_pid=$pid inventory_port=$port
start product_server "$run/product.log" build/server/product/product_server \
  --inventory=127.0.0.1:"$inventory_port" --synthetic_products=100000
product_pid=$pid product_port=$port product_metrics=$metrics_port
build/tools/health_probe --addr=127.0.0.1:"$inventory_port"
build/tools/health_probe --addr=127.0.0.1:"$product_port"

say "2. the seed client (client/seed_client.py) against the inventory"
tools/grpc_call.py 127.0.0.1:"$inventory_port" inventory.InventoryService/SetStock \
  'product_id: "product123" quantity: 10'
protoc -I proto --python_out="$run/stubs" --grpc_out="$run/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/inventory.proto
PYTHONPATH=$run/stubs timeout 30 /usr/bin/python3 client/seed_client.py 127.0.0.1:"$inventory_port"

say "3. load: GetProduct through the ProductService, random ids of the catalog, 64 in flight"
seconds=${LOAD_SECONDS:-10}
load_status=0
build/bench/inventory_bench --target=127.0.0.1:"$product_port" --method=product_get \
  --duration="${seconds}s" --warmup=2s --inflight=64 --connections=8 --progress=false \
  --benchmark_out="$run/load.json" --benchmark_out_format=json >"$run/load.log" 2>&1 ||
  load_status=$?
# The bench's own summary: the line naming the method, then its indented lines.
summary=$(awk '/^GetProduct against / { on = 1; print; next } on && /^  / { print; next } { on = 0 }' \
  "$run/load.log")
if [[ -z $summary ]]; then
  cat "$run/load.log" >&2
  echo "run.sh: the load run printed no summary (exit status $load_status)" >&2
  exit 1
fi
printf '%s\n' "$summary"
grep -q '^  error ' <<<"$summary" || echo "  errors     none"
echo "  (full output: build/run/load.log, JSON: build/run/load.json)"
echo "product_server's own count of the GetProduct calls it answered OK (warm-up included):"
curl -s "http://127.0.0.1:$product_metrics/metrics" |
  grep '^grpc_server_handled_total{grpc_code="OK",grpc_method="GetProduct"' || true

say "4. SIGTERM to both servers"
kill -TERM "$product_pid" "$inventory_pid"
stopped=0
for name_pid in product_server:"$product_pid" inventory_server:"$inventory_pid"; do
  status=0
  wait "${name_pid#*:}" || status=$?
  echo "${name_pid%%:*} exited with status $status ($(grep -m1 -oE 'stopped cleanly|stopped:.*' \
    "$run/${name_pid%%_*}.log" || echo 'no stop line in its log'))"
  ((status == 0)) || stopped=1
done
pids=()
if ((load_status != 0)); then
  echo "run.sh: the load run failed (exit status $load_status): see build/run/load.log" >&2
  exit 1
fi
((stopped == 0)) || { echo "run.sh: a server did not exit 0 after SIGTERM" >&2; exit 1; }
say "done: both servers served, the seed client and the load run got their answers, both stopped cleanly"
