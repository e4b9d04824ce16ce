#!/usr/bin/env bash
# The seed article's Python client (client/seed_client.py, kept verbatim) must
# keep working against inventory_server, with stubs generated from today's
# proto/inventory.proto by Debian's protoc and grpc_python_plugin.
#
#   seed_compat_test.sh INVENTORY_SERVER [PROTOC]
set -euo pipefail

(($# >= 1)) || { echo "usage: $0 INVENTORY_SERVER [PROTOC]" >&2; exit 2; }
server=$1
protoc=${2:-protoc}
grpc_python_plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
python=/usr/bin/python3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seed_compat.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/stubs"
"$protoc" -I proto --python_out="$tmp/stubs" --grpc_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc="$grpc_python_plugin" proto/inventory.proto

failures=0

# run_seed_client EXPECTED_LINE [SERVER_ARG...]: starts the server with the
# given arguments, runs the seed client once against it and requires its
# stdout to be exactly EXPECTED_LINE plus a newline.
run_seed_client() {
  local expected=$1
  shift
  local out=$tmp/client.out status=0
  # Only the stubs on the path, no user site-packages, no proxy in the way of
  # the loopback connection; the client sets no deadline, so bound it here.
  env -u http_proxy -u https_proxy -u grpc_proxy -u HTTP_PROXY -u HTTPS_PROXY \
    PYTHONPATH="$tmp/stubs" PYTHONNOUSERSITE=1 \
    bash "$here/run_with_server.sh" "$server" "$@" -- \
    timeout 30 "$python" client/seed_client.py "127.0.0.1:{PORT}" >"$out" || status=$?
  if ((status != 0)); then
    echo "FAIL [${*:-built-in catalog}]: client or server failed (status $status); client stdout:" >&2
    cat "$out" >&2
    failures=$((failures + 1))
  elif ! diff -u <(printf '%s\n' "$expected") "$out" >&2; then
    echo "FAIL [${*:-built-in catalog}]: seed client output differs from the expected line above" >&2
    failures=$((failures + 1))
  else
    echo "ok   [${*:-built-in catalog}]: $expected"
  fi
}

# The built-in catalog: product123 with quantity 10, as in the article.
run_seed_client "Product product123 is available. Quantity: 10"

# A catalog where product123 is out of stock.
printf 'product_id,quantity\nproduct123,0\n' >"$tmp/out_of_stock.csv"
run_seed_client "Product product123 is not available." --catalog="$tmp/out_of_stock.csv"

if ((failures > 0)); then
  echo "seed_compat_test: $failures check(s) failed" >&2
  exit 1
fi
echo "seed_compat_test: all checks passed"
