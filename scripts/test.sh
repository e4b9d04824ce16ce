#!/usr/bin/env bash
# The test job on a fresh Debian 12 machine: install what is missing, then
# build and run the suite three times:
#   1. a normal build: every test;
#   2. AddressSanitizer + LeakSanitizer + UBSan: every test;
#   3. ThreadSanitizer: the Catch2 suites (engine, services, domain); the
#      shell tests of the server binary are left out there because they run
#      the binary without the test-only abseil shim TSan needs.
# SKIP_SANITIZERS=1 runs only the first pass (for a quick local loop).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
jobs=$(nproc)

echo "=== pass 1: RelWithDebInfo ==="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

if [ "${SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "=== pass 2: AddressSanitizer + LeakSanitizer + UBSan ==="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINVENTORY_ASAN=ON
  cmake --build build-asan -j "$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

  echo "=== pass 3: ThreadSanitizer ==="
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DINVENTORY_TSAN=ON
  cmake --build build-tsan -j "$jobs"
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tsan.supp" \
     ctest --output-on-failure -j "$jobs" -LE binary)
fi
