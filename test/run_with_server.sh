#!/usr/bin/env bash
# Runs a command against a freshly started server on an ephemeral loopback port.
#
#   run_with_server.sh SERVER_BINARY [SERVER_ARG...] -- COMMAND [ARG...]
#
# 1. Starts SERVER_BINARY SERVER_ARG... --listen=127.0.0.1:0 (stdin from
#    /dev/null, stdout and stderr to a log file).
# 2. Waits (bounded) for a "listening on HOST:PORT" line in that log.
# 3. Exports SERVER_PORT, SERVER_ADDRESS (127.0.0.1:PORT), SERVER_PID and
#    SERVER_LOG, and runs COMMAND with every "{PORT}" in its arguments replaced
#    by the port. COMMAND's stdout and stderr pass through untouched.
# 4. Sends the stop signal and requires the server to exit with status 0
#    within a bound. The server (its whole process group) is killed on any
#    way out of this script.
#
# Exit status: COMMAND's status if it failed, otherwise 0 if the server stopped
# cleanly; a server that does not start or does not stop cleanly fails with
# status 90 or 91 (its log is then copied to stderr).
#
# Environment knobs (all optional):
#   RWS_START_TIMEOUT  whole seconds to wait for the listening line   (default 30)
#   RWS_STOP_TIMEOUT   whole seconds to wait for exit after the signal (default 20)
#   RWS_STOP_SIGNAL    signal name sent to stop the server       (default TERM)
#   RWS_LOG            keep the server's log at this path (default: a temp
#                      file removed on exit)
set -euo pipefail

die() {
  echo "run_with_server: $*" >&2
  exit 90
}

dump_log() {
  if [[ -s "${log:-}" ]]; then
    echo "----- server log ($log) -----" >&2
    cat "$log" >&2
    echo "----- end of server log -----" >&2
  fi
}

(($# >= 1)) || die "usage: run_with_server.sh SERVER_BINARY [SERVER_ARG...] -- COMMAND [ARG...]"
server=$1
shift
server_args=()
while (($# > 0)) && [[ $1 != -- ]]; do
  server_args+=("$1")
  shift
done
(($# >= 2)) || die "missing '-- COMMAND' after the server arguments"
shift
command=("$@")

start_timeout=${RWS_START_TIMEOUT:-30}
stop_timeout=${RWS_STOP_TIMEOUT:-20}
stop_signal=${RWS_STOP_SIGNAL:-TERM}
[[ -x $server ]] || die "server binary '$server' is not an executable file"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/run_with_server.XXXXXX")
log=${RWS_LOG:-$workdir/server.log}
: >"$log"
server_pid=
server_group=

# Microseconds since the epoch; SECONDS alone would make a bound of N seconds
# anything between N-1 and N.
now_us() { echo "${EPOCHREALTIME/[.,]/}"; }

# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    echo "run_with_server: killing server (pid $server_pid) on exit" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  # Anything the server left behind (say it is a wrapper script) goes too.
  if [[ -n $server_group ]]; then kill -KILL -- "-$server_group" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# In a session (and process group) of its own, so cleanup can reach all of it.
# setsid does not fork here (a background job is no group leader), so $! is
# the server itself.
setsid "$server" "${server_args[@]}" --listen=127.0.0.1:0 </dev/null >"$log" 2>&1 &
server_pid=$!
server_group=$server_pid

# --- wait for the listening line -------------------------------------------
port=
deadline=$(($(now_us) + start_timeout * 1000000))
while :; do
  line=$(grep -m1 -oE 'listening on [^ ]+:[0-9]+' "$log" || true)
  if [[ -n $line ]]; then
    port=${line##*:}
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    status=0
    wait "$server_pid" || status=$?
    server_pid=
    dump_log
    die "server exited with status $status before printing 'listening on HOST:PORT'"
  fi
  if (($(now_us) >= deadline)); then
    dump_log
    die "server printed no 'listening on HOST:PORT' line within ${start_timeout}s"
  fi
  sleep 0.05
done
[[ $port =~ ^[1-9][0-9]*$ ]] || { dump_log; die "server reported an unusable port '$port'"; }

export SERVER_PORT=$port
export SERVER_ADDRESS=127.0.0.1:$port
export SERVER_PID=$server_pid
export SERVER_LOG=$log

# --- run the command ---------------------------------------------------------
substituted=()
for arg in "${command[@]}"; do
  substituted+=("${arg//"{PORT}"/$port}")
done
command_status=0
"${substituted[@]}" || command_status=$?
if ((command_status != 0)); then
  echo "run_with_server: command exited with status $command_status: ${substituted[*]}" >&2
fi

# --- stop the server and require a clean exit -------------------------------
if ! kill -0 "$server_pid" 2>/dev/null; then
  status=0
  wait "$server_pid" || status=$?
  server_pid=
  dump_log
  echo "run_with_server: FAIL: server died during the command (exit status $status)" >&2
  exit 91
fi
kill "-$stop_signal" "$server_pid"
deadline=$(($(now_us) + stop_timeout * 1000000))
while kill -0 "$server_pid" 2>/dev/null; do
  if (($(now_us) >= deadline)); then
    dump_log
    echo "run_with_server: FAIL: server still running ${stop_timeout}s after SIG$stop_signal" >&2
    exit 91   # the EXIT trap kills it
  fi
  sleep 0.05
done
status=0
wait "$server_pid" || status=$?
server_pid=
if ((status != 0)); then
  dump_log
  echo "run_with_server: FAIL: server exited with status $status after SIG$stop_signal (expected 0)" >&2
  exit 91
fi
exit "$command_status"
