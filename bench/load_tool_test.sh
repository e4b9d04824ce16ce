#!/usr/bin/env bash
# inventory_bench --call: any unary method, against a real inventory_server on
# an ephemeral port (test/run_with_server.sh), loading a service that is not
# the inventory, the standard health service (grpc.health.v1.Health/Check),
# three ways: its .proto file parsed at run time (--proto), a descriptor set
# made by protoc (--protoset), and the server's reflection. In each case the
# server's own count of OK Check calls (its /metrics) must equal the tool's.
# Then errors by code: a --data @file with one bad request in four against the
# inventory's GetProductAvailability must fail a quarter of the calls with
# INVALID_ARGUMENT (the server's count agreeing), exit non-zero, and exit 0
# under --max_error_ratio. A 300 ms server stall shows in the open loop's p99. Finally bad input to the tool: each case must exit
# 1 with a message naming the problem, before any load (the server counts no
# call of the method). Nothing here asserts a speed.
#
# Usage: load_tool_test.sh INVENTORY_BENCH INVENTORY_SERVER RUN_WITH_SERVER PROTO_DIR PROTOC
set -euo pipefail
bench=$1
server=$2
run_with_server=$3
proto_dir=$4
protoc=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$protoc" --proto_path="$proto_dir" --descriptor_set_out="$work/health.protoset" \
  --include_imports grpc/health/v1/health.proto

server_args=(--reflection --metrics_listen=127.0.0.1:0 --synthetic_products=1000)
common=(--duration=1s --warmup=0s --connections=2 --progress=false --benchmark_out_format=json)

# The server's count of a method's calls ended with CODE ("started": calls
# started), from /metrics: handled.py SERVICE METHOD CODE METRICS_FILE
cat >"$work/handled.py" <<'PY'
import re, sys
service, method, code, path = sys.argv[1:5]
metric = "grpc_server_started_total{" if code == "started" else "grpc_server_handled_total{"
total = 0
for line in open(path):
    if not line.startswith(metric):
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
    if (labels.get("grpc_service"), labels.get("grpc_method")) == (service, method) and (
            code == "started" or labels.get("grpc_code") == code):
        total += int(float(line.rsplit(" ", 1)[1]))
print(total)
PY

# The tool's counts from its JSON: calls, errors, errors by code.
cat >"$work/tool.py" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["benchmarks"][0]
if run.get("error_occurred"):
    sys.exit("run failed: " + run.get("error_message", ""))
print(int(run["calls"]), int(run["errors"]), int(run.get("errors_INVALID_ARGUMENT", 0)))
PY

# Runs the tool inside a server's life and saves the server's metrics after
# it: in_server NAME EXPECTED_STATUS TOOL_ARG... (JSON in $work/NAME.json,
# metrics in $work/NAME.metrics, output in $work/NAME.log).
in_server() {
  local name=$1 expected=$2 status=0
  shift 2
  bash "$run_with_server" "$server" "${server_args[@]}" -- bash -c '
    bench=$1 out=$2
    shift 2
    metrics_port=$(sed -n "s/.*metrics on port \([0-9]*\).*/\1/p" "$SERVER_LOG" | head -1)
    [[ -n $metrics_port ]] || { echo "no metrics port in the server log" >&2; exit 99; }
    status=0
    "$bench" --target="$SERVER_ADDRESS" --benchmark_out="$out.json" "$@" || status=$?
    # The server counts a call when it has finished it, which may be just
    # after the client saw the answer: the count is read a few times.
    for _ in 1 2 3 4 5; do
      curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$out.metrics"
      sleep 0.2
    done
    exit $status' _ "$bench" "$work/$name" "$@" >"$work/$name.log" 2>&1 || status=$?
  if [[ $expected == ok && $status -ne 0 ]] || [[ $expected == fail && $status -ne 1 ]]; then
    cat "$work/$name.log" >&2
    fail "$name: exit status $status, expected $expected"
  fi
}

# Loads Health/Check and compares the tool's OK calls with the server's.
counted() {
  local name=$1
  shift
  in_server "$name" ok "${common[@]}" "$@"
  local calls errors invalid server_ok
  read -r calls errors invalid < <(/usr/bin/python3 "$work/tool.py" "$work/$name.json")
  server_ok=$(/usr/bin/python3 "$work/handled.py" grpc.health.v1.Health Check OK "$work/$name.metrics")
  ((errors == 0)) || { cat "$work/$name.log" >&2; fail "$name: $errors errors"; }
  ((calls > 0)) || fail "$name: no calls"
  ((server_ok == calls)) || fail "$name: the server counted $server_ok OK calls, the tool $calls"
  # The summary's text histogram accounts for every call.
  local in_histogram
  in_histogram=$(awk '/^  histogram /{on=1; next} on && /^    <= /{s+=$3; next} {on=0} END{print s+0}' \
    "$work/$name.log")
  ((in_histogram == calls)) || fail "$name: the histogram holds $in_histogram calls, not $calls"
  echo "ok: $name: $calls OK calls, the server counted $server_ok"
}

counted by_proto --call=grpc.health.v1.Health/Check --proto=grpc/health/v1/health.proto \
  --import_path="$proto_dir" --data='{"service": ""}' --inflight=16
grep -q "1 request of grpc.health.v1.HealthCheckRequest, method from proto files" \
  "$work/by_proto.json" || fail "by_proto: the JSON does not say where the method came from"
# Both flags may be repeated (and take either spelling): with only the last
# of each kept, health.proto would not be found.
counted by_repeated_flags --call=grpc.health.v1.Health/Check --proto=grpc/health/v1/health.proto \
  --proto inventory.proto --import_path="$proto_dir" --import-path="$work" --inflight=4
counted by_protoset --call=grpc.health.v1.Health.Check --protoset="$work/health.protoset" \
  --inflight=16 --metadata='x-load-test:protoset'
counted by_reflection --call=grpc.health.v1.Health/Check --inflight=16 \
  --metadata='{"x-load-test": "reflection"}'
grep -q "method from reflection of 127.0.0.1:" "$work/by_reflection.json" ||
  fail "by_reflection: the JSON does not say the method came by reflection"
counted by_reflection_open_loop --call=grpc.health.v1.Health/Check --rate=500
grep -q '"name": "Load/grpc.health.v1.Health/Check/rate:500/connections:2' \
  "$work/by_reflection_open_loop.json" || fail "open loop: benchmark not named after the method"

# --total: exactly that many calls, long before --duration ends, closed and
# open loop, over two client queues (each starts its share).
for shape in --inflight=16 --rate=2000; do
  name=total_${shape#--}
  name=${name%%=*}
  counted "$name" --call=grpc.health.v1.Health/Check --total=1001 --duration=60s --client_cqs=2 \
    "$shape"
  read -r calls _ _ < <(/usr/bin/python3 "$work/tool.py" "$work/$name.json")
  ((calls == 1001)) || fail "$name: $calls calls, --total=1001"
done

# The open loop's correction on the generic path: a 300 ms stall of the whole
# server (SIGSTOP) during 1000 calls/s shows in p99, as load_mode_test.sh
# checks for --method (about 300 of 3000 calls wait up to 300 ms).
bash "$run_with_server" "$server" "${server_args[@]}" -- bash -c '
  (sleep 1.5; kill -STOP "$SERVER_PID"; sleep 0.3; kill -CONT "$SERVER_PID") &
  "$0" --target="$SERVER_ADDRESS" --call=grpc.health.v1.Health/Check --rate=1000 --duration=3s \
    --warmup=500ms --connections=2 --progress=false --benchmark_out="$1" \
    --benchmark_out_format=json
  status=$?
  wait
  exit $status' "$bench" "$work/stall.json" >"$work/stall.log" 2>&1 ||
  { cat "$work/stall.log" >&2; fail "stall: the run failed"; }
/usr/bin/python3 - "$work/stall.json" <<'PY' || { cat "$work/stall.log" >&2; fail "stall: not in p99"; }
import json, sys
run = json.load(open(sys.argv[1]))["benchmarks"][0]
print(f"ok: stall on --call: p50 {run['p50_us']:.0f} us, p99 {run['p99_us']:.0f} us, max {run['max_us']:.0f} us")
sys.exit(0 if run["p99_us"] >= 200_000 and run["errors"] == 0 else 1)
PY

# A known share of bad requests: one line in four asks for a 129-byte id,
# which the inventory refuses with INVALID_ARGUMENT. One client queue sends
# the lines strictly in turn, so the share is a quarter to within a call.
{
  echo '{"product_id": "sku-00000001"}'
  echo '{"product_id": "sku-00000002"}'
  printf '{"product_id": "%0129d"}\n' 0
  echo '{"product_id": "sku-00000003"}'
} >"$work/requests.jsonl"
mixed=(--call=inventory.InventoryService/GetProductAvailability --proto="$proto_dir/inventory.proto"
  --data="@$work/requests.jsonl" --client_cqs=1 --inflight=8)
for allowed in no yes; do
  if [[ $allowed == yes ]]; then
    in_server mixed_allowed ok "${common[@]}" "${mixed[@]}" --max_error_ratio=0.3
    name=mixed_allowed
  else
    in_server mixed fail "${common[@]}" "${mixed[@]}"
    name=mixed
    grep -q "max_error_ratio" "$work/mixed.log" || fail "mixed: the failure does not name --max_error_ratio"
  fi
  read -r calls errors invalid < <(/usr/bin/python3 "$work/tool.py" "$work/$name.json")
  server_invalid=$(/usr/bin/python3 "$work/handled.py" inventory.InventoryService \
    GetProductAvailability InvalidArgument "$work/$name.metrics")
  ((invalid == errors)) || fail "$name: $errors errors, $invalid of them INVALID_ARGUMENT"
  ((server_invalid == invalid)) || fail "$name: the server counted $server_invalid INVALID_ARGUMENT, the tool $invalid"
  /usr/bin/python3 -c 'import sys; c, e = map(int, sys.argv[1:3]); sys.exit(0 if c >= 400 and abs(e / c - 0.25) <= 1.5 / c + 0.005 else 1)' \
    "$calls" "$errors" || fail "$name: $errors of $calls calls failed, expected a quarter"
  grep -q "error      INVALID_ARGUMENT x$errors: " "$work/$name.log" ||
    fail "$name: the summary does not show INVALID_ARGUMENT x$errors with its message"
  echo "ok: $name: $errors of $calls calls INVALID_ARGUMENT, the server counted $server_invalid"
done

# --format=json and csv: the summary alone on stdout, machine-readable, with
# the codes, their counts and first messages agreeing with the server.
in_server mixed_json ok "${common[@]}" "${mixed[@]}" --max_error_ratio=0.3 --format=json
in_server mixed_csv ok "${common[@]}" "${mixed[@]}" --max_error_ratio=0.3 --format=csv
for name in mixed_json mixed_csv; do
  server_ok=$(/usr/bin/python3 "$work/handled.py" inventory.InventoryService GetProductAvailability \
    OK "$work/$name.metrics")
  server_invalid=$(/usr/bin/python3 "$work/handled.py" inventory.InventoryService \
    GetProductAvailability InvalidArgument "$work/$name.metrics")
  /usr/bin/python3 - "$work/$name.log" "${name#mixed_}" "$server_ok" "$server_invalid" <<'PY' ||
import csv, json, sys
path, fmt, server_ok, server_invalid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lines = open(path).read().splitlines()
if fmt == "json":
    runs = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(runs) == 1, f"{len(runs)} JSON summaries"
    run = runs[0]
    codes = {c["code"]: c for c in run["codes"]}
    ok, invalid = int(codes["OK"]["count"]), int(codes["INVALID_ARGUMENT"]["count"])
    message = codes["INVALID_ARGUMENT"]["first_message"]
    lat = run["latency_us"]
    assert lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat
    assert sum(int(r["count"]) for r in run["histogram"]) == int(run["calls"]), "histogram"
else:
    start = next(i for i, line in enumerate(lines) if line.startswith("method,target,"))
    rows = list(csv.DictReader(lines[start:start + 2]))
    assert len(rows) == 1, f"{len(rows)} CSV rows"
    row = rows[0]
    codes = dict(part.split("=", 1) for part in row["codes"].split(";"))
    ok, invalid = int(codes["OK"]), int(codes["INVALID_ARGUMENT"])
    message = json.loads(row["first_messages"])["INVALID_ARGUMENT"]
    assert float(row["p50_us"]) <= float(row["p99_us"]) <= float(row["max_us"]), row
assert (ok, invalid) == (server_ok, server_invalid), (ok, invalid, server_ok, server_invalid)
assert message and message != "(no message)", message
print(f"ok: {fmt}: OK x{ok}, INVALID_ARGUMENT x{invalid} ({message!r}), as the server counted")
PY
    { cat "$work/$name.log" >&2; fail "$name: summary wrong"; }
  grep -q "^Benchmark " "$work/$name.log" && fail "$name: Google Benchmark's table is on stdout too"
done

# Bad input: exit status 1, a message naming the problem, and no call of the
# method reaches the server (its count stays 0). bad NAME MESSAGE TOOL_ARG...
bad() {
  local name=$1 message=$2
  shift 2
  in_server "$name" fail "${common[@]}" --inflight=4 "$@"
  grep -qF -- "$message" "$work/$name.log" || { cat "$work/$name.log" >&2; fail "$name: no '$message'"; }
  local started
  started=$(/usr/bin/python3 "$work/handled.py" grpc.health.v1.Health Check started \
    "$work/$name.metrics")
  ((started == 0)) || fail "$name: the server saw $started Check calls before the tool gave up"
  echo "ok: $name: exit status 1, says '$message'"
}
health=(--call=grpc.health.v1.Health/Check)
bad bad_json "--data: not a valid grpc.health.v1.HealthCheckRequest in JSON" "${health[@]}" \
  --data='{"service": '
bad unknown_field 'nope' "${health[@]}" --data='{"nope": 1}'
bad unknown_method "service grpc.health.v1.Health has no method 'Nope'; its methods: Check, Watch" \
  --call=grpc.health.v1.Health/Nope
bad unknown_service "service 'nope.Service' not found on 127.0.0.1:" --call=nope.Service/Get
bad unknown_service_proto "service 'nope.Service' not found in proto files" --call=nope.Service/Get \
  --proto=grpc/health/v1/health.proto --import_path="$proto_dir"
bad missing_proto "--proto $work/none.proto: file not found" "${health[@]}" --proto="$work/none.proto"
bad streaming "is a bidirectional streaming method; the load tool calls unary and server-streaming methods only" \
  --call=grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo
bad bad_call "is not package.Service/Method" --call=Check
bad data_without_call "--proto, --protoset and --data need --call" --data='{}'
bad bad_format "--format must be text, json, csv, html or benchmark_json, got 'xml'" "${health[@]}" --format=xml
bad bad_metadata "--metadata: 'novalue' is not key:value" "${health[@]}" --metadata=novalue

# Without reflection on the server, and no --proto: says to pass one.
server_args=(--metrics_listen=127.0.0.1:0 --synthetic_products=10)
bad no_reflection "does not serve gRPC server reflection (grpc.reflection.v1alpha): pass the method's definition with --proto FILE or --protoset FILE" \
  "${health[@]}"

# Unreachable target, by reflection and with a proto file.
for how in reflection proto; do
  extra=()
  [[ $how == proto ]] && extra=(--proto=grpc/health/v1/health.proto --import_path="$proto_dir")
  status=0
  "$bench" --target=127.0.0.1:1 --connect_timeout=500ms "${health[@]}" "${extra[@]}" "${common[@]}" \
    >"$work/unreachable.log" 2>&1 || status=$?
  ((status == 1)) || { cat "$work/unreachable.log" >&2; fail "unreachable ($how): exit status $status"; }
  grep -q "cannot connect to 127.0.0.1:1 within 500ms" "$work/unreachable.log" ||
    { cat "$work/unreachable.log" >&2; fail "unreachable ($how): no 'cannot connect' message"; }
  echo "ok: unreachable target ($how)"
done
echo "PASS"
