#!/usr/bin/env bash
# One HTTP/2 denial-of-service attack (test/abuse/h2_dos.py ATTACK) against a
# real inventory_server on an ephemeral loopback port, which must survive it
# and then stop cleanly. The server runs under an address-space limit
# (prlimit --as, H2_DOS_AS_LIMIT bytes, default 6 GiB: about 4 GiB more
# than it maps at rest), so a gRPC without the patches makes it fail its
# allocations and the test fail, instead of taking the machine's memory; the
# attack itself stops once the server's RSS passes 1 GiB.
#
#   h2_dos_test.sh ATTACK INVENTORY_SERVER PROTOC [SERVER_FLAG...] [-- H2_DOS_FLAG...]
set -euo pipefail
(($# >= 3)) || { echo "usage: $0 ATTACK INVENTORY_SERVER PROTOC [SERVER_FLAG...] [-- H2_DOS_FLAG...]" >&2; exit 2; }
attack=$1 server=$2 protoc=$3
shift 3
server_flags=()
while (($# > 0)) && [[ $1 != -- ]]; do
  server_flags+=("$1")
  shift
done
(($# == 0)) || shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
as_limit=${H2_DOS_AS_LIMIT:-$((6 << 30))}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/h2_dos.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/stubs"
"$protoc" -I "$repo/proto" --python_out="$tmp/stubs" --grpc_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin "$repo/proto/inventory.proto"
# prlimit sets the limit on itself and then execs the server (same PID), so
# run_with_server.sh watches, signals and measures the server itself.
env -u http_proxy -u https_proxy -u grpc_proxy -u HTTP_PROXY -u HTTPS_PROXY PYTHONNOUSERSITE=1 \
  bash "$repo/test/run_with_server.sh" /usr/bin/prlimit "--as=$as_limit" "$server" \
  "${server_flags[@]}" -- \
  bash -c 'exec timeout 90 /usr/bin/python3 "$0" "$1" "127.0.0.1:$SERVER_PORT" "$SERVER_PID" "$2" "${@:3}"' \
  "$here/h2_dos.py" "$attack" "$tmp/stubs" "$@"
