#!/usr/bin/env bash
# inventory_bench --call beyond unary JSON, against real servers on ephemeral
# loopback ports (test/run_with_server.sh):
#  * server-streaming: the examples' Greeter (SayHelloStream, COUNT messages
#    per call) must yield exactly COUNT messages per call and calls x COUNT in
#    total, closed and open loop; time to first message never above the
#    whole call's latency; the health service's endless Watch, cut by
#    --deadline, counts its one message per call and DEADLINE_EXCEEDED;
#  * template values: {{.RequestNumber}} as SayHelloStream's count over a
#    ring of 10 (count 0 is refused by the server: exactly a tenth of the
#    calls fail, and the messages add up to the ring's sum), randomPick
#    between a name and an empty one (the server refuses the empty one);
#  * a stepped rate schedule: one run per step, each offered its rate, the
#    server's count equal to the sum;
#  * TLS: against inventory_server serving TLS (test/tls/make_test_certs.sh),
#    by reflection and by proto, with and without a client certificate; a
#    wrong CA, plaintext against TLS, and a missing file all refused;
#  * --format=html: one self-contained page (no script, no link, no fetch)
#    with both charts, rendered by headless Chromium (the PNG is kept in
#    ARTIFACT_DIR) and checked to be not blank; --format=benchmark_json read
#    by Google Benchmark's compare.py.
# Nothing here asserts a speed.
#
# Usage: load_tool_features_test.sh INVENTORY_BENCH INVENTORY_SERVER GREETER_SERVER
#          RUN_WITH_SERVER PROTO_DIR EXAMPLES_DIR MAKE_TEST_CERTS ARTIFACT_DIR
set -euo pipefail
bench=$1
server=$2
greeter=$3
run_with_server=$4
proto_dir=$5
examples_dir=$6
make_certs=$7
artifacts=$8
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

common=(--warmup=0s --progress=false --duration=20s)
hello=(--proto=helloworld.proto --import_path="$examples_dir")

# Runs the tool against a fresh server: with_server NAME EXPECTED SERVER ARGS... -- TOOL_ARGS...
# (stdout in $work/NAME.out, stderr in $work/NAME.err; EXPECTED ok or fail).
with_server() {
  local name=$1 expected=$2 binary=$3 status=0
  shift 3
  local server_args=()
  while [[ $1 != -- ]]; do
    server_args+=("$1")
    shift
  done
  shift
  bash "$run_with_server" "$binary" "${server_args[@]}" -- bash -c '
    bench=$1 out=$2
    shift 2
    status=0
    "$bench" --target="$SERVER_ADDRESS" "$@" >"$out.out" 2>"$out.err" || status=$?
    if [[ -n ${METRICS_OUT:-} ]]; then
      port=$(sed -n "s/.*metrics on port \([0-9]*\).*/\1/p" "$SERVER_LOG" | head -1)
      for _ in 1 2 3 4 5; do curl -sf "http://127.0.0.1:$port/metrics" >"$METRICS_OUT"; sleep 0.2; done
    fi
    exit $status' _ "$bench" "$work/$name" "$@" 2>"$work/$name.rws" || status=$?
  if [[ $expected == ok && $status -ne 0 ]] || [[ $expected == fail && $status -ne 1 ]]; then
    cat "$work/$name.rws" "$work/$name.err" >&2
    fail "$name: exit status $status, expected $expected"
  fi
}

# Checks a --format=json summary: json_check NAME PYTHON_EXPRESSIONS (run is the object).
json_check() {
  local name=$1 expr=$2
  /usr/bin/python3 - "$work/$name.out" "$expr" <<'PY' || { cat "$work/$1.err" >&2; fail "$1: $2"; }
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert len(runs) == 1, f"{len(runs)} summaries"
run = runs[0]
codes = {c["code"]: int(c["count"]) for c in run["codes"]}
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print(json.dumps(run, indent=1)[:3000], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  echo "ok: $name"
}

# --- server-streaming ------------------------------------------------------
with_server stream_closed ok "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHelloStream --data='{"name": "load", "count": 7}' \
  --total=300 --inflight=8 --connections=2 --format=json
json_check stream_closed 'run["ok"] == 300 and run["messages"] == 2100 and
  run["messages_per_call"]["min"] == 7 and run["messages_per_call"]["max"] == 7 and
  run["first_message_us"]["calls"] == 300 and
  run["first_message_us"]["p50"] <= run["latency_us"]["p50"] and
  run["first_message_us"]["max"] <= run["latency_us"]["max"]'

with_server stream_open ok "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter.SayHelloStream --data='{"name": "load", "count": 3}' \
  --total=200 --rate=400 --client_cqs=2 --connections=2 --format=json
json_check stream_open 'run["ok"] == 200 and run["messages"] == 600 and run["loop"] == "open"'
# The text summary says it too.
with_server stream_text ok "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHelloStream --data='{"name": "load", "count": 5}' --total=50 \
  --inflight=4
grep -q "messages   250 received; per call min 5  p50 5  max 5" "$work/stream_text.err" ||
  { cat "$work/stream_text.err" >&2; fail "stream_text: no messages line"; }
grep -q "first msg  us p50 " "$work/stream_text.err" || fail "stream_text: no first message line"
echo "ok: stream_text"

# An endless stream, cut by the deadline: one SERVING message, then
# DEADLINE_EXCEEDED, for every call.
with_server stream_deadline fail "$server" --synthetic_products=10 -- "${common[@]}" \
  --call=grpc.health.v1.Health/Watch --proto=grpc/health/v1/health.proto \
  --import_path="$proto_dir" --deadline=300ms --total=12 --inflight=4 --format=json
json_check stream_deadline 'codes == {"DEADLINE_EXCEEDED": 12} and run["messages"] == 12 and
  run["first_message_us"]["max"] < 300000 <= run["latency_us"]["p50"]'

# --- template values -------------------------------------------------------
# count = .RequestNumber over a ring of 10, one client queue: call n sends
# entry n mod 10, so 20 of 200 calls ask for count 0 (refused) and the
# others get 20 x (1 + ... + 9) = 900 messages.
with_server template_number fail "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHelloStream --data='{"name": "n", "count": {{.RequestNumber}}}' \
  --data_ring=10 --client_cqs=1 --inflight=4 --total=200 --format=json
json_check template_number 'codes == {"OK": 180, "INVALID_ARGUMENT": 20} and run["messages"] == 900'
grep -q "20 of 200 calls failed" "$work/template_number.err" || fail "template_number: exit reason"

# randomPick: half the names are empty (refused), drawn before the run.
with_server template_pick ok "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHello --data='{"name": "{{randomPick "ann" ""}}"}' \
  --data_ring=1000 --client_cqs=1 --inflight=8 --total=1000 --max_error_ratio=1 --format=json
json_check template_pick 'set(codes) == {"OK", "INVALID_ARGUMENT"} and
  350 <= codes["INVALID_ARGUMENT"] <= 650 and codes["OK"] + codes["INVALID_ARGUMENT"] == 1000'
# The same seed draws the same ring: the same count of refusals.
first=$(/usr/bin/python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r["failed"])' "$work/template_pick.out")
with_server template_pick_again ok "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHello --data='{"name": "{{randomPick "ann" ""}}"}' \
  --data_ring=1000 --client_cqs=1 --inflight=8 --total=1000 --max_error_ratio=1 --format=json
json_check template_pick_again "run['failed'] == $first"
with_server template_bad fail "$greeter" -- "${common[@]}" "${hello[@]}" \
  --call=helloworld.Greeter/SayHello --data='{"name": "{{.Nope}}"}' --total=10
grep -q "template: unknown action {{.Nope}}" "$work/template_bad.err" || fail "template_bad: message"
echo "ok: template_bad"

# --- stepped rate schedule -------------------------------------------------
METRICS_OUT=$work/steps.metrics with_server steps ok "$server" --metrics_listen=127.0.0.1:0 \
  --synthetic_products=10 --reflection -- --progress=false --warmup=200ms \
  --call=grpc.health.v1.Health/Check --rate=200:600:200 --rate_step_duration=1s --connections=2 \
  --benchmark_out="$work/steps.json" --benchmark_out_format=json
/usr/bin/python3 - "$work/steps.json" "$work/steps.metrics" <<'PY' || { cat "$work/steps.err" >&2; fail "steps"; }
import json, re, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
names = [r["name"].split("/connections")[0] for r in runs]
assert names == [f"Load/grpc.health.v1.Health/Check/step:{i}/rate:{r}" for i, r in ((1, 200), (2, 400), (3, 600))], names
for run, rate in zip(runs, (200, 400, 600)):
    assert abs(run["scheduled"] - rate) <= 1, (rate, run["scheduled"])
    assert run["errors"] == 0 and run["calls"] == run["scheduled"], run
server_ok = 0
for line in open(sys.argv[2]):
    if line.startswith("grpc_server_handled_total{") and 'grpc_method="Check"' in line and 'grpc_code="OK"' in line:
        server_ok += int(float(line.rsplit(" ", 1)[1]))
calls = sum(int(r["calls"]) for r in runs)
# The first step's warm-up calls reach the server too (200 ms at 200/s).
assert calls <= server_ok <= calls + 45, (server_ok, calls)
print("ok: steps: 3 runs, scheduled", [int(r["scheduled"]) for r in runs], "server OK", server_ok)
PY
grep -c "open loop, offered" "$work/steps.err" | grep -qx 3 || fail "steps: not one summary per step"
with_server steps_bad fail "$server" --synthetic_products=10 --reflection -- \
  --call=grpc.health.v1.Health/Check --rate=100:50 --progress=false
grep -q "is not START:END:STEP" "$work/steps_bad.err" || fail "steps_bad: message"
echo "ok: steps_bad"

# --- TLS ---------------------------------------------------------------------
bash "$make_certs" "$work/certs" >/dev/null
c=$work/certs
tls_server=(--tls_cert="$c/server.pem" --tls_key="$c/server.key" --reflection
  --synthetic_products=10)
with_server tls_reflection ok "$server" "${tls_server[@]}" -- "${common[@]}" \
  --call=grpc.health.v1.Health/Check --tls --tls_ca_cert="$c/ca.pem" --total=200 --inflight=8 \
  --format=json
json_check tls_reflection 'codes == {"OK": 200}'
with_server tls_server_name ok "$server" "${tls_server[@]}" -- "${common[@]}" \
  --call=grpc.health.v1.Health/Check --proto=grpc/health/v1/health.proto \
  --import_path="$proto_dir" --tls --tls_ca_cert="$c/ca.pem" --tls_server_name=inventory \
  --total=100 --inflight=4 --format=json
json_check tls_server_name 'codes == {"OK": 100}'
with_server tls_mutual ok "$server" "${tls_server[@]}" --tls_client_ca="$c/ca.pem" -- \
  "${common[@]}" --call=grpc.health.v1.Health/Check --tls --tls_ca_cert="$c/ca.pem" \
  --tls_client_cert="$c/client.pem" --tls_client_key="$c/client.key" --total=100 --inflight=4 \
  --format=json
json_check tls_mutual 'codes == {"OK": 100}'
# Refusals: each exits 1 before any load, saying why.
tls_bad() {
  local name=$1 message=$2
  shift 2
  with_server "$name" fail "$server" "${tls_server[@]}" "${tls_extra[@]}" -- "${common[@]}" \
    --connect_timeout=1s --call=grpc.health.v1.Health/Check --proto=grpc/health/v1/health.proto \
    --import_path="$proto_dir" --total=10 --inflight=1 "$@"
  grep -qF -- "$message" "$work/$name.err" || { cat "$work/$name.err" >&2; fail "$name: no '$message'"; }
  echo "ok: $name"
}
tls_extra=()
tls_bad tls_wrong_ca "cannot connect to 127.0.0.1:" --tls --tls_ca_cert="$c/other-ca.pem"
tls_bad tls_plaintext "cannot connect to 127.0.0.1:"
tls_bad tls_wrong_name "cannot connect to 127.0.0.1:" --tls \
  --tls_ca_cert="$c/ca.pem" --tls_server_name=elsewhere
tls_bad tls_missing_file "tls_ca_cert" --tls --tls_ca_cert="$c/none.pem"
tls_bad tls_without_flag "tls_ca_cert" --tls_ca_cert="$c/ca.pem"
tls_extra=(--tls_client_ca="$c/ca.pem")
tls_bad tls_no_client_cert "cannot connect to 127.0.0.1:" --tls --tls_ca_cert="$c/ca.pem"

# --- reports -----------------------------------------------------------------
# A run with a server stall, so the latency-over-time chart has a shape.
bash "$run_with_server" "$server" --synthetic_products=10 --reflection -- bash -c '
  (sleep 1.0; kill -STOP "$SERVER_PID"; sleep 0.2; kill -CONT "$SERVER_PID") &
  "$0" --target="$SERVER_ADDRESS" --call=grpc.health.v1.Health/Check --rate=800 --duration=2s \
    --warmup=200ms --connections=2 --progress=false --format=html >"$1" 2>"$1.err"
  status=$?
  wait
  exit $status' "$bench" "$work/report.html" || { cat "$work/report.html.err" >&2; fail "html run"; }
/usr/bin/python3 - "$work/report.html" <<'PY' || fail "html: not a self-contained page with two charts"
import re, sys
page = open(sys.argv[1]).read()
assert page.startswith("<!DOCTYPE html>"), page[:80]
assert page.count("<svg ") == 2, page.count("<svg ")
assert "aria-label='latency over time'" in page and "aria-label='latency distribution'" in page
for banned in ("<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"):
    assert banned not in page, banned
# Every http(s) reference is the SVG namespace, which is never fetched.
assert set(re.findall(r"https?://[^'\" ]+", page)) == {"http://www.w3.org/2000/svg"}
points = re.findall(r"<polyline [^>]*points='([^']*)'", page)
assert len(points) == 3 and all(len(p.split()) >= 15 for p in points), [len(p.split()) for p in points]
print("ok: html: self-contained, two charts, three series of", len(points[0].split()), "points")
PY
if command -v chromium >/dev/null; then
  # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --window-size=1000,1500 \
    --screenshot="$work/report.png" "file://$work/report.html" >"$work/chromium.log" 2>&1 ||
    { cat "$work/chromium.log" >&2; fail "chromium could not render the report"; }
  cp "$work/report.png" "$artifacts/load_report.png"
  cp "$work/report.html" "$artifacts/load_report.html"
  /usr/bin/python3 - "$work/report.png" <<'PY' || fail "html: the rendered page is blank or lacks the charts' colours"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, chunks = 8, {}
idat = b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
channels = 3 if color == 2 else 4
raw = zlib.decompress(idat)
stride = width * channels
rows, prev = [], bytearray(stride)
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b = prev[i]
        c = prev[i - channels] if i >= channels else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
pixels = [tuple(r[i:i + 3]) for r in rows for i in range(0, stride, channels)]
non_white = sum(1 for p in pixels if p != (255, 255, 255))
def near(rgb):
    return sum(1 for p in pixels if all(abs(p[k] - rgb[k]) < 40 for k in range(3)))
blue, orange, red = near((0x1f, 0x77, 0xb4)), near((0xff, 0x7f, 0x0e)), near((0xd6, 0x27, 0x28))
print(f"ok: chromium rendered {width}x{height}: {100 * non_white / len(pixels):.1f}% not white; "
      f"blue {blue}, orange {orange}, red {red} pixels")
# (The legend alone has 56 pixels of each colour.)
assert non_white > 0.02 * len(pixels) and blue > 500 and orange > 200 and red > 200
PY
else
  echo "SKIP: chromium not installed (scripts/install_deps.sh installs it): the page was not rendered"
fi

# Google Benchmark's JSON on stdout, twice, compared by compare.py.
for i in 1 2; do
  with_server "bm$i" ok "$server" --synthetic_products=10 --reflection -- --progress=false \
    --warmup=0s --call=grpc.health.v1.Health/Check --total=300 --inflight=4,8 --format=benchmark_json
  /usr/bin/python3 - "$work/bm$i.out" <<'PY' || fail "benchmark_json: not Google Benchmark's JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
assert {"context", "benchmarks"} <= set(doc), set(doc)
assert "load_method" in doc["context"] and "num_cpus" in doc["context"]
names = [b["name"] for b in doc["benchmarks"]]
assert len(names) == 2 and all(n.startswith("Load/grpc.health.v1.Health/Check/inflight:") for n in names), names
for b in doc["benchmarks"]:
    for key in ("real_time", "cpu_time", "time_unit", "iterations", "run_type", "calls_per_second", "p99_us"):
        assert key in b, key
    assert b["calls"] == 300 and b["run_type"] == "iteration", b
PY
done
compare=/usr/share/benchmark/compare.py
if [[ -f $compare ]] && /usr/bin/python3 -c 'import scipy, numpy' 2>/dev/null; then
  /usr/bin/python3 "$compare" benchmarks "$work/bm1.out" "$work/bm2.out" >"$work/compare.txt" 2>&1 ||
    { cat "$work/compare.txt" >&2; fail "compare.py refused the JSON"; }
  grep -q "Load/grpc.health.v1.Health/Check/inflight:4" "$work/compare.txt" ||
    { cat "$work/compare.txt" >&2; fail "compare.py did not compare the runs"; }
  echo "ok: compare.py compared the two benchmark_json reports"
else
  echo "SKIP: compare.py (libbenchmark-tools, python3-scipy) not installed; the JSON's shape was checked"
fi
echo "PASS"
