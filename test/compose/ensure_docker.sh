#!/usr/bin/env bash
# Makes a Docker engine and Compose available, for the compose test on CI
# machines that have root and Debian's mirror but no running engine and no
# systemd.
#
#   ensure_docker.sh start STATE_DIR   engine up; writes STATE_DIR/env
#   ensure_docker.sh stop STATE_DIR    stops the engine `start` launched, if any
#
# start:
#   1. Installs Debian's docker.io, docker-compose and debootstrap if missing.
#   2. If an engine already answers (DOCKER_HOST, or the default socket), uses
#      it and starts nothing.
#   3. Otherwise starts dockerd by hand, with its unix socket, --exec-root and
#      --pidfile under STATE_DIR and its log in STATE_DIR/dockerd.log. Its
#      --data-root (images, build cache) is kept between runs in
#      $ENSURE_DOCKER_DATA_ROOT (default /var/tmp/grpc-inventory-docker), so a
#      second run reuses the base image and build layers. One hand-started
#      engine at a time per machine (they would share the docker0 bridge and
#      the iptables chains): a second run waits for the first engine to stop,
#      up to $ENSURE_DOCKER_LOCK_WAIT seconds (default 1800).
#   Then writes STATE_DIR/env, to be sourced by the caller:
#     export DOCKER_HOST=unix://...    (the engine to use)
#     ENSURE_DOCKER_STARTED=1|0        (whether `stop` has something to stop)
#     ENSURE_DOCKER_PID=PID            (the hand-started dockerd)
#   and prints it on stdout.
#
# Exit status of start: 0 the engine answers; 77 (SKIP) no engine can be had
# here, the reason on stderr (no root for apt or dockerd, dockerd fails to
# start, another run's engine never freed the machine); 1 anything else.
#
# stop: sends SIGTERM to the recorded dockerd PID (SIGKILL after 30 s; then
# its containerd by PID too), and removes STATE_DIR. Safe to call when start
# failed or started nothing.
set -euo pipefail

readonly SKIP=77
readonly DATA_ROOT=${ENSURE_DOCKER_DATA_ROOT:-/var/tmp/grpc-inventory-docker}
readonly LOCK_FILE=${ENSURE_DOCKER_LOCK_FILE:-/var/tmp/grpc-inventory-docker.lock}
readonly LOCK_WAIT=${ENSURE_DOCKER_LOCK_WAIT:-1800}
readonly START_WAIT=${ENSURE_DOCKER_START_WAIT:-60}

log() { echo "ensure_docker: $*" >&2; }
skip() {
  log "SKIP: $*"
  exit "$SKIP"
}
usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 1
}

# engine_answers [DOCKER_HOST]: true if a Docker engine answers there
# (bounded: a stale socket must not hang us).
engine_answers() {
  if [[ -n ${1:-} ]]; then
    DOCKER_HOST=$1 timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}

install_packages() {
  local packages=(docker.io docker-compose debootstrap) missing=() package
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  ((${#missing[@]} > 0)) || return 0
  local sudo_cmd=()
  if [[ $(id -u) != 0 ]]; then
    if sudo -n true 2>/dev/null; then
      sudo_cmd=(sudo -n)
    else
      skip "packages ${missing[*]} are missing, and installing them needs root (or password-less sudo)"
    fi
  fi
  log "installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq ||
    skip "apt-get update failed; cannot install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || skip "apt-get install ${missing[*]} failed"
}

write_env() {
  local state=$1 host=$2 started=$3 pid=$4
  {
    [[ -n $host ]] && echo "export DOCKER_HOST=$host"
    echo "ENSURE_DOCKER_STARTED=$started"
    echo "ENSURE_DOCKER_PID=$pid"
  } >"$state/env"
  cat "$state/env"
}

start() {
  local state=$1
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  : >"$state/env"

  install_packages
  command -v docker >/dev/null || skip "no docker client on PATH after installing docker.io"
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
    skip "neither docker-compose nor 'docker compose' is available"

  if engine_answers "${DOCKER_HOST:-}"; then
    log "using the engine that already answers at ${DOCKER_HOST:-the default socket}"
    write_env "$state" "${DOCKER_HOST:-}" 0 ""
    return 0
  fi

  [[ $(id -u) == 0 ]] || skip "no Docker engine answers, and starting dockerd needs root"
  command -v dockerd >/dev/null || skip "dockerd is not installed"

  # A unix socket path must fit in sun_path (108 bytes).
  local socket=$state/docker.sock
  ((${#socket} < 100)) || skip "state directory path too long for a unix socket: $socket"

  # The lock lives as long as the engine: dockerd inherits fd 9 and keeps it
  # open, so the next run proceeds once this engine is gone.
  exec 9>>"$LOCK_FILE"
  if ! flock -n 9; then
    log "another hand-started engine is running (lock $LOCK_FILE); waiting up to ${LOCK_WAIT}s"
    flock -w "$LOCK_WAIT" 9 ||
      skip "another hand-started Docker engine kept $LOCK_FILE for ${LOCK_WAIT}s"
  fi

  mkdir -p "$DATA_ROOT" "$state/exec"
  log "starting dockerd (socket $socket, data-root $DATA_ROOT, log $state/dockerd.log)"
  # setsid: the engine survives its caller's process group (the caller stops
  # it by PID); stdin from /dev/null so it holds no terminal.
  setsid dockerd \
    --host "unix://$socket" \
    --data-root "$DATA_ROOT" \
    --exec-root "$state/exec" \
    --pidfile "$state/dockerd.pid" \
    </dev/null >"$state/dockerd.log" 2>&1 &
  local pid=$!
  exec 9>&-
  echo "$pid" >"$state/launched.pid"

  local waited=0
  while ! engine_answers "unix://$socket"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "dockerd exited during start-up; the end of its log:"
      tail -n 15 "$state/dockerd.log" | sed 's/^/    /' >&2
      local reason
      reason=$(grep -m1 -E 'level=fatal|failed to start' "$state/dockerd.log" |
        sed -E 's/.*msg="([^"]*)".*/\1/') || true
      skip "dockerd could not start: ${reason:-see the end of its log above}"
    fi
    if ((waited >= START_WAIT)); then
      log "dockerd did not answer within ${START_WAIT}s; the end of its log:"
      tail -n 15 "$state/dockerd.log" | sed 's/^/    /' >&2
      stop_engine "$state"
      skip "dockerd started but did not answer on $socket within ${START_WAIT}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd (pid $pid) answers after ~${waited}s: $(DOCKER_HOST=unix://$socket docker version \
    --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}')"
  write_env "$state" "unix://$socket" 1 "$pid"
}

# stop_engine STATE_DIR: stops the dockerd launched into STATE_DIR, by PID.
stop_engine() {
  local state=$1 pid
  [[ -f $state/launched.pid ]] || return 0
  pid=$(cat "$state/launched.pid")
  # Only our dockerd: the PID must still be a dockerd using our exec-root.
  if [[ -n $pid ]] && grep -qa -- "$state/exec" "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd (pid $pid) still running 30s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # A killed dockerd leaves its containerd behind: find it by its config
  # path under our exec-root, and stop it by PID.
  local proc cmdline
  for proc in /proc/[0-9]*; do
    cmdline=$({ tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null) || continue
    if [[ $cmdline == containerd\ * && $cmdline == *"$state/exec/"* ]]; then
      log "stopping leftover containerd (pid ${proc#/proc/})"
      kill -TERM "${proc#/proc/}" 2>/dev/null || true
    fi
  done
  rm -f "$state/launched.pid"
}

stop() {
  local state=$1
  [[ -d $state ]] || return 0
  state=$(cd "$state" && pwd)
  stop_engine "$state"
  # Mounts dockerd may have left under its exec-root (network namespaces).
  local mount_point
  while read -r mount_point; do
    umount -l "$mount_point" 2>/dev/null || true
  done < <(awk -v prefix="$state/" 'index($2, prefix) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$state" 2>/dev/null || log "could not remove all of $state"
}

(($# == 2)) || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
