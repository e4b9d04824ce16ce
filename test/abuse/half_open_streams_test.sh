#!/usr/bin/env bash
# Half-open streams end with their connection's age
# (test/abuse/half_open_streams.py) against a real inventory_server started
# with a 3 s --max_connection_age and a 2 s grace, which must then stop
# cleanly.
#
#   half_open_streams_test.sh INVENTORY_SERVER
set -euo pipefail
(($# == 1)) || { echo "usage: $0 INVENTORY_SERVER" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY PYTHONNOUSERSITE=1 \
  bash "$repo/test/run_with_server.sh" "$1" --max_connection_age=3s --max_connection_age_grace=2s -- \
  timeout 60 /usr/bin/python3 "$here/half_open_streams.py" "127.0.0.1:{PORT}" 3 2 100
