#!/usr/bin/env bash
# Binary-level checks of inventory_server's command line and process
# behaviour: --help, --version, flag spellings, flag validation, start-up
# failures, port 0 and signals; and --help/--version of every other binary
# given (they share the command line, server/host/command_line.h).
# Every check runs; the script fails at the end if any of them failed.
#
#   server_cli_test.sh INVENTORY_SERVER PROTOC PROJECT_VERSION [OTHER_BINARY...]
set -euo pipefail

(($# >= 3)) || {
  echo "usage: $0 INVENTORY_SERVER PROTOC PROJECT_VERSION [OTHER_BINARY...]" >&2
  exit 2
}
server=$1
protoc=$2
project_version=$3
shift 3
other_binaries=("$@")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
helper=$here/run_with_server.sh
python=/usr/bin/python3
# No proxy between the Python client and loopback.
unset http_proxy https_proxy grpc_proxy HTTP_PROXY HTTPS_PROXY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/server_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

failures=0
pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*" >&2
  failures=$((failures + 1))
}
show() {  # show FILE: a file's contents on stderr, for failure messages
  sed 's/^/     | /' "$1" >&2
}

# run_once OUT ARG...: runs the server once, bounded, without the helper
# (for invocations that must not get as far as serving); sets $rc.
# A safe --listen comes first so that, should the server wrongly start, it
# neither takes the default port 50051 nor hangs the test (timeout -> 124).
# The binary is $binary if set (e.g. binary=X run_once ...), else $server.
run_once() {
  local out=$1
  shift
  rc=0
  timeout 10 "${binary:-$server}" --listen=127.0.0.1:0 "$@" </dev/null >"$out" 2>&1 || rc=$?
}

# expect_rejected NAME REGEX ARG...: the server must refuse to start: exit
# with a plain failure status (not 0, not a timeout, not a signal) and print
# a message matching the extended regex REGEX.
expect_rejected() {
  local name=$1 regex=$2
  shift 2
  local out=$tmp/rejected.out
  run_once "$out" "$@"
  if ((rc == 0 || rc >= 124)); then
    local why=
    ((rc == 124)) && why=" (it started serving)"
    fail "$name: expected a start-up failure for [$*], got exit status $rc$why"
    show "$out"
  elif ! grep -qE -- "$regex" "$out"; then
    fail "$name: exit status $rc as expected, but no message matching /$regex/ for [$*]"
    show "$out"
  else
    pass "$name: exit status $rc, $(grep -m1 -E -- "$regex" "$out")"
  fi
}

# with_server NAME LOG [SERVER_ARG...] -- COMMAND...: runs COMMAND through
# run_with_server.sh (against ${binary:-$server}) (which also requires a clean exit on the stop signal,
# RWS_STOP_SIGNAL), keeping the server's log in LOG; sets $rc.
with_server() {
  local name=$1 log=$2
  shift 2
  rc=0
  RWS_LOG=$log bash "$helper" "${binary:-$server}" "$@" >"$log.cmd" 2>&1 || rc=$?
  if ((rc != 0)); then
    fail "$name: run_with_server.sh exited with status $rc"
    show "$log.cmd"
  fi
}

# --- --help lists every project flag with its default -----------------------
declare -A expected_default=(
  [listen]='"127.0.0.1:50051"'
  [catalog]='""'
  [synthetic_products]=0
  [completion_queues]=0
  [requests_per_method]=64
  [drain_deadline]=5s
  [reflection]=false
  [max_receive_message_bytes]=1048576
  [max_concurrent_streams]=256
  [max_metadata_bytes]=16384
  [max_ping_strikes]=2
  [memory_quota_bytes]=1073741824
)
help=$tmp/help.out
rc=0
timeout 10 "$server" --help </dev/null >"$help" 2>&1 || rc=$?
if ((rc != 0)); then
  fail "--help: exit status $rc, expected 0"
  show "$help"
fi
# One record per flag: "    --name (description...); default: value;" with
# its wrapped continuation lines joined, as "name<TAB>value".
awk '
  /^    --[A-Za-z0-9_]+ / { if (rec != "") print rec; rec = $0; next }
  /^      / && rec != "" { rec = rec " " $0; next }
  { if (rec != "") print rec; rec = "" }
  END { if (rec != "") print rec }
' "$help" | tr -s ' ' | sed -nE 's/^ *--([A-Za-z0-9_]+) .*; default: (.*);$/\1\t\2/p' >"$tmp/help.defaults"
help_ok=1
for flag in "${!expected_default[@]}"; do
  got=$(awk -F'\t' -v f="$flag" '$1 == f { print $2; found = 1 } END { if (!found) print "<missing>" }' \
    "$tmp/help.defaults")
  if [[ $got != "${expected_default[$flag]}" ]]; then
    fail "--help: --$flag should be listed with default ${expected_default[$flag]}, got $got"
    help_ok=0
  fi
done
# --help is meant to show the project's flags only (gRPC's and abseil's own
# are left to --helpfull).
if grep -qE -- '^ *--(flagfile|fromenv|tryfromenv|undefok) ' "$help"; then
  fail "--help: lists abseil's own flags, which belong to --helpfull only"
  help_ok=0
fi
if ((help_ok)); then
  pass "--help: all ${#expected_default[@]} project flags listed with their defaults (exit status $rc)"
else
  show "$help"
fi

# --- --version and --help on every binary: stdout, exit status 0 -------------
for binary in "$server" "${other_binaries[@]}"; do
  name=$(basename "$binary")
  out=$tmp/version.out
  rc=0
  timeout 10 "$binary" --version </dev/null >"$out" 2>"$tmp/version.err" || rc=$?
  if ((rc != 0)); then
    fail "$name --version: exit status $rc, expected 0"
    show "$out"
    show "$tmp/version.err"
  elif [[ $(cat "$out") != "$name $project_version" ]]; then
    fail "$name --version: printed '$(head -c 200 "$out")', expected '$name $project_version'"
  else
    pass "$name --version: '$(cat "$out")', exit status 0"
  fi
  for ask in --help -h --helpfull; do
    rc=0
    timeout 10 "$binary" "$ask" </dev/null >"$out" 2>"$tmp/help.err" || rc=$?
    if ((rc != 0)); then
      fail "$name $ask: exit status $rc, expected 0"
      show "$tmp/help.err"
    elif ! grep -qE '^    --[a-z0-9_]+ \(' "$out"; then
      fail "$name $ask: exit status 0 but no flag listed on stdout"
      show "$out"
    elif [[ $ask == --helpfull ]] && ! grep -qE '^    --flagfile \(' "$out"; then
      fail "$name --helpfull: abseil's own flags (--flagfile) are missing"
    elif [[ $ask != --helpfull ]] && grep -qE '^    --flagfile \(' "$out"; then
      fail "$name $ask: lists abseil's own flags, which belong to --helpfull only"
    else
      pass "$name $ask: $(grep -cE '^    --[a-z0-9_]+ \(' "$out") flags listed, exit status 0"
    fi
  done
done

unset binary  # the loop variable would pick run_once's and with_server's binary

# --- flags the server must refuse -------------------------------------------
expect_rejected "unknown flag" "no_such_flag" --no_such_flag=1
expect_rejected "unknown dashed flag" "no[-_]such[-_]flag" --no-such-flag=1
expect_rejected "a positional argument" "^inventory_server: unexpected argument 'stray'" \
  stray
expect_rejected "--requests_per_method=0" '^inventory_server: .*requests[ _].*\b0\b' \
  --requests_per_method=0
expect_rejected "--requests_per_method=100001" '^inventory_server: .*requests[ _].*\b100001\b' \
  --requests_per_method=100001
expect_rejected "--completion_queues=-1" '^inventory_server: .*completion[ _]queues.*-1\b' \
  --completion_queues=-1
expect_rejected "--requests_per_method=abc" "requests_per_method.*abc|abc.*requests_per_method" \
  --requests_per_method=abc
expect_rejected "--drain_deadline=-1s" '^inventory_server: .*drain[ _]deadline' --drain_deadline=-1s
expect_rejected "--max_receive_message_bytes=10" \
  '^inventory_server: .*max_receive_message_bytes.*\b10\b' --max_receive_message_bytes=10
expect_rejected "--memory_quota_bytes=1" '^inventory_server: .*memory_quota_bytes' \
  --memory_quota_bytes=1
expect_rejected "--log_level=loud" "log_level.*loud" --log_level=loud
expect_rejected "--max_connection_age=0s" '^inventory_server: .*max_connection_age' \
  --max_connection_age=0s
expect_rejected "--metrics_workers=0" '^inventory_server: .*metrics workers.*\b0\b' \
  --metrics_workers=0 --metrics_listen=127.0.0.1:0
expect_rejected "--catalog with --synthetic_products" "catalog.*synthetic_products" \
  --catalog="$tmp/any.csv" --synthetic_products=5
expect_rejected "--postgres with --data_dir" '^inventory_server: --postgres and --data_dir' \
  --postgres="host=$tmp/no-server port=5432" --data_dir="$tmp/pg-and-dir"
expect_rejected "--postgres_pool_size=0" '^inventory_server: --postgres_pool_size must be >= 1' \
  --postgres="host=$tmp/no-server port=5432" --postgres_pool_size=0
expect_rejected "--postgres_queue_limit=0" '^inventory_server: --postgres_queue_limit must be >= 1' \
  --postgres="host=$tmp/no-server port=5432" --postgres_queue_limit=0
# Nothing listens on that socket: refused at start, naming the flag.
expect_rejected "--postgres unreachable" '^inventory_server: --postgres: cannot connect' \
  --postgres="host=$tmp/no-server port=5432 user=postgres"

# --- a missing --catalog file names the path --------------------------------
missing=$tmp/no-such-dir/catalog.csv
missing_regex=$(printf '%s' "$missing" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
expect_rejected "missing --catalog file" "^inventory_server: .*$missing_regex" --catalog="$missing"

# Both servers share the start-up path (server/host): each must fail alike.
servers=("$server")
for other in "${other_binaries[@]}"; do
  [[ $(basename "$other") == product_server ]] && servers+=("$other")
done
# product_server's inventory: a loopback port nobody serves.
server_extra_args() {
  if [[ $(basename "$1") == product_server ]]; then echo --inventory=127.0.0.1:1; fi
}

# --- a busy port: the second server must fail, the first keep serving -------
# The second server is each of the servers in turn, the first inventory_server.
busy_out=$tmp/busy.out
busy_rc=$tmp/busy.rc
for second in "${servers[@]}"; do
  name=$(basename "$second")
  # shellcheck disable=SC2016  # expanded by the inner bash, not here
  with_server "busy port ($name)" "$tmp/busy.log" -- bash -c '
    rc=0
    timeout 10 "$1" $4 --listen=127.0.0.1:{PORT} </dev/null >"$2" 2>&1 || rc=$?
    echo "$rc" >"$3"
    exec 3<>/dev/tcp/127.0.0.1/{PORT}   # the first server still accepts connections
  ' _ "$second" "$busy_out" "$busy_rc" "$(server_extra_args "$second")"
  if ((rc == 0)); then
    second_rc=$(cat "$busy_rc")
    if ((second_rc != 1)); then
      fail "busy port: a second $name on the same port exited with status $second_rc, expected 1"
      show "$busy_out"
    elif ! grep -q "^$name: could not listen" "$busy_out"; then
      fail "busy port: $name exited with status 1, but no '$name: could not listen' message"
      show "$busy_out"
    else
      pass "busy port: $name exited with status 1, $(grep -m1 'could not listen' "$busy_out")"
    fi
  fi
done

# --- a malformed --listen: exit status 1 and a message, never a crash -------
for bad in 127.0.0.1:notaport 127.0.0.1:99999 '[::1'; do
  for binary in "${servers[@]}"; do
    name=$(basename "$binary")
    out=$tmp/malformed.out
    # shellcheck disable=SC2046  # the extra argument is one word or none
    run_once "$out" $(server_extra_args "$binary") --listen="$bad"
    if ((rc != 1)); then
      fail "$name --listen=$bad: exit status $rc, expected 1"
      show "$out"
    elif ! grep -qF "$name: could not listen on '$bad'" "$out"; then
      fail "$name --listen=$bad: exit status 1, but no '$name: could not listen' message"
      show "$out"
    else
      pass "$name --listen=$bad: exit status 1, $(grep -m1 'could not listen' "$out")"
    fi
  done
done
unset binary

# --- dashed spellings are accepted, and the values take effect --------------
log=$tmp/dashed.log
with_server "dashed flags" "$log" --drain-deadline=2s --requests-per-method=7 -- true
if ((rc == 0)); then
  if grep -q "draining for up to 2s" "$log" && grep -q "7 requests posted" "$log"; then
    pass "dashed flags: --drain-deadline=2s and --requests-per-method=7 accepted and applied"
  else
    fail "dashed flags: accepted, but the log does not show drain deadline 2s and 7 requests"
    show "$log"
  fi
fi

# --- a negated bool flag, spelled with dashes, takes effect ------------------
# SetStock without a credential is UNAUTHENTICATED by default (no admin is
# configured), and PERMISSION_DENIED for everyone with --no-admin-set-stock;
# abseil alone only knows --noadmin_set_stock. --allow-unauthenticated-admin
# (the insecure development mode) lets it through.
call=("$python" "$repo/tools/grpc_call.py" "127.0.0.1:{PORT}"
  inventory.InventoryService/SetStock 'product_id: "product123" quantity: 5')
for spelling in "" --no-admin-set-stock --no_admin_set_stock --noadmin-set-stock \
  --admin-set-stock=false --allow-unauthenticated-admin; do
  log=$tmp/admin.log
  expected=UNAUTHENTICATED
  [[ -n $spelling ]] && expected=PERMISSION_DENIED
  [[ $spelling == --allow-unauthenticated-admin ]] && expected=OK
  # shellcheck disable=SC2016  # expanded by the inner bash
  with_server "SetStock with [${spelling:-no flag}]" "$log" ${spelling:+"$spelling"} -- \
    bash -c 'rc=0; PROTOC=$1 "${@:2}" >"$0.out" 2>&1 || rc=$?; echo "$rc" >"$0.rc"' \
    "$tmp/admin" "$protoc" "${call[@]}"
  if ((rc == 0)); then
    got=OK
    (($(cat "$tmp/admin.rc") == 0)) || got=$(sed -n 's/^\([A-Z_]*\): .*/\1/p' "$tmp/admin.out")
    if [[ $got == "$expected" ]]; then
      pass "SetStock with [${spelling:-no flag}]: $got"
    else
      fail "SetStock with [${spelling:-no flag}]: expected $expected, got ${got:-an error}"
      show "$tmp/admin.out"
    fi
  fi
done

# --- port 0: the printed address is the bound one ----------------------------
log=$tmp/port0.log
with_server "port 0" "$log" -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/{PORT}'
if ((rc == 0)); then
  if line=$(grep -m1 -E 'listening on 127\.0\.0\.1:[1-9][0-9]*' "$log"); then
    pass "port 0: printed address accepts connections: ${line#*] }"
  else
    fail "port 0: no 'listening on 127.0.0.1:PORT' line with a non-zero port"
    show "$log"
  fi
fi

# --- SIGTERM and SIGINT: exit status 0 and a clean stop ----------------------
for signal in TERM:15 INT:2; do
  name=${signal%%:*} number=${signal##*:}
  log=$tmp/sig$name.log
  RWS_STOP_SIGNAL=$name with_server "SIG$name" "$log" -- true
  if ((rc == 0)); then
    if grep -q "signal $number received" "$log" && grep -q "stopped cleanly" "$log"; then
      pass "SIG$name: exit status 0, log says it stopped cleanly"
    else
      fail "SIG$name: exit status 0, but the log lacks 'signal $number received' or 'stopped cleanly'"
      show "$log"
    fi
  fi
done

# --- SIGHUP: logged and ignored; the server serves on and stops cleanly ---
# (run_with_server.sh then sends SIGTERM and requires exit status 0.)
for binary in "${servers[@]}"; do
  name=$(basename "$binary")
  log=$tmp/sighup.log
  # shellcheck disable=SC2016,SC2046  # expanded by the inner bash
  with_server "SIGHUP ($name)" "$log" $(server_extra_args "$binary") -- bash -c '
    kill -HUP "$SERVER_PID"
    for _ in $(seq 100); do grep -q SIGHUP "$SERVER_LOG" && break; sleep 0.05; done
    PROTOC=$1 "$2" "$3" 127.0.0.1:{PORT} grpc.health.v1.Health/Check >"$0.out" 2>&1
  ' "$tmp/sighup" "$protoc" "$python" "$repo/tools/grpc_call.py"
  if ((rc == 0)); then
    if ! grep -q "SIGHUP.*ignored" "$log"; then
      fail "SIGHUP ($name): the server log does not say SIGHUP was ignored"
      show "$log"
    elif ! grep -q "SERVING" "$tmp/sighup.out"; then
      fail "SIGHUP ($name): health Check after SIGHUP did not answer SERVING"
      show "$tmp/sighup.out"
    elif ! grep -q "stopped cleanly" "$log"; then
      fail "SIGHUP ($name): exit status 0 on SIGTERM, but the log lacks 'stopped cleanly'"
      show "$log"
    else
      pass "SIGHUP ($name): ignored ($(grep -m1 -o 'SIGHUP.*ignored' "$log")), still SERVING, then exit status 0 on SIGTERM"
    fi
  fi
done
unset binary

if ((failures > 0)); then
  echo "server_cli_test: $failures check(s) failed" >&2
  exit 1
fi
echo "server_cli_test: all checks passed"
