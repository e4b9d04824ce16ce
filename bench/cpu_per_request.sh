#!/usr/bin/env bash
# Server CPU time per request under h2load, 8 connections x 64 streams, all
# on the machine's 2 cores, nothing pinned (the setting of the batching goal):
#
#   bench/cpu_per_request.sh inventory [INVENTORY_FLAGS...]   GetProductAvailability straight to inventory_server
#   bench/cpu_per_request.sh product [PRODUCT_FLAGS...]       GetProduct through product_server
#
# Prints req/s and, per request, the measured server's task-clock (perf
# stat -e task-clock over 4 s of an 8 s run), syscalls and context switches.
# Needs perf and h2load; BUILD_DIR defaults to build/.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
mode=${1:?usage: $0 inventory|product [server flags...]}
shift
work=$(mktemp -d -t cpu_per_request.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; exit 1; }

protoc -I "$repo/proto" --python_out="$work" inventory.proto product.proto
/usr/bin/python3 - "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import inventory_pb2, product_pb2
for name, message in (("get.bin", inventory_pb2.GetProductAvailabilityRequest(product_id="sku-00000042")),
                      ("product.bin", product_pb2.GetProductRequest(product_id="sku-00000042"))):
    body = message.SerializeToString()
    open(f"{sys.argv[1]}/{name}", "wb").write(b"\0" + len(body).to_bytes(4, "big") + body)
PY

inventory_port=$(free_port)
inventory_args=() product_args=()
[[ $mode == inventory ]] && inventory_args=("$@")
[[ $mode == product ]] && product_args=("$@")
"$build/server/inventory/inventory_server" --listen="127.0.0.1:$inventory_port" \
  --synthetic_products=100000 "${inventory_args[@]}" >"$work/inventory.log" 2>&1 &
pids+=($!)
measured=$!
wait_port "$inventory_port"
url=http://127.0.0.1:$inventory_port/inventory.InventoryService/GetProductAvailability
body=$work/get.bin
if [[ $mode == product ]]; then
  product_port=$(free_port)
  "$build/server/product/product_server" --listen="127.0.0.1:$product_port" \
    --inventory="127.0.0.1:$inventory_port" --synthetic_products=100000 "${product_args[@]}" \
    >"$work/product.log" 2>&1 &
  pids+=($!)
  measured=$!
  wait_port "$product_port"
  url=http://127.0.0.1:$product_port/product.ProductService/GetProduct
  body=$work/product.bin
fi
load=(h2load -c 8 -m 64 -t 1 -H "content-type: application/grpc" -H "te: trailers" -d "$body" "$url")
"${load[@]}" -D 1 >/dev/null
"${load[@]}" -D 8 >"$work/h2load.txt" &
h2load_pid=$!
sleep 2
perf stat -x, -e task-clock,raw_syscalls:sys_enter,context-switches -p "$measured" -- sleep 4 \
  2>"$work/stat.csv"
wait "$h2load_pid"
rps=$(grep -o '[0-9.]* req/s' "$work/h2load.txt" | cut -d' ' -f1)
grep -q " 0 failed, 0 errored" "$work/h2load.txt" || { cat "$work/h2load.txt" >&2; exit 1; }
echo "$mode ${*:-(defaults)}: $rps req/s"
awk -F, -v rps="$rps" '
  $3 == "task-clock" { printf "  server CPU per request: %.1f us\n", $1 * 1000 / (rps * 4) }
  $3 == "raw_syscalls:sys_enter" { printf "  syscalls per request: %.2f\n", $1 / (rps * 4) }
  $3 == "context-switches" { printf "  context switches per request: %.3f\n", $1 / (rps * 4) }
' "$work/stat.csv"
