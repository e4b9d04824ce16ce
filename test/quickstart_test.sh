#!/usr/bin/env bash
# Runs README.md's quick start as written: the shell block between the
# "quickstart:begin" and "quickstart:end" markers, from the repository root,
# with two substitutions only:
#   - its ports (50051, 50052, 9464, 9465) become free loopback ports, so the
#     test runs beside anything else on the machine;
#   - build/ becomes this build tree, and build/quickstart-data a fresh
#     directory.
# Every command must succeed (the block runs under set -euo pipefail, so a
# failed call, an empty grep, a load run with errors or a server that does not
# exit 0 after SIGTERM fails it), and each tools/grpc_call.py command must
# print exactly the comment lines that follow it in the README.
#
#   quickstart_test.sh BUILD_DIR PROTOC
set -euo pipefail

(($# == 2)) || { echo "usage: $0 BUILD_DIR PROTOC" >&2; exit 2; }
build=$(cd "$1" && pwd)
export PROTOC=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"
unset http_proxy https_proxy grpc_proxy HTTP_PROXY HTTPS_PROXY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/quickstart.XXXXXX")
group=
cleanup() {
  # Whatever the block left running (it runs in a process group of its own).
  if [[ -n $group ]]; then kill -KILL -- "-$group" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

block=$(awk '/<!-- quickstart:begin -->/ { on = 1; next } /<!-- quickstart:end -->/ { on = 0 }
  on && !/^```/' README.md)
[[ -n $block ]] || { echo "FAIL: no quickstart block in README.md" >&2; exit 1; }

# Four distinct free ports (bound together, then released).
read -r p1 p2 p3 p4 < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
script=$(printf '%s\n' "$block" |
  sed -E "s#(^|[ =])build/quickstart-data#\1$tmp/quickstart-data#g; s#(^|[ =])build/#\1$build/#g" |
  sed -E "s/\b50051\b/$p1/g; s/\b50052\b/$p2/g; s/\b9464\b/$p3/g; s/\b9465\b/$p4/g")
for port in 50051 50052 9464 9465; do
  if grep -qw "$port" <<<"$script"; then
    echo "FAIL: port $port left in the script after substitution" >&2
    exit 1
  fi
done
printf '%s\n' "$script" >"$tmp/quickstart.sh"
echo "--- the README's quick start, as run:"
cat "$tmp/quickstart.sh"
echo "---"

out=$tmp/out.log
status=0
setsid bash -c 'set -euo pipefail; source "$0"' "$tmp/quickstart.sh" >"$out" 2>&1 &
group=$!
# Bounded: the block starts two servers and loads one for a few seconds.
for _ in $(seq 1 900); do
  kill -0 "$group" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$group" 2>/dev/null; then
  cat "$out"
  echo "FAIL: the quick start did not finish within 90 s" >&2
  exit 1
fi
wait "$group" || status=$?
cat "$out"
if ((status != 0)); then
  echo "FAIL: the quick start exited with status $status (output above)" >&2
  exit 1
fi

failures=0
expect() {  # expect DESCRIPTION EXTENDED_REGEX: some output line must match
  if grep -qE -- "$2" "$out"; then
    echo "ok   $1"
  else
    echo "FAIL $1: no line matching /$2/" >&2
    failures=$((failures + 1))
  fi
}
expect "health_probe: both servers SERVING" "^127\.0\.0\.1:$p2, service '': SERVING$"
# The README shows what each call prints on a first run: the comment lines
# right after a tools/grpc_call.py command (and its continuation lines).
printf '%s\n' "$block" | awk '
  /^tools\/grpc_call\.py / { in_command = 1 }
  in_command { if (!/\\$/) { in_command = 0; after = 1 }; next }
  after && /^# / { print substr($0, 3); next }
  { after = 0 }' >"$tmp/expected"
[[ $(wc -l <"$tmp/expected") -ge 3 ]] || {
  echo "FAIL: the quick start shows fewer than 3 call outputs" >&2
  exit 1
}
while IFS= read -r line; do
  if grep -qxF -- "$line" "$out"; then
    echo "ok   printed as the README shows: $line"
  else
    echo "FAIL the README shows '$line', the call did not print it" >&2
    failures=$((failures + 1))
  fi
done <"$tmp/expected"
expect "metrics: handled GetProduct calls counted" \
  '^grpc_server_handled_total\{grpc_code="OK",grpc_method="GetProduct",grpc_service="product.ProductService",grpc_type="unary"\} [1-9]'
expect "load run: calls OK, none failed" '^  calls +[1-9][0-9]* completed, [1-9][0-9]* OK, 0 failed$'
expect "both servers stopped cleanly" 'product_server stopped cleanly'
expect "both servers stopped cleanly" 'inventory_server stopped cleanly'
if ((failures > 0)); then
  echo "quickstart_test: $failures check(s) failed" >&2
  exit 1
fi
echo "quickstart_test: the README's quick start works as written"
