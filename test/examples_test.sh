#!/usr/bin/env bash
# The installed package, used the way another project would use it:
#   1. `cmake --install BUILD_DIR --prefix TMP/prefix` (the whole install);
#   2. find_package(cqengine 0.6) must fail: the version file accepts 0.5 only;
#   3. examples/ is copied out of the tree, configured with
#      CMAKE_PREFIX_PATH=TMP/prefix and built; its build files must not name
#      the source tree or the build tree (so nothing came from them);
#   4. greeter_server runs through run_with_server.sh (port 0, SIGTERM, exit
#      status 0 required) while greeter_client checks the exact greetings of
#      SayHello and SayHelloStream, and that bad requests get INVALID_ARGUMENT.
#
#   examples_test.sh SOURCE_DIR BUILD_DIR [CMAKE_ARG...]
# CMAKE_ARGs go to the examples' configure step (generator, compiler,
# sanitizer flags). Everything is written under a temp dir, removed on exit
# (EXAMPLES_TEST_KEEP=1 keeps it and says where).
set -euo pipefail

(($# >= 2)) || { echo "usage: examples_test.sh SOURCE_DIR BUILD_DIR [CMAKE_ARG...]" >&2; exit 2; }
source_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
shift 2
cmake_args=("$@")

work=$(mktemp -d "${TMPDIR:-/tmp}/examples_test.XXXXXX")
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  if [[ ${EXAMPLES_TEST_KEEP:-0} == 1 ]]; then
    echo "examples_test: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

fail() {
  echo "examples_test: FAIL: $*" >&2
  exit 1
}

# Runs a step with its output in a log, shown only if the step fails.
step() {
  local name=$1
  shift
  echo "examples_test: $name"
  if ! "$@" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2
    fail "$name: '$*' exited with a failure"
  fi
}

prefix=$work/prefix
step install cmake --install "$build_dir" --prefix "$prefix"
[[ -f $prefix/lib/cmake/cqengine/cqengineConfigVersion.cmake ]] ||
  fail "the install has no lib/cmake/cqengine/cqengineConfigVersion.cmake"

# --- the version file refuses another 0.MINOR ---------------------------------
mkdir -p "$work/wrong_version"
cat >"$work/wrong_version/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.22)
project(wrong_version LANGUAGES CXX)
find_package(cqengine 0.6 CONFIG REQUIRED)
EOF
if cmake -S "$work/wrong_version" -B "$work/wrong_version/build" -DCMAKE_PREFIX_PATH="$prefix" \
  >"$work/wrong_version.log" 2>&1; then
  cat "$work/wrong_version.log" >&2
  fail "find_package(cqengine 0.6) succeeded against the 0.5 package"
fi
# CMake names the package it found and refused for its version.
grep -q 'cqengineConfig.cmake, version: ' "$work/wrong_version.log" ||
  { cat "$work/wrong_version.log" >&2; fail "find_package(cqengine 0.6) failed, but not on the version"; }

# --- build the examples out of the tree -----------------------------------------
cp -r "$source_dir/examples" "$work/examples"
step configure cmake -S "$work/examples" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" \
  "${cmake_args[@]}"
step build cmake --build "$work/build" -j 2
# The gRPC the tree was built against may live in the source tree
# (build-deps/, docs/grpc-build.md); the example is pointed at it on purpose
# (-DgRPC_DIR), like any other dependency, so its paths do not count.
grpc_prefix=
for arg in "${cmake_args[@]}"; do
  if [[ $arg == -DgRPC_DIR=* ]]; then
    grpc_prefix=$(cd "${arg#-DgRPC_DIR=}/../../.." && pwd)
  fi
done
for tree in "$source_dir" "$build_dir"; do
  pattern=$(printf '%s' "$tree" | sed 's/[][\.*^$/]/\\&/g')
  grep -rhoE --include='*.ninja' --include='Makefile' --include='*.make' \
    "$pattern[^[:space:]\"';:]*" "$work/build" | sort -u >"$work/mentions.txt" || true
  if [[ -n $grpc_prefix ]]; then
    grep -vF "$grpc_prefix/" "$work/mentions.txt" >"$work/mentions-left.txt" || true
    mv "$work/mentions-left.txt" "$work/mentions.txt"
  fi
  if [[ -s $work/mentions.txt ]]; then
    fail "the examples' build files name $tree: $(head -n 5 "$work/mentions.txt" | tr '\n' ' ')"
  fi
done

# --- run them ------------------------------------------------------------------
cat >"$work/check_client.sh" <<'EOF'
#!/usr/bin/env bash
# Runs against the server run_with_server.sh started ({PORT} substituted).
set -euo pipefail
client=$1
target=127.0.0.1:$2
out=$("$client" --target="$target" --name=cqengine --count=2)
expected=$'Hello, cqengine\nHello 1/2, cqengine\nHello 2/2, cqengine'
if [[ $out != "$expected" ]]; then
  printf 'greeter_client printed:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
  exit 1
fi
# An empty name: SayHello answers INVALID_ARGUMENT (code 3) and the client exits 1.
status=0
err=$("$client" --target="$target" --name= 2>&1 >/dev/null) || status=$?
if ((status != 1)) || [[ $err != "SayHello failed: code 3: "* ]]; then
  echo "empty name: exit status $status, stderr '$err' (expected 1, 'SayHello failed: code 3: ...')" >&2
  exit 1
fi
# count 0: SayHello works, SayHelloStream refuses with INVALID_ARGUMENT.
status=0
err=$("$client" --target="$target" --name=x --count=0 2>&1 >/dev/null) || status=$?
if ((status != 1)) || [[ $err != "SayHelloStream failed: code 3: "* ]]; then
  echo "count 0: exit status $status, stderr '$err' (expected 1, 'SayHelloStream failed: code 3: ...')" >&2
  exit 1
fi
echo "greeter_client: greetings and INVALID_ARGUMENT answers as expected"
EOF
echo "examples_test: run greeter_server and greeter_client"
bash "$source_dir/test/run_with_server.sh" "$work/build/greeter_server" -- \
  bash "$work/check_client.sh" "$work/build/greeter_client" "{PORT}" ||
  fail "greeter_server/greeter_client run (see above)"
echo "examples_test: PASS"
