#!/usr/bin/env bash
# inventory_bench's load mode against a real inventory_server on an ephemeral
# port (test/run_with_server.sh): get, batch and reserve in a closed loop, get
# in an open loop at two rates, each with --verify and its JSON checked for
# the counters and zero errors; errors must make the exit status non-zero
# unless --max_error_ratio allows them; bad flags and an unreachable target
# fail with a message; and a 300 ms stall of the server (SIGSTOP) must show in
# the open loop's p99, because its calls are timed from their schedule.
# Against an mTLS server, --tls with a client certificate loads with zero
# errors, while plaintext and TLS without a client certificate cannot connect.
# Nothing here asserts a speed: the one latency bound is a lower bound that
# a slower machine can only raise.
#
# get's answers "not available" (unknown ids) are counted and reported.
#
# Usage: load_mode_test.sh INVENTORY_BENCH INVENTORY_SERVER RUN_WITH_SERVER
set -euo pipefail
bench=$1
server=$2
run_with_server=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Stock that cannot run out during the test, for ReserveStock.
{
  echo "product_id,quantity"
  for i in $(seq 0 999); do printf 'sku-%08d,1000000000\n' "$i"; done
} >"$work/catalog.csv"

server_args=(--catalog="$work/catalog.csv")
common=(--catalog_size=1000 --duration=1s --warmup=200ms --connections=2 --inflight=16
  --progress=false --verify --benchmark_out_format=json)

# Runs the bench against a fresh server: run NAME EXPECTED_STATUS BENCH_ARG...
# Leaves the JSON in $work/NAME.json and stdout+stderr in $work/NAME.log.
run() {
  local name=$1 expected=$2 status=0
  shift 2
  bash "$run_with_server" "$server" "${server_args[@]}" -- \
    "$bench" --target=127.0.0.1:{PORT} --benchmark_out="$work/$name.json" "$@" \
    >"$work/$name.log" 2>&1 || status=$?
  if [[ $expected == ok && $status -ne 0 ]] || [[ $expected == fail && $status -eq 0 ]]; then
    cat "$work/$name.log" >&2
    fail "$name: exit status $status, expected $expected"
  fi
  echo "ok: $name (exit status $status)"
}

# Checks a run's JSON: check NAME BENCHMARKS [expect-errors]
check() {
  /usr/bin/python3 - "$work/$1.json" "$2" "${3:-}" <<'PY'
import json, sys
path, count, expect_errors = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "expect-errors"
runs = json.load(open(path))["benchmarks"]
problems = []
if len(runs) != count:
    problems.append(f"{len(runs)} benchmarks, expected {count}")
required = ["items_per_second", "calls_per_second", "p50_us", "p90_us", "p99_us", "p999_us",
            "max_us", "calls", "errors", "error_ratio"]
for run in runs:
    name = run["name"]
    if not name.startswith("Load/"):
        problems.append(f"{name}: not a load benchmark")
    if run.get("error_occurred"):
        problems.append(f"{name}: {run.get('error_message')}")
        continue
    missing = [k for k in required if k not in run]
    if missing:
        problems.append(f"{name}: missing {missing}")
        continue
    if expect_errors:
        if run["errors"] == 0 or run.get("errors_INVALID_ARGUMENT", 0) == 0:
            problems.append(f"{name}: expected INVALID_ARGUMENT errors, got {run['errors']}")
    else:
        if run["errors"] != 0:
            problems.append(f"{name}: {run['errors']} errors")
        if run["calls"] <= 0 or run["items_per_second"] <= 0:
            problems.append(f"{name}: no completed calls")
    if not run["p50_us"] <= run["p90_us"] <= run["p99_us"] <= run["p999_us"] <= run["max_us"]:
        problems.append(f"{name}: percentiles out of order")
    if "rate:" in name and not {"offered_rate", "scheduled", "unsent"} <= run.keys():
        problems.append(f"{name}: open-loop counters missing")
for p in problems:
    print("FAIL", p)
sys.exit(1 if problems else 0)
PY
}

run get ok "${common[@]}" --method=get
check get 1
# Hits and misses of get: every id above is stocked; ids 1000..1999 are not,
# and an answer for them is OK but "not available", which the summary and
# the not_available counter must say.
not_available() {
  /usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["benchmarks"][0]
print(int(r["not_available"]), int(r["calls"]))' "$work/$1.json"
}
read -r missed calls < <(not_available get)
((missed == 0)) || fail "get: $missed of $calls answers counted as not available, all ids are stocked"
run get_half_misses ok "${common[@]}" --method=get --catalog_size=2000
read -r missed calls < <(not_available get_half_misses)
((missed > 0 && missed < calls)) || fail "get_half_misses: $missed of $calls not available"
grep -q " not available (unknown to the target" "$work/get_half_misses.log" ||
  fail "get_half_misses: the summary does not count the misses"
run get_all_misses ok "${common[@]}" --method=get --id_prefix=unknown-
read -r missed calls < <(not_available get_all_misses)
((missed == calls)) || fail "get_all_misses: $missed of $calls not available"
grep -q "every answer was a miss" "$work/get_all_misses.log" ||
  fail "get_all_misses: the summary does not say the run measured misses only"
echo "ok: get counts answers that are not available"
run batch ok "${common[@]}" --method=batch --batch_size=25
check batch 1
run reserve ok "${common[@]}" --method=reserve --lines=3 --ids=zipf
check reserve 1
run open_loop ok "${common[@]}" --method=get --rate=300,600
check open_loop 2
grep -q '"name": "Load/GetProductAvailability/rate:600/connections:2' "$work/open_loop.json" ||
  fail "open_loop: no benchmark named for rate 600"

# Errors: one id of 129 bytes, which the server refuses with INVALID_ARGUMENT.
{
  echo "sku-00000001"
  printf '%0129d\n' 0
} >"$work/ids.txt"
run errors fail "${common[@]}" --method=get --ids_file="$work/ids.txt"
check errors 1 expect-errors
grep -q "INVALID_ARGUMENT" "$work/errors.log" || fail "errors: no INVALID_ARGUMENT in the summary"
grep -q "max_error_ratio" "$work/errors.log" || fail "errors: the failure does not name --max_error_ratio"
run errors_allowed ok "${common[@]}" --method=get --ids_file="$work/ids.txt" --max_error_ratio=1
check errors_allowed 1 expect-errors

# Bad flags and an unreachable target: exit status 1, with a message.
for args in "--method=nope" "--ids=pareto" "--rate=-5" "--inflight=0" "--ids_file=$work/none.txt" \
  "--unknown_flag=1"; do
  status=0
  "$bench" --target=127.0.0.1:1 $args >"$work/bad.log" 2>&1 || status=$?
  ((status == 1)) || { cat "$work/bad.log" >&2; fail "$args: exit status $status, expected 1"; }
  [[ -s $work/bad.log ]] || fail "$args: no message"
done
echo "ok: bad flags"
status=0
"$bench" --target=127.0.0.1:1 --connect_timeout=500ms --duration=1s --progress=false \
  >"$work/unreachable.log" 2>&1 || status=$?
((status == 1)) || { cat "$work/unreachable.log" >&2; fail "unreachable: exit status $status"; }
grep -q "cannot connect" "$work/unreachable.log" || fail "unreachable: no 'cannot connect' message"
echo "ok: unreachable target"

# TLS: the server requires a client certificate from the test CA.
bash "$(dirname "${BASH_SOURCE[0]}")/../test/tls/make_test_certs.sh" "$work/tls" >/dev/null
server_args=(--catalog="$work/catalog.csv" --tls_cert="$work/tls/server.pem"
  --tls_key="$work/tls/server.key" --tls_client_ca="$work/tls/ca.pem")
run tls_mtls ok "${common[@]}" --method=get --tls --tls_ca_cert="$work/tls/ca.pem" \
  --tls_client_cert="$work/tls/client.pem" --tls_client_key="$work/tls/client.key" \
  --tls_server_name=inventory
check tls_mtls 1
run tls_plaintext fail "${common[@]}" --method=get --connect_timeout=1s
grep -q "cannot connect" "$work/tls_plaintext.log" || fail "tls_plaintext: no 'cannot connect' message"
run tls_no_client_cert fail "${common[@]}" --method=get --connect_timeout=1s --tls \
  --tls_ca_cert="$work/tls/ca.pem"
grep -q "cannot connect" "$work/tls_no_client_cert.log" ||
  fail "tls_no_client_cert: no 'cannot connect' message"
run tls_wrong_name fail "${common[@]}" --method=get --connect_timeout=1s --tls \
  --tls_ca_cert="$work/tls/ca.pem" --tls_client_cert="$work/tls/client.pem" \
  --tls_client_key="$work/tls/client.key" --tls_server_name=not-the-server
run tls_flag_without_tls fail "${common[@]}" --method=get --tls_ca_cert="$work/tls/ca.pem"
grep -q "TLS is off" "$work/tls_flag_without_tls.log" || fail "tls_flag_without_tls: no message"
server_args=(--catalog="$work/catalog.csv")
echo "ok: TLS and mTLS"

# A 300 ms stall of the whole server during a 1000 calls/s open loop: about
# 300 of the 3000 measured calls are due during it and wait up to 300 ms, so
# the 30th slowest (p99) waited over 200 ms, on any machine. A tool that timed
# calls from when they were sent, or stopped sending while the server did
# not answer, would miss most of it.
bash "$run_with_server" "$server" --catalog="$work/catalog.csv" -- bash -c '
  (sleep 1.5; kill -STOP "$SERVER_PID"; sleep 0.3; kill -CONT "$SERVER_PID") &
  "$0" --target=127.0.0.1:{PORT} --rate=1000 --duration=3s --warmup=500ms --connections=2 \
    --progress=false --catalog_size=1000 --benchmark_out="$1" --benchmark_out_format=json
  status=$?
  wait
  exit $status' "$bench" "$work/stall.json" >"$work/stall.log" 2>&1 ||
  { cat "$work/stall.log" >&2; fail "stall: the run failed"; }
/usr/bin/python3 - "$work/stall.json" <<'PY' || { cat "$work/stall.log" >&2; fail "stall: not in p99"; }
import json, sys
run = json.load(open(sys.argv[1]))["benchmarks"][0]
print(f"stall run: p50 {run['p50_us']:.0f} us, p99 {run['p99_us']:.0f} us, max {run['max_us']:.0f} us")
sys.exit(0 if run["p99_us"] >= 200_000 and run["errors"] == 0 else 1)
PY
echo "ok: a 300 ms stall shows in the open loop's p99"
echo "PASS"
