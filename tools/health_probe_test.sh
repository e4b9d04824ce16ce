#!/usr/bin/env bash
# health_probe's exit status and message for each way a probe can end:
#   SERVING (a real inventory_server, whole server and by service name,
#     grpc_health_probe's spellings: -addr=:PORT, -connect-timeout 250ms) -> 0
#   bad command line                                                      -> 1
#   --help (and --version)                                                -> 0
#   a refused connection; a listener that never answers HTTP/2           -> 2
#   an unknown service name (NOT_FOUND); a Check slower than
#     --rpc_timeout (DEADLINE_EXCEEDED, from a stand-in server)           -> 3
#   NOT_SERVING (a stand-in server in Debian's python3-grpcio)            -> 4
# Every check runs; the script fails at the end if any of them failed.
#
#   health_probe_test.sh HEALTH_PROBE INVENTORY_SERVER [PROTOC]
set -euo pipefail

(($# >= 2)) || { echo "usage: $0 HEALTH_PROBE INVENTORY_SERVER [PROTOC]" >&2; exit 2; }
probe=$1
server=$2
protoc=${3:-protoc}
grpc_python_plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}
python=/usr/bin/python3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
helper=$repo/test/run_with_server.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/health_probe_test.XXXXXX")
silent_pid=
cleanup() {
  if [[ -n $silent_pid ]]; then kill "$silent_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# No proxy between the probe (or Python) and loopback.
unset http_proxy https_proxy grpc_proxy HTTP_PROXY HTTPS_PROXY

failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  failures=$((failures + 1))
}
show() { sed 's/^/     | /' "$1" >&2; }

# expect NAME STATUS REGEX -- PROBE_ARG...: runs health_probe (bounded) and
# requires exit status STATUS and a line matching REGEX in its output.
expect() {
  local name=$1 want=$2 regex=$3
  shift 4
  local out=$tmp/probe.out rc=0
  timeout 30 "$probe" "$@" </dev/null >"$out" 2>&1 || rc=$?
  if ((rc != want)); then
    fail "$name: expected exit status $want, got $rc for [$*]"
    show "$out"
  elif ! grep -qE -- "$regex" "$out"; then
    fail "$name: exit status $rc as expected, but no line matching /$regex/"
    show "$out"
  else
    pass "$name: exit status $rc, $(grep -m1 -E -- "$regex" "$out")"
  fi
}
export -f expect pass fail show
export probe tmp

# free_port: a loopback port nothing listens on (bound, then released).
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- against a real inventory_server -----------------------------------------
# The checks run inside run_with_server.sh, which also requires the server to
# exit 0 on SIGTERM afterwards; the failure count comes back through a file.
# shellcheck disable=SC2016  # expanded by the inner bash
rc=0
bash "$helper" "$server" -- bash -c '
  failures=0
  expect "SERVING, whole server" 0 "^127\.0\.0\.1:$SERVER_PORT, service .*: SERVING$" -- \
    --addr="$SERVER_ADDRESS"
  expect "SERVING, by service name" 0 "service .inventory\.InventoryService.: SERVING$" -- \
    --addr="$SERVER_ADDRESS" --service=inventory.InventoryService
  expect "dashed flag names" 0 "SERVING$" -- --addr="$SERVER_ADDRESS" --timeout=2s
  expect "grpc_health_probe spellings" 0 "SERVING$" -- \
    -addr="$SERVER_ADDRESS" -connect-timeout 250ms -rpc-timeout 500ms
  expect "-addr=:PORT means localhost" 0 "^:$SERVER_PORT, service .*: SERVING$" -- \
    -addr=":$SERVER_PORT"
  expect "unknown service" 3 "^health_probe: .*unknown service .no\.such\.Service.*NOT_FOUND" -- \
    --addr="$SERVER_ADDRESS" --service=no.such.Service
  echo "$failures" >"$tmp/server_failures"
' || rc=$?
if ((rc != 0)); then
  fail "checks against inventory_server: run_with_server.sh exited with status $rc"
fi
failures=$((failures + $(cat "$tmp/server_failures" 2>/dev/null || echo 1)))

# --- nothing listening: refused at once ----------------------------------------
port=$(free_port)
expect "refused connection" 2 "^health_probe: cannot reach 127\.0\.0\.1:$port \(UNAVAILABLE" -- \
  --addr="127.0.0.1:$port"

# --- a listener that never speaks HTTP/2: the timeout ends the probe ---------
"$python" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)  # connections complete in the backlog and are never served
print(s.getsockname()[1], flush=True)
time.sleep(600)
' >"$tmp/silent.port" &
silent_pid=$!
for _ in $(seq 1 100); do [[ -s $tmp/silent.port ]] && break; sleep 0.05; done
silent_port=$(cat "$tmp/silent.port")
expect "silent listener" 2 \
  "^health_probe: no connection to 127\.0\.0\.1:$silent_port within 300ms \(--connect_timeout" -- \
  --addr="127.0.0.1:$silent_port" --connect-timeout=300ms
expect "silent listener, --timeout" 2 \
  "^health_probe: no connection to 127\.0\.0\.1:$silent_port within 200ms" -- \
  --addr="127.0.0.1:$silent_port" --timeout=200ms
kill "$silent_pid" 2>/dev/null || true
wait "$silent_pid" 2>/dev/null || true
silent_pid=

# --- NOT_SERVING: a stand-in health server -------------------------------------
# The proto is copied to the top level so the Python modules are health_pb2
# and health_pb2_grpc (a grpc/health/v1 package would be shadowed by grpcio's
# own "grpc" package); the proto package, and so the wire, stays grpc.health.v1.
mkdir "$tmp/stubs"
cp "$repo/proto/grpc/health/v1/health.proto" "$tmp/stubs/health.proto"
"$protoc" -I "$tmp/stubs" --python_out="$tmp/stubs" --grpc_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc="$grpc_python_plugin" "$tmp/stubs/health.proto"
cat >"$tmp/not_serving_server" <<EOF
#!$python
# Answers Check for "" with NOT_SERVING, for "slow" after 3 s, and anything
# else with NOT_FOUND;
# run_with_server.sh's conventions: prints "listening on HOST:PORT", exits 0 on SIGTERM.
import signal
import time
from concurrent import futures
import grpc
import health_pb2
import health_pb2_grpc

class Health(health_pb2_grpc.HealthServicer):
    def Check(self, request, context):
        if request.service == "slow":
            time.sleep(3)
            return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        if request.service:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)

server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
print(f"not_serving_server listening on 127.0.0.1:{port}", flush=True)
server.wait_for_termination()
EOF
chmod +x "$tmp/not_serving_server"
rc=0
# shellcheck disable=SC2016  # expanded by the inner bash
PYTHONPATH=$tmp/stubs PYTHONNOUSERSITE=1 bash "$helper" "$tmp/not_serving_server" -- bash -c '
  failures=0
  expect "NOT_SERVING" 4 "^health_probe: 127\.0\.0\.1:$SERVER_PORT, service .*: NOT_SERVING$" -- \
    --addr="$SERVER_ADDRESS"
  expect "Check slower than --rpc_timeout" 3 \
    "^health_probe: 127\.0\.0\.1:$SERVER_PORT, service .slow.: Check did not answer within 300ms" -- \
    -addr="$SERVER_ADDRESS" -service=slow -rpc-timeout=300ms
  echo "$failures" >"$tmp/stand_in_failures"
' || rc=$?
if ((rc != 0)); then
  fail "NOT_SERVING check: run_with_server.sh exited with status $rc"
fi
failures=$((failures + $(cat "$tmp/stand_in_failures" 2>/dev/null || echo 1)))

# --- the command line ----------------------------------------------------------
expect "missing --addr" 1 "^health_probe: --addr is required" --
expect "negative --timeout" 1 "^health_probe: --timeout must not be negative" -- \
  --addr=127.0.0.1:1 --timeout=-1s
expect "non-positive --connect_timeout" 1 "^health_probe: --connect_timeout must be positive" -- \
  --addr=127.0.0.1:1 -connect-timeout=0s
expect "non-positive --rpc_timeout" 1 "^health_probe: --rpc_timeout must be positive" -- \
  --addr=127.0.0.1:1 --rpc_timeout=0s
expect "positional argument" 1 "^health_probe: unexpected argument 'stray'" -- \
  --addr=127.0.0.1:1 stray
expect "unknown flag" 1 "no_such_flag" -- --addr=127.0.0.1:1 --no-such-flag=1
# --help lists the tool's own flags on stdout and is not an error (as for
# every binary of the project; grpc_health_probe's exit status differs by
# version).
expect "--help" 0 "--addr .*required" -- --help

if ((failures > 0)); then
  echo "health_probe_test: $failures check(s) failed" >&2
  exit 1
fi
echo "health_probe_test: all checks passed"
