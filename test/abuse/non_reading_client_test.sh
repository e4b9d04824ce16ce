#!/usr/bin/env bash
# A client that never reads its responses (and never ACKs SETTINGS) must not
# deny service to other clients: test/abuse/non_reading_client.py against a
# real inventory_server on an ephemeral port, which must then stop cleanly.
#
#   non_reading_client_test.sh INVENTORY_SERVER PROTOC
set -euo pipefail
(($# == 2)) || { echo "usage: $0 INVENTORY_SERVER PROTOC" >&2; exit 2; }
server=$1
protoc=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/non_reading.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/stubs"
"$protoc" -I "$repo/proto" --python_out="$tmp/stubs" --grpc_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$repo/proto/inventory.proto"
env -u http_proxy -u https_proxy -u grpc_proxy -u HTTP_PROXY -u HTTPS_PROXY PYTHONNOUSERSITE=1 \
  bash "$repo/test/run_with_server.sh" "$server" --completion_queues=2 --synthetic_products=1000 -- \
  timeout 120 /usr/bin/python3 "$here/non_reading_client.py" "127.0.0.1:{PORT}" "$tmp/stubs"
