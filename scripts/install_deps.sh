#!/usr/bin/env bash
# Installs the Debian 12 packages the project builds, tests and benchmarks
# with. Only missing packages are installed; needs root (or sudo). gRPC
# itself is built from Debian's source package by deps/grpc/build_grpc.sh
# (test.sh and run.sh run it next); Debian's libgrpc++-dev stays installed
# for INVENTORY_SYSTEM_GRPC=1 and its Python plugin.
#   install_deps.sh               everything
#   install_deps.sh --build-only  only what builds the shipped binaries with
#                                 -DINVENTORY_BUILD_TESTS=OFF (the Dockerfile)
#   install_deps.sh --bench       everything, plus the bench's extras: Go and
#                                 grpc-go for the peers scenario's Go server,
#                                 perf for its syscall counts (bench/bench.py
#                                 setup runs this; CI does not need them)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libspdlog-dev librocksdb-dev prometheus-cpp-dev catch2 libbenchmark-dev libjemalloc-dev
  # deps/grpc/build_grpc.sh: gRPC's release build from Debian's source package;
  # libprotoc-dev is also the load tool's run-time .proto parser (bench/method_resolver.cc)
  libprotoc-dev libre2-dev libc-ares-dev libssl-dev zlib1g-dev dpkg-dev patch xz-utils
  python3 python3-grpcio python3-protobuf python3-h2
  nghttp2-client util-linux procps curl strace
  clang-14 libclang-rt-14-dev llvm-14
  # the load tool's report tests: headless rendering of --format=html, and
  # Google Benchmark's compare.py (with its numpy and scipy) on benchmark_json
  chromium libbenchmark-tools python3-numpy python3-scipy
  # libpq (inventory_server --postgres); the PostgreSQL 15 server the
  # storage/postgres tests start with initdb and pg_ctl
  libpq-dev postgresql-15
)

# Needed only by the tests, the bench and their tools; --build-only skips these.
# clang-14 with libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) and
# llvm-14 (llvm-symbolizer) build and run the request fuzzers (fuzz/).
test_only_packages=(
  postgresql-15
  catch2 libbenchmark-dev python3 python3-grpcio python3-protobuf python3-h2 nghttp2-client curl
  strace
  clang-14 libclang-rt-14-dev llvm-14
  chromium libbenchmark-tools python3-numpy python3-scipy
)

# Only with --bench: bench/bench.py's peers scenario (keep in step with its
# PEER_PACKAGES).
bench_packages=(
  golang-go golang-google-grpc-dev golang-goprotobuf-dev protoc-gen-go-grpc linux-perf
)

build_only=0
case "${1:-}" in
  "") ;;
  --build-only) build_only=1 ;;
  --bench) packages+=("${bench_packages[@]}") ;;
  *) echo "usage: $0 [--build-only | --bench]" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  if ((build_only)) && [[ " ${test_only_packages[*]} " == *" $package "* ]]; then continue; fi
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install_deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
