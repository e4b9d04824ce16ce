#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build,
# start inventory_server and run the seed article's Python client against it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target inventory_server

bash test/seed_compat_test.sh build/server/inventory/inventory_server
