#!/usr/bin/env bash
# Runs every inventory_bench suite briefly and checks its JSON output: each
# benchmark has items_per_second and the latency counters, and no errors.
# It asserts nothing about speed.
set -euo pipefail
bench=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rc=0
"$bench" --benchmark_min_time=0.01 --benchmark_out="$out/run.json" \
  --benchmark_out_format=json >"$out/stdout.txt" 2>&1 || rc=$?
if ((rc != 0)); then
  cat "$out/stdout.txt"
  if ((rc > 128)); then
    echo "inventory_bench was killed by signal $((rc - 128)) ($(kill -l $((rc - 128))))" >&2
  else
    echo "inventory_bench exited with status $rc" >&2
  fi
  exit 1
fi
/usr/bin/python3 - "$out/run.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
required = ["items_per_second", "p50_us", "p90_us", "p99_us", "p999_us", "errors", "calls"]
problems = []
families = set()
for run in runs:
    name = run["name"]
    families.add(name.split("/")[0])
    if run.get("error_occurred"):
        problems.append(f"{name}: {run.get('error_message')}")
        continue
    missing = [k for k in required if k not in run]
    if missing:
        problems.append(f"{name}: missing {missing}")
        continue
    if run["errors"] != 0:
        problems.append(f"{name}: {run['errors']} errors")
    if run["calls"] <= 0 or run["items_per_second"] <= 0:
        problems.append(f"{name}: no completed calls")
    if not run["p50_us"] <= run["p90_us"] <= run["p99_us"] <= run["p999_us"]:
        problems.append(f"{name}: percentiles out of order")
expected = {"BM_GetProductAvailability", "BM_BatchGetProductAvailability", "BM_ServerKnobs",
            "BM_ReserveStockDurable", "BM_ProductGetProduct"}
if families != expected:
    problems.append(f"suites {sorted(families)} != {sorted(expected)}")
for p in problems:
    print("FAIL", p)
print(f"{len(runs)} benchmarks checked, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
