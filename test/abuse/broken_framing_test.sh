#!/usr/bin/env bash
# Broken gRPC framing (test/abuse/broken_framing.py) against a real
# inventory_server on an ephemeral port, which must then stop cleanly.
#
#   broken_framing_test.sh INVENTORY_SERVER
set -euo pipefail
(($# == 1)) || { echo "usage: $0 INVENTORY_SERVER" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY PYTHONNOUSERSITE=1 \
  bash "$repo/test/run_with_server.sh" "$1" -- \
  timeout 60 /usr/bin/python3 "$here/broken_framing.py" "127.0.0.1:{PORT}"
