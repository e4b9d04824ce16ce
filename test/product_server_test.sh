#!/usr/bin/env bash
# The two binaries together, as deployed: inventory_server (with a data
# directory) and product_server pointed at it, both on ephemeral loopback
# ports, driven by a Python client generated from the protos with Debian's
# protoc and grpc_python_plugin. Both must stop with status 0 on SIGTERM.
#
#   product_server_test.sh INVENTORY_SERVER PRODUCT_SERVER [PROTOC]
set -euo pipefail

(($# >= 2)) || { echo "usage: $0 INVENTORY_SERVER PRODUCT_SERVER [PROTOC]" >&2; exit 2; }
inventory_server=$1
product_server=$2
protoc=${3:-protoc}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/product_server_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/stubs"
"$protoc" -I proto --python_out="$tmp/stubs" --grpc_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/inventory.proto proto/product.proto

cat >"$tmp/check.py" <<'PY'
import re, sys, urllib.request
import grpc, product_pb2, product_pb2_grpc

product_address, metrics_port = sys.argv[1], sys.argv[2]
stub = product_pb2_grpc.ProductServiceStub(grpc.insecure_channel(product_address))

def get(product_id):
    return stub.GetProduct(product_pb2.GetProductRequest(product_id=product_id), timeout=10)

def order(order_id, lines):
    request = product_pb2.PlaceOrderRequest(order_id=order_id, lines=[
        product_pb2.OrderLine(product_id=p, quantity=q) for p, q in lines])
    return stub.PlaceOrder(request, timeout=10)

def expect_code(code, call):
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == code, (error.code(), error.details())
        return error.details()
    raise AssertionError(f"expected {code}, got OK")

first = get("product123")
assert (first.name, first.price_cents, first.is_available, first.quantity) == (
    "Seed example product", 1999, True, 10), first
placed = order("order-1", [("product123", 2)])
assert placed.total_cents == 3998 and placed.order_id == "order-1", placed
assert get("product123").quantity == 8
assert order("order-1", [("product123", 2)]) == placed  # a retry reserves nothing more
assert get("product123").quantity == 8
details = expect_code(grpc.StatusCode.FAILED_PRECONDITION, lambda: order("order-2", [("product123", 9)]))
assert "product123" in details, details
expect_code(grpc.StatusCode.NOT_FOUND, lambda: get("product999"))
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: order("", [("product123", 1)]))
metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
for needle in ['grpc_server_handled_total{grpc_code="OK",grpc_method="PlaceOrder"',
               'grpc_client_handled_total{grpc_code="OK",grpc_method="ReserveStock"',
               'inventory_lookup_batch_size_count']:
    assert needle in metrics, needle
build_info = re.compile(r'^build_info\{grpc_version="\d+\.\d+\.\d+",protobuf_version="[^"]+",'
                        r'version="\d+\.\d+\.\d+"\} 1$', re.M)
assert build_info.search(metrics), [l for l in metrics.splitlines() if "build_info" in l]
print("product_server_test: all checks passed")
PY

# Inside the inventory's run: start product_server against it, then check.
cat >"$tmp/with_product.sh" <<EOF2
set -euo pipefail
inventory_port=\$SERVER_PORT
metrics_port=\$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash "$here/run_with_server.sh" "$product_server" --inventory=127.0.0.1:\$inventory_port \
  --metrics_listen=127.0.0.1:\$metrics_port -- \
  env PYTHONPATH="$tmp/stubs" PYTHONNOUSERSITE=1 timeout 60 /usr/bin/python3 "$tmp/check.py" \
  "127.0.0.1:{PORT}" "\$metrics_port"
EOF2

env -u http_proxy -u https_proxy -u grpc_proxy -u HTTP_PROXY -u HTTPS_PROXY \
  bash "$here/run_with_server.sh" "$inventory_server" --data_dir="$tmp/data" -- \
  bash "$tmp/with_product.sh"
