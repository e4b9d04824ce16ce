#!/usr/bin/env bash
# The authorization check's cost in instructions per call, counted by
# valgrind's callgrind (repeatable on a shared, noisy machine, where CPU time
# per call scatters by ±10% between rounds): docs/performance.md.
#
#   bench/authz_instructions.sh [BUILD_DIR]     (default: build)
#
# For each variant it runs inventory_server under callgrind twice, with N and
# 3N SetStock calls, and takes the difference over 2N calls, so start-up and
# shutdown cancel out. It prints the whole server's instructions per call and
# those of Authorization::MethodCheck::Authorize (inclusive: the check alone).
#   plaintext, h2load 8 x 64, N = 10,000:
#     unchecked         --allow_unauthenticated_admin, no authorization header
#     unchecked-header  --allow_unauthenticated_admin, the header sent anyway
#     token             --admin_token_file, the header with the right token
#   mTLS, bench/security_load (64 threads, 8 connections, the admin.example
#   client certificate), N = 5,000:
#     mtls-unchecked    --allow_unauthenticated_admin
#     mtls-san          --admin_identities=admin.example
# Needs valgrind, h2load (nghttp2-client) and a built tree; about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
server=$build/server/inventory/inventory_server
load=$build/bench/security_load
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
token=bench-admin-token-0123456789abcdef
echo "$token" >"$work/token"
bash test/tls/make_test_certs.sh "$work/certs" >/dev/null
c=$work/certs
# The SetStock request {product_id: "product123", quantity: 10} as a gRPC frame.
printf '\x00\x00\x00\x00\x0e\x0a\x0aproduct123\x10\x0a' >"$work/frame"

# run NAME CALLS LOAD SERVER_FLAGS...: LOAD is h2load or h2load-header or mtls.
run() {
  local name=$1 calls=$2 kind=$3
  shift 3
  local log=$work/$name.$calls.log tls=()
  [[ $kind == mtls ]] && tls=(--tls_cert="$c/server.pem" --tls_key="$c/server.key"
    --tls_client_ca="$c/ca.pem")
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name.$calls" \
    "$server" "${tls[@]}" "$@" --listen=127.0.0.1:0 >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do grep -q "listening on" "$log" && break; sleep 0.1; done
  local addr
  addr=$(grep -o "listening on [0-9.:]*" "$log" | head -1 | awk '{print $3}')
  case $kind in
    h2load | h2load-header)
      local header=()
      [[ $kind == h2load-header ]] && header=(-H "authorization: Bearer $token")
      h2load -n "$calls" -c 8 -m 64 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
        "${header[@]}" -d "$work/frame" "http://$addr/inventory.InventoryService/SetStock" \
        >"$work/$name.$calls.load" 2>&1
      grep -q "$calls succeeded" "$work/$name.$calls.load" || { cat "$work/$name.$calls.load"; exit 1; }
      ;;
    mtls)
      "$load" --target="$addr" --tls_ca="$c/ca.pem" --tls_cert="$c/admin.pem" \
        --tls_key="$c/admin.key" --mode=set_stock --threads=64 --connections=8 --products=1 \
        --count="$calls" --progress_seconds=0 >"$work/$name.$calls.load" 2>&1 ||
        { cat "$work/$name.$calls.load"; exit 1; }
      ;;
  esac
  kill -TERM "$pid"
  wait "$pid" || { cat "$log"; exit 1; }
}
total() { grep -m1 '^summary' "$1" | awk '{print $2}'; }
check() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk '!found && /MethodCheck::Authorize\(grpc::ServerContext/ { gsub(",", "", $1); print $1; found = 1 }'
}
printf '%-17s %12s %12s\n' variant "Ir/call" "check Ir/call"
measure() {
  local name=$1 n=$2 kind=$3
  shift 3
  run "$name" "$n" "$kind" "$@"
  run "$name" $((3 * n)) "$kind" "$@"
  local a b ca cb
  a=$(total "$work/cg.$name.$n") b=$(total "$work/cg.$name.$((3 * n))")
  ca=$(check "$work/cg.$name.$n") cb=$(check "$work/cg.$name.$((3 * n))")
  printf '%-17s %12d %12d\n' "$name" $(((b - a) / (2 * n))) $(((${cb:-0} - ${ca:-0}) / (2 * n)))
}
measure unchecked 10000 h2load --allow_unauthenticated_admin
measure unchecked-header 10000 h2load-header --allow_unauthenticated_admin
measure token 10000 h2load-header --admin_token_file="$work/token"
measure mtls-unchecked 5000 mtls --allow_unauthenticated_admin
measure mtls-san 5000 mtls --admin_identities=admin.example
