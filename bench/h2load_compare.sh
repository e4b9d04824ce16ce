#!/usr/bin/env bash
# Throughput comparison of two gRPC servers with h2load: by default the
# InventoryService (A) against the plain async baseline (B). This reproduces
# the issue's measurement: server pinned to one core, h2load on another,
# GetProductAvailability("product123") over many streams, rounds interleaved
# A, B, A, B, ... so that drift of the machine hits both alike.
#
# h2load counts every HTTP 200 as a success, and gRPC errors are HTTP 200 too.
# So each run is also checked for correctness: the DATA bytes received must be
# exactly (completed requests) x (bytes of one OK response). An OK response is
# a 5-byte gRPC prefix plus GetProductAvailabilityResponse{is_available=true,
# quantity=10} = 08 01 10 0a, so 9 bytes; an error response carries no DATA.
# (h2load's --warm-up-time is not used: its DATA total includes the warm-up
# traffic while its request count does not. The warm-up is a separate run.)
#
# Usage: bench/h2load_compare.sh [--duration=S] [--connections=N] [--streams=N]
#          [--runs=N] [--warmup=S] [--server-cpu=C] [--load-cpu=C]
#          [--server-a=CMD] [--server-b=CMD] [--build-dir=DIR]
#        bench/h2load_compare.sh --self-test   # checks the output parser only
# Environment (flags win): DURATION (10), CONNECTIONS (8), STREAMS (64),
#   RUNS (3), WARMUP (1, seconds; 0 disables), SERVER_CPU (0), LOAD_CPU (1),
#   BUILD_DIR (<repo>/build), SERVER_CMD_A, SERVER_CMD_B, NAME_A, NAME_B,
#   METHOD_PATH (default /inventory.InventoryService/GetProductAvailability;
#   change it only to see the correctness check fail), KEEP_LOGS=DIR.
# SERVER_CMD_A/B are shell commands; "{PORT}" in them is replaced by the port
# the script picked. The server must exit 0 on SIGTERM.
set -euo pipefail

readonly OK_RESPONSE_BYTES=9 # 00 00000004 | 08 01 10 0a

die() {
  echo "h2load_compare: ERROR: $*" >&2
  exit 1
}

# Parses one h2load report (file $1). Prints "REQ_PER_S SUCCEEDED DATA_BYTES",
# or fails loudly when the DATA total is not that of all-OK responses.
parse_and_check() {
  local file=$1 line rps succeeded failed errored data
  line=$(grep -m1 '^finished in ' "$file") || die "no 'finished in' line in $file"
  rps=$(sed -E 's/.*, ([0-9.]+) req\/s.*/\1/' <<<"$line")
  line=$(grep -m1 '^requests: ' "$file") || die "no 'requests:' line in $file"
  succeeded=$(sed -E 's/.* ([0-9]+) succeeded.*/\1/' <<<"$line")
  failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  errored=$(sed -E 's/.* ([0-9]+) errored.*/\1/' <<<"$line")
  line=$(grep -m1 '^traffic: ' "$file") || die "no 'traffic:' line in $file"
  data=$(sed -E 's/.*\(([0-9]+)\) data$/\1/' <<<"$line")
  for v in "$rps" "$succeeded" "$failed" "$errored" "$data"; do
    [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "cannot parse h2load output in $file"
  done
  ((succeeded > 0)) || die "no request succeeded ($file)"
  ((failed == 0 && errored == 0)) || die "$failed failed, $errored errored requests ($file)"
  if ((data != succeeded * OK_RESPONSE_BYTES)); then
    die "DATA bytes $data != $succeeded requests x $OK_RESPONSE_BYTES bytes = \
$((succeeded * OK_RESPONSE_BYTES)): responses are not all OK \
GetProductAvailabilityResponse{true,10} (gRPC errors carry no DATA) ($file)"
  fi
  echo "$rps $succeeded $data"
}

self_test() {
  local dir
  dir=$(mktemp -d)
  cat >"$dir/ok.txt" <<'EOF'
finished in 3.00s, 119302.33 req/s, 4.58MB/s
requests: 357907 total, 358419 started, 357907 done, 357907 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 357907 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 13.73MB (14394695) total, 1.02MB (1074321) headers (space savings 96.29%), 3.07MB (3221163) data
EOF
  # Same counts, but every call was a gRPC error: 200 with trailers, no DATA.
  sed 's/3.07MB (3221163) data/0B (0) data/' "$dir/ok.txt" >"$dir/errors.txt"
  # One response in the run was an empty message (e.g. product not found).
  sed 's/(3221163) data/(3221159) data/' "$dir/ok.txt" >"$dir/one_short.txt"
  local out
  out=$(parse_and_check "$dir/ok.txt")
  [[ $out == "119302.33 357907 3221163" ]] || die "self-test: ok output parsed as '$out'"
  for bad in errors one_short; do
    if (parse_and_check "$dir/$bad.txt" >/dev/null 2>&1); then
      die "self-test: check accepted $bad.txt"
    fi
    echo "self-test: $bad.txt rejected as expected: $( (parse_and_check "$dir/$bad.txt") 2>&1 || true)"
  done
  rm -rf "$dir"
  echo "self-test: OK"
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-8}
STREAMS=${STREAMS:-64}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BUILD_DIR=${BUILD_DIR:-$repo_dir/build}
METHOD_PATH=${METHOD_PATH:-/inventory.InventoryService/GetProductAvailability}
for arg in "$@"; do
  case $arg in
    --self-test) self_test; exit 0 ;;
    --duration=*) DURATION=${arg#*=} ;;
    --connections=*) CONNECTIONS=${arg#*=} ;;
    --streams=*) STREAMS=${arg#*=} ;;
    --runs=*) RUNS=${arg#*=} ;;
    --warmup=*) WARMUP=${arg#*=} ;;
    --server-cpu=*) SERVER_CPU=${arg#*=} ;;
    --load-cpu=*) LOAD_CPU=${arg#*=} ;;
    --server-a=*) SERVER_CMD_A=${arg#*=} ;;
    --server-b=*) SERVER_CMD_B=${arg#*=} ;;
    --build-dir=*) BUILD_DIR=${arg#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done
default_a="$BUILD_DIR/server/inventory/inventory_server --listen=127.0.0.1:{PORT}"
default_b="$BUILD_DIR/bench/baseline_async_server --listen=127.0.0.1:{PORT}"
SERVER_CMD_A=${SERVER_CMD_A:-$default_a}
SERVER_CMD_B=${SERVER_CMD_B:-$default_b}
NAME_A=${NAME_A:-inventory_server}
NAME_B=${NAME_B:-baseline}
for v in DURATION CONNECTIONS STREAMS RUNS WARMUP SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
((DURATION > 0 && RUNS > 0)) || die "DURATION and RUNS must be positive"
command -v h2load >/dev/null || die "h2load not found (Debian package nghttp2-client)"
command -v taskset >/dev/null || die "taskset not found (Debian package util-linux)"

work=$(mktemp -d -t h2load_compare.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n ${KEEP_LOGS:-} ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$work"/*.txt "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# gRPC frame: flag 0, length 12 (big-endian), then GetProductAvailabilityRequest
# {product_id: "product123"} = 0a (field 1, bytes) 0a (length 10) "product123".
frame=$work/request.bin
printf '\000\000\000\000\014\012\012product123' >"$frame"
[[ $(wc -c <"$frame") -eq 17 ]] || die "request frame is not 17 bytes"

# A free loopback port: nothing bound to it, listening or not.
pick_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if [[ -z $(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null) ]]; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

# Starts server command $1 on port $2 (log $3), sets server_pid, waits until
# the port accepts connections.
start_server() {
  local cmd=${1//\{PORT\}/$2} port=$2 log=$3
  echo "+ taskset -c $SERVER_CPU $cmd" >&2
  taskset -c "$SERVER_CPU" bash -c "exec $cmd" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 200); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$log" >&2
      die "server exited before listening: $cmd"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return
    fi
    sleep 0.05
  done
  die "server did not listen on port $port within 10 s: $cmd"
}

stop_server() {
  local rc=0
  kill -TERM "$server_pid"
  for _ in $(seq 300); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    die "server (pid $server_pid) did not exit within 15 s of SIGTERM (log: $1)"
  fi
  wait "$server_pid" || rc=$?
  server_pid=""
  ((rc == 0)) || { cat "$1" >&2; die "server exited with status $rc after SIGTERM"; }
}

h2load_cmd() { # $1 port, $2 duration
  echo taskset -c "$LOAD_CPU" h2load -D "$2" -c "$CONNECTIONS" -m "$STREAMS" -t 1 \
    -H "'content-type: application/grpc'" -H "'te: trailers'" -d "$frame" \
    "http://127.0.0.1:$1$METHOD_PATH"
}

run_h2load() { # $1 port, $2 duration, $3 output file
  local cmd
  cmd=$(h2load_cmd "$1" "$2")
  echo "+ $cmd" >&2
  eval "$cmd" >"$3" 2>&1 || { cat "$3" >&2; die "h2load failed"; }
}

declare -A rps_of
for ((run = 1; run <= RUNS; run++)); do
  for slot in A B; do
    name_var=NAME_$slot cmd_var=SERVER_CMD_$slot
    name=${!name_var}
    port=$(pick_port)
    log=$work/server-$slot-$run.log
    echo "== run $run/$RUNS: $slot ($name) on port $port" >&2
    start_server "${!cmd_var}" "$port" "$log"
    if ((WARMUP > 0)); then
      run_h2load "$port" "$WARMUP" "$work/warmup-$slot-$run.txt"
      parse_and_check "$work/warmup-$slot-$run.txt" >/dev/null
    fi
    out=$work/h2load-$slot-$run.txt
    run_h2load "$port" "$DURATION" "$out"
    result=$(parse_and_check "$out") # a failed check ends the script here
    read -r rps succeeded data <<<"$result"
    echo "   $rps req/s, $succeeded OK responses, $data DATA bytes (= $succeeded x $OK_RESPONSE_BYTES)" >&2
    stop_server "$log"
    echo "   server exited 0 after SIGTERM" >&2
    rps_of[$slot,$run]=$rps
  done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo
printf '%-6s' "run"
printf '%18s' "A: $NAME_A" "B: $NAME_B"
echo
for ((run = 1; run <= RUNS; run++)); do
  printf '%-6s%18s%18s\n' "$run" "${rps_of[A,$run]}" "${rps_of[B,$run]}"
done
med_a=$(for ((r = 1; r <= RUNS; r++)); do echo "${rps_of[A,$r]}"; done | median)
med_b=$(for ((r = 1; r <= RUNS; r++)); do echo "${rps_of[B,$r]}"; done | median)
printf '%-6s%18s%18s\n' "median" "$med_a" "$med_b"
echo "ratio median(A)/median(B) = $(awk -v a="$med_a" -v b="$med_b" 'BEGIN {printf "%.3f", a / b}')"
echo
echo "All runs verified: DATA bytes = OK responses x $OK_RESPONSE_BYTES; servers exited 0 on SIGTERM."
echo "Commands (PORT: a free loopback port per run; FRAME: 17-byte request for \"product123\";"
echo "each measured run preceded by a ${WARMUP}s warm-up run of the same h2load command):"
echo "  A: taskset -c $SERVER_CPU ${SERVER_CMD_A//\{PORT\}/PORT}"
echo "  B: taskset -c $SERVER_CPU ${SERVER_CMD_B//\{PORT\}/PORT}"
echo "  load: $(h2load_cmd PORT "$DURATION" | sed "s|$frame|FRAME|")"
