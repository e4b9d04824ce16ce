#!/usr/bin/env bash
# Checks that the built servers run on the gRPC CMake chose (deps/grpc/grpc.cmake):
#   - linkage (ldd): the release build is linked statically, so a server
#     must load no shared libgrpc/libgpr/libupb/libaddress_sorting at all (a
#     silent mix with Debian's libgrpc.so.29 is what this guards against);
#     with Debian's package (debian-binary) it must load Debian's libgrpc;
#   - start-up: each server, started on an ephemeral loopback port, logs
#     "runs on gRPC VERSION (BUILD)" with the version and build string CMake
#     configured, then stops cleanly on SIGTERM;
#   - the patches: a server on a gRPC that lacks some of the project's
#     patches (MISSING, comma-separated; all of them for Debian's package)
#     warns at start that they are absent and names them; one on a gRPC with
#     all of them does not warn.
#
#   grpc_build_test.sh VERSION BUILD INVENTORY_SERVER PRODUCT_SERVER [MISSING]
set -euo pipefail

(($# == 4 || $# == 5)) ||
  { echo "usage: $0 VERSION BUILD INVENTORY_SERVER PRODUCT_SERVER [MISSING]" >&2; exit 2; }
version=$1 build=$2 inventory_server=$3 product_server=$4 missing=${5:-}
if [[ $build == debian-binary && -z $missing ]]; then
  echo "FAIL Debian's package lacks every project patch, but MISSING is empty" >&2
  exit 1
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_with_server=$here/../../test/run_with_server.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/grpc_build_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  failures=$((failures + 1))
}

for binary in "$inventory_server" "$product_server"; do
  name=$(basename "$binary")
  grpc_libraries=$(ldd "$binary" | grep -E 'lib(grpc|gpr|upb|address_sorting)[^ ]*\.so' || true)
  case $build in
    release-*)
      if [[ -z $grpc_libraries ]]; then
        pass "$name loads no shared gRPC library (release build, static)"
      else
        fail "$name ($build) loads shared gRPC libraries:"$'\n'"$grpc_libraries"
      fi
      ;;
    debian-binary)
      if grep -q 'libgrpc\.so\.' <<<"$grpc_libraries"; then
        pass "$name loads Debian's $(grep -o 'libgrpc\.so\.[0-9]*' <<<"$grpc_libraries" | head -n1)"
      else
        fail "$name (debian-binary) does not load Debian's libgrpc.so"
      fi
      ;;
    *) fail "unknown build '$build'" ;;
  esac
done

expected="runs on gRPC $version ($build)"
check_startup() {  # NAME BINARY [ARG...]
  local name=$1 log=$tmp/$1.log
  shift
  if RWS_LOG=$log bash "$run_with_server" "$@" -- true >"$tmp/$name.out" 2>&1; then
    if grep -qF "$expected" "$log"; then
      pass "$name logs '$expected' at start-up"
    else
      fail "$name does not log '$expected'; its log:"$'\n'"$(cat "$log")"
    fi
    local warning="this gRPC lacks the project's patches"
    if [[ -n $missing ]]; then
      if grep -F "$warning $missing:" "$log" | grep -q 'SECURITY.md'; then
        pass "$name warns that the patches $missing are absent"
      else
        fail "$name does not warn '$warning $missing: ...'; its log:"$'\n'"$(cat "$log")"
      fi
    elif grep -qF "$warning" "$log"; then
      fail "$name warns of absent patches on a gRPC that has them all:"$'\n'"$(grep -F "$warning" "$log")"
    else
      pass "$name does not warn of absent patches (it has them all)"
    fi
  else
    fail "$name did not start and stop cleanly:"$'\n'"$(cat "$tmp/$name.out")"
  fi
}
check_startup inventory_server "$inventory_server"
# The inventory it would ask is never called: only start-up is checked.
check_startup product_server "$product_server" --inventory=127.0.0.1:1

((failures == 0)) || { echo "$failures check(s) failed" >&2; exit 1; }
