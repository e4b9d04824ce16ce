#!/usr/bin/env bash
# The test job on a fresh Debian 12 machine: install what is missing, then
# build and run the suite three times:
#   1. a normal build: every test;
#   2. AddressSanitizer + LeakSanitizer + UBSan: every test;
#   3. ThreadSanitizer: the Catch2 suites (engine, services, domain); the
#      shell tests of the server binary are left out there because they run
#      the binary without the test-only abseil shim TSan needs.
#   4. libFuzzer (clang, ASan + UBSan): the request fuzzers in fuzz/, each
#      for FUZZ_SECONDS (default 20) from the seed corpus (ctest label
#      "fuzz"); a separate build tree (build-fuzz/) of only those targets.
# Then, once, the docker-compose deployment against a real Docker engine
# (ctest label "compose", test/compose/): it installs Debian's docker.io,
# docker-compose and debootstrap if missing, starts an engine by hand if none
# runs, and builds the image. The passes above leave it out (-LE compose).
# Before the passes, deps/grpc/build_grpc.sh builds gRPC 1.51.1 in release
# mode from Debian's source package, once (about 13 minutes on 2 cores; a
# no-op when already built); the normal and ASan passes and the image build
# link it. The TSan and fuzz passes link Debian's binary package (see there).
# INVENTORY_SYSTEM_GRPC=1 uses Debian's package everywhere (docs/grpc-build.md).
# SKIP_SANITIZERS=1 runs only the first pass (for a quick local loop);
# SKIP_FUZZ=1 leaves out pass 4.
# SKIP_COMPOSE=1 leaves out the compose step. REQUIRE_COMPOSE=1 fails when
# the compose test is skipped (no engine could run), as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
# gRPC: the release build of deps/grpc/ (built once into build-deps/, then
# reused by every pass and the image build), or Debian's binary package with
# INVENTORY_SYSTEM_GRPC=1.
if [ "${INVENTORY_SYSTEM_GRPC:-0}" = "1" ]; then
  grpc_args=(-DINVENTORY_SYSTEM_GRPC=ON)
else
  bash deps/grpc/build_grpc.sh
  grpc_args=(-DINVENTORY_SYSTEM_GRPC=OFF)
fi
jobs=$(nproc)

echo "=== pass 1: RelWithDebInfo ==="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${grpc_args[@]}"
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs" -LE compose)

if [ "${SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "=== pass 2: AddressSanitizer + LeakSanitizer + UBSan ==="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINVENTORY_ASAN=ON "${grpc_args[@]}"
  cmake --build build-asan -j "$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" -LE compose)

  echo "=== pass 3: ThreadSanitizer ==="
  # On Debian's shared gRPC: the suppressions for uninstrumented libraries
  # (test/tsan_suppressions.cmake) match by shared library, and the release
  # build's code is linked into the test binaries themselves, where TSan
  # cannot tell it from ours (docs/grpc-build.md).
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINVENTORY_TSAN=ON \
    -DINVENTORY_SYSTEM_GRPC=ON
  cmake --build build-tsan -j "$jobs"
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tsan.supp" \
     ctest --output-on-failure -j "$jobs" -LE 'binary|compose')

  if [ "${SKIP_FUZZ:-0}" != "1" ]; then
    echo "=== pass 4: libFuzzer: the request fuzzers, ${FUZZ_SECONDS:-20} s each ==="
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++-14 -DINVENTORY_BUILD_TESTS=OFF -DINVENTORY_FUZZ=ON \
      -DINVENTORY_FUZZ_SECONDS="${FUZZ_SECONDS:-20}" -DINVENTORY_SYSTEM_GRPC=ON
    cmake --build build-fuzz -j "$jobs" --target fuzzers
    (cd build-fuzz && ctest --output-on-failure -j "$jobs" -L fuzz)
  fi
fi

if [ "${SKIP_COMPOSE:-0}" != "1" ]; then
  echo "=== compose: the docker-compose deployment against a real Docker engine ==="
  compose_log=$(mktemp)
  # --verbose: the test's own report (timings, skip reason, PARTIAL items) always shows.
  (cd build && ctest --verbose -L compose) 2>&1 | tee "$compose_log"
  if grep -q '\*\*\*Skipped' "$compose_log"; then
    echo "test.sh: the compose test was SKIPPED: no Docker engine could run here (reason above)"
    if [ "${REQUIRE_COMPOSE:-0}" = "1" ]; then
      echo "test.sh: REQUIRE_COMPOSE=1: a skipped compose test is a failure" >&2
      rm -f "$compose_log"
      exit 1
    fi
  fi
  rm -f "$compose_log"
fi
