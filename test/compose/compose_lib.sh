# shellcheck shell=bash disable=SC2034  # the variables are the sourcing script's
# Sourced by compose_e2e_test.sh and compose_scale_test.sh (after `set -euo
# pipefail`): what both tests do the same way. Set `test_name` (the name
# their messages start with) before sourcing.
#
#   SKIP                    77, the exit status ctest counts as skipped
#   now, elapsed START      microseconds since the epoch; seconds since START
#   t_start                 now() when sourced
#   pass MSG, fail MSG      "ok"/"FAIL" lines; fail counts into `failures`
#   phase MSG               a phase heading with the time so far
#   start_docker_engine STATE WORK
#                           a Docker engine answering on DOCKER_HOST (any that
#                           already answers, or one ensure_docker.sh starts
#                           with its state in STATE; its messages in
#                           WORK/ensure_docker.err), its environment loaded,
#                           and `compose_cmd` (the compose command: $COMPOSE,
#                           else docker-compose, else "docker compose").
#                           Exits SKIP when no engine can run here, 1 when
#                           ensure_docker.sh fails otherwise.

: "${test_name:?set test_name before sourcing compose_lib.sh}"
readonly SKIP=77
compose_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

now() { echo "${EPOCHREALTIME/[.,]/}"; }
elapsed() { echo "$((($(now) - $1) / 1000000))s"; }
t_start=$(now)

failures=0
pass() { echo "ok      $*"; }
fail() {
  echo "FAIL    $*" >&2
  failures=$((failures + 1))
}
phase() { echo "=== $* ($(elapsed "$t_start") so far)"; }

start_docker_engine() {
  local state=$1 work=$2 rc=0
  bash "$compose_lib_dir/ensure_docker.sh" start "$state" >/dev/null 2>"$work/ensure_docker.err" ||
    rc=$?
  cat "$work/ensure_docker.err" >&2
  if ((rc == SKIP)); then
    echo "$test_name: SKIPPED: no Docker engine here:" \
      "$(sed -n 's/^ensure_docker: SKIP: //p' "$work/ensure_docker.err" | tail -n1)"
    exit "$SKIP"
  elif ((rc != 0)); then
    echo "$test_name: FAIL: ensure_docker.sh exited with status $rc" >&2
    exit 1
  fi
  # shellcheck disable=SC1091  # written at run time
  . "$state/env"
  if [[ -n ${COMPOSE:-} ]]; then
    read -r -a compose_cmd <<<"$COMPOSE"
  elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
  else
    compose_cmd=(docker compose)
  fi
}

# For the test's EXIT trap, with KEEP_VAR the name of its "keep" variable
# (e.g. COMPOSE_E2E_KEEP): the value 1 keeps things for debugging.
#   compose_down_or_keep KEEP_VAR  takes the compose project down with its
#                                  volumes (the script's `compose` and
#                                  `project`), or says it was left running
#   stop_docker_engine KEEP_VAR STATE WORK
#                                  stops an engine start_docker_engine
#                                  started and removes WORK, or keeps both
#                                  (the engine's socket and exec-root live
#                                  in WORK) and says how to stop it
# shellcheck disable=SC2154  # project and compose: the sourcing script's
compose_down_or_keep() {
  if [[ ${!1:-0} == 1 ]]; then
    echo "$test_name: $1=1: project $project left running (DOCKER_HOST=${DOCKER_HOST:-})" >&2
  else
    compose down -v --remove-orphans >/dev/null 2>&1 ||
      echo "$test_name: 'down -v' failed for project $project" >&2
  fi
}
stop_docker_engine() {
  if [[ ${!1:-0} == 1 ]]; then
    echo "$test_name: $1=1: kept $3; stop a hand-started engine with:" \
      "bash $compose_lib_dir/ensure_docker.sh stop $2" >&2
  else
    bash "$compose_lib_dir/ensure_docker.sh" stop "$2"
    rm -rf "$3"
  fi
}
