#!/usr/bin/env bash
# Interleaved rounds of GetProduct throughput for several product_server
# variants against one inventory_server, with the load of the batching goal
# (h2load, 8 connections x 64 streams), everything on the machine's 2 cores:
#
#   bench/product_rounds.sh [--rounds=3] [--duration=8] "LABEL=BINARY [FLAGS...]" ...
#
# e.g. bench/product_rounds.sh "default=build/server/product/product_server" \
#        "batch250=build/server/product/product_server --max_batch_size=250"
# Each round runs every variant once, in the order given, after a 1 s warm-up;
# every run must be all-OK. Prints req/s per round and the median per variant.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
rounds=3 duration=8 variants=()
for arg in "$@"; do
  case $arg in
    --rounds=*) rounds=${arg#*=} ;;
    --duration=*) duration=${arg#*=} ;;
    *=*) variants+=("$arg") ;;
    *) echo "usage: $0 [--rounds=N] [--duration=S] \"LABEL=BINARY [FLAGS...]\"..." >&2; exit 2 ;;
  esac
done
((${#variants[@]} > 0)) || { echo "$0: no variant given" >&2; exit 2; }
work=$(mktemp -d -t product_rounds.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; exit 1; }

protoc -I "$repo/proto" --python_out="$work" product.proto
/usr/bin/python3 - "$work" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import product_pb2
body = product_pb2.GetProductRequest(product_id="sku-00000042").SerializeToString()
open(f"{sys.argv[1]}/product.bin", "wb").write(b"\0" + len(body).to_bytes(4, "big") + body)
PY

inventory_port=$(free_port)
"$build/server/inventory/inventory_server" --listen="127.0.0.1:$inventory_port" \
  --synthetic_products=100000 >"$work/inventory.log" 2>&1 &
pids+=($!)
wait_port "$inventory_port"

for ((round = 1; round <= rounds; round++)); do
  for variant in "${variants[@]}"; do
    label=${variant%%=*}
    read -r -a command <<<"${variant#*=}"
    port=$(free_port)
    "${command[@]}" --listen="127.0.0.1:$port" --inventory="127.0.0.1:$inventory_port" \
      --synthetic_products=100000 >"$work/product.log" 2>&1 &
    product=$!
    wait_port "$port"
    load=(h2load -c 8 -m 64 -t 1 -H "content-type: application/grpc" -H "te: trailers"
          -d "$work/product.bin" "http://127.0.0.1:$port/product.ProductService/GetProduct")
    "${load[@]}" -D 1 >/dev/null
    "${load[@]}" -D "$duration" >"$work/h2load.txt"
    kill -TERM "$product"
    wait "$product"
    grep -q " 0 failed, 0 errored" "$work/h2load.txt" || { cat "$work/h2load.txt" >&2; exit 1; }
    rps=$(grep -o '[0-9.]* req/s' "$work/h2load.txt" | cut -d' ' -f1)
    echo "round $round $label: $rps req/s"
    echo "$label $rps" >>"$work/rates"
  done
done
echo
for variant in "${variants[@]}"; do
  label=${variant%%=*}
  awk -v l="$label" '$1 == l {print $2}' "$work/rates" | sort -g |
    awk -v l="$label" '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "median %s: %.0f req/s\n", l, m}'
done
