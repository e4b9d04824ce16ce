#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build
# both servers, then
#   1. start inventory_server and run the seed article's Python client
#      against it (product123 is available, quantity 10);
#   2. start inventory_server (with a data directory) and product_server
#      pointed at it, and walk through GetProduct, PlaceOrder and its retry,
#      errors and the metrics endpoint from Python.
# Every server is stopped with SIGTERM and must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target inventory_server product_server

bash test/seed_compat_test.sh build/server/inventory/inventory_server
bash test/product_server_test.sh build/server/inventory/inventory_server \
  build/server/product/product_server
