#!/usr/bin/env bash
# End-to-end test of the scaled deployment (docker-compose.scale.yml) against
# a real Docker engine: PostgreSQL, three inventory replicas sharing it, the
# product service balancing over them; one replica killed while orders are
# placed, then PostgreSQL stopped and started; the stock PostgreSQL holds
# must be what the acknowledged orders say.
#
#   compose_scale_test.sh --protoc PATH [--health-probe PATH]
#
#   --protoc        protoc, for product_check.py's Python stubs
#   --health-probe  the host-built tools/health_probe (TLS health of the
#                   product service's published port); optional
#
# Steps: ensure_docker.sh and ensure_base_image.sh (as compose_e2e_test.sh);
# `config -q`; `build` (the inventory image under compose_e2e's name,
# grpc-inventory-e2e:latest, so a run after compose_e2e is all cache hits;
# the PostgreSQL image from deploy/postgres); `up -d --scale inventory=3`
# until PostgreSQL, the three replicas and the product service are healthy.
# Then:
#   - neither PostgreSQL nor a replica publishes a host port;
#   - every replica is connected to PostgreSQL, over TLS (pg_stat_ssl);
#     PostgreSQL refuses a plaintext login, a TLS login without a client
#     certificate and one with another certificate (the admin's) from the
#     host, through the container's address (host psql, if installed);
#   - SetStock product123=1000 through one replica (its container address,
#     admin mTLS), and every replica's copy says 1000 (LISTEN/NOTIFY);
#   - 60 orders (1 to 3 units each) through the product service's published
#     port, one every 100 ms; once 15 are acknowledged, each replica must
#     have served ReserveStock (round_robin; their metrics), and one replica
#     is killed (docker kill, SIGKILL); an order answered UNAVAILABLE or
#     DEADLINE_EXCEEDED is retried with the same order id. Every order must
#     be acknowledged, at least 20 of them after the kill;
#   - in PostgreSQL (psql inside its container): stock = 1000 - the
#     acknowledged units, and the order records are exactly the acknowledged
#     orders with their quantities; the surviving replicas' copies and the
#     product service's GetProduct say the same;
#   - PostgreSQL stopped: PlaceOrder is UNAVAILABLE; started again: the same
#     order id and new orders succeed without restarting any replica, and
#     the stock still adds up;
#   - `stop`: every running container exits 0; `down -v`: no container or
#     volume of the project is left.
# Always `down -v` on the way out.
#
# Exit status: 0 passed; 77 SKIPPED (no Docker engine can run here); else
# failed.
#
# Environment (all optional):
#   COMPOSE_SCALE_PROJECT  compose project name (default grpc-inventory-scale-PID)
#   INVENTORY_IMAGE        inventory image (default grpc-inventory-e2e:latest)
#   POSTGRES_IMAGE         PostgreSQL image (default grpc-inventory-e2e-postgres:latest)
#   PRODUCT_PORT, PRODUCT_METRICS_PORT  published host ports (default: free ports)
#   BUILD_JOBS             compile jobs inside the image build (default: all CPUs)
#   COMPOSE                compose command (default docker-compose, else "docker compose")
#   COMPOSE_SCALE_KEEP=1   leave the project running and the engine up (debugging)
#   ENSURE_DOCKER_*        see ensure_docker.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test_name=compose_scale
# shellcheck source=test/compose/compose_lib.sh
. "$here/compose_lib.sh"
repo=$(cd "$here/../.." && pwd)
python=/usr/bin/python3
grpc_python_plugin=${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}

health_probe=
protoc=protoc
while (($# > 0)); do
  case $1 in
    --health-probe) health_probe=$2; shift 2 ;;
    --protoc) protoc=$2; shift 2 ;;
    *) echo "usage: $0 --protoc PATH [--health-probe PATH]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/compose_scale.XXXXXX")
docker_state=$work/docker
project=${COMPOSE_SCALE_PROJECT:-grpc-inventory-scale-$$}
brought_up=0
orders_pid=

unset http_proxy https_proxy grpc_proxy HTTP_PROXY HTTPS_PROXY

compose_files=(-f "$repo/docker-compose.scale.yml")
compose() { "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }

cleanup() {
  local status=$?
  set +e
  [[ -n $orders_pid ]] && kill "$orders_pid" 2>/dev/null
  if ((brought_up)); then
    if ((status != 0 || failures > 0)); then
      echo "----- compose ps -----" >&2
      compose ps >&2 2>&1
      echo "----- compose logs (last 40 lines per container) -----" >&2
      compose logs --no-color --tail=40 >&2 2>&1
    fi
    compose_down_or_keep COMPOSE_SCALE_KEEP
  fi
  stop_docker_engine COMPOSE_SCALE_KEEP "$docker_state" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- an engine, packages and the base image ---
phase "1. Docker engine"
start_docker_engine "$docker_state" "$work"
bash "$here/ensure_base_image.sh" debian:bookworm-slim

# --- configuration, build ---
phase "2. config and build"
read -r p1 p2 <<<"$("$python" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')"
export PRODUCT_PORT=${PRODUCT_PORT:-$p1}
export PRODUCT_METRICS_PORT=${PRODUCT_METRICS_PORT:-$p2}
unset BIND_ADDRESS METRICS_BIND_ADDRESS
export INVENTORY_IMAGE=${INVENTORY_IMAGE:-grpc-inventory-e2e:latest}
export POSTGRES_IMAGE=${POSTGRES_IMAGE:-grpc-inventory-e2e-postgres:latest}
echo "compose_scale: project $project, images $INVENTORY_IMAGE and $POSTGRES_IMAGE," \
  "product port $PRODUCT_PORT"
if compose config -q; then
  pass "compose config -q accepts docker-compose.scale.yml"
else
  fail "compose config -q rejects docker-compose.scale.yml"
  exit 1
fi
t_build=$(now)
build_args=()
[[ -n ${BUILD_JOBS:-} ]] && build_args=(--build-arg "BUILD_JOBS=$BUILD_JOBS")
# certs, inventory and product run one image: building it once, for
# inventory, is enough.
if ! timeout "${COMPOSE_SCALE_BUILD_TIMEOUT:-2400}" "${compose_cmd[@]}" -p "$project" \
  "${compose_files[@]}" build "${build_args[@]}" inventory postgres >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log" >&2
  fail "image build failed (last lines above)"
  exit 1
fi
pass "images built in $(elapsed "$t_build"): PostgreSQL $(docker run --rm --entrypoint "" \
  "$POSTGRES_IMAGE" postgres --version 2>&1)"

# --- up ---
phase "3. up --scale inventory=3"
t_up=$(now)
brought_up=1
if ! compose up -d --scale inventory=3 >"$work/up.log" 2>&1; then
  cat "$work/up.log" >&2
  fail "compose up -d --scale inventory=3 failed"
  exit 1
fi
wait_healthy() {  # CONTAINER_ID LIMIT_SECONDS
  local status waited=0
  while :; do
    status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1")
    [[ $status == healthy ]] && return 0
    if [[ $status == unhealthy || $status == none ]] || ((waited >= $2)); then
      echo "compose_scale: container $1 is '$status' after ${waited}s" >&2
      docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}' "$1" >&2 || true
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}
pg_id=$(compose ps -q postgres)
mapfile -t replicas < <(compose ps -q inventory)
product_id=$(compose ps -q product)
if ((${#replicas[@]} != 3)); then
  fail "expected 3 inventory containers, found ${#replicas[@]}"
  exit 1
fi
for id in "$pg_id" "${replicas[@]}" "$product_id"; do
  name=$(docker inspect -f '{{.Name}}' "$id")
  if wait_healthy "$id" 120; then
    pass "${name#/} is healthy ($(elapsed "$t_up") after up)"
  else
    fail "${name#/} did not become healthy"
    exit 1
  fi
done

# --- what is exposed ---
phase "4. exposure, TLS to PostgreSQL"
host_ports() { docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{.HostPort}} {{end}}{{end}}' "$1"; }
exposed=
for id in "$pg_id" "${replicas[@]}"; do exposed+=$(host_ports "$id"); done
if [[ -z ${exposed// /} ]]; then
  pass "PostgreSQL and the three replicas publish no host port"
else
  fail "host ports published by PostgreSQL or a replica: $exposed"
fi
address() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
pg_ip=$(address "$pg_id")
replica_ips=()
for id in "${replicas[@]}"; do replica_ips+=("$(address "$id")"); done
echo "compose_scale: PostgreSQL at $pg_ip, replicas at ${replica_ips[*]}"

# SQL inside the PostgreSQL container, as its postgres user (peer, unix socket).
pg_sql() { docker exec "$pg_id" psql -X -A -t -q -d inventory -c "$1"; }
tls_sessions=$(pg_sql "SELECT count(DISTINCT a.client_addr) || ' ' || CASE WHEN bool_and(s.ssl) THEN 'tls' ELSE 'plain' END
  FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'inventory_server'" 2>&1) || true
if [[ $tls_sessions == "3 tls" ]]; then
  pass "all three replicas are connected to PostgreSQL, every session over TLS"
else
  fail "replica sessions in PostgreSQL (distinct addresses, all TLS): '$tls_sessions', expected '3 tls'"
fi

tls=$work/tls
mkdir "$tls"
certs_id=$(docker ps -a -q --filter "label=com.docker.compose.project=$project" \
  --filter label=com.docker.compose.service=certs --filter label=com.docker.compose.oneoff=False)
docker cp "$certs_id:/certs/admin" "$tls/admin"

if command -v psql >/dev/null; then
  pg_refused() {  # NAME CONNINFO: the login must fail
    local out
    if out=$(PGCONNECT_TIMEOUT=5 psql -X -A -t -c 'SELECT 1' "$2" 2>&1); then
      fail "PostgreSQL let in $1: $out"
    else
      pass "PostgreSQL refuses $1: $(tail -n1 <<<"$out" | sed 's/.*FATAL: *//' | cut -c1-120)"
    fi
  }
  base="host=postgres hostaddr=$pg_ip port=5432 dbname=inventory user=inventory"
  pg_refused "a plaintext login" "$base sslmode=disable"
  pg_refused "a TLS login without a client certificate" \
    "$base sslmode=verify-full sslrootcert=$tls/admin/ca.crt"
  pg_refused "a login with the admin's certificate (CN admin) as inventory" \
    "$base sslmode=verify-full sslrootcert=$tls/admin/ca.crt sslcert=$tls/admin/client.crt sslkey=$tls/admin/client.key"
else
  echo "compose_scale: no psql on the host: PostgreSQL's refusals not checked from outside"
fi

# --- through the replicas and the product service ---
phase "5. SetStock through one replica, every copy follows"
mkdir "$work/stubs"
"$protoc" -I "$repo/proto" --python_out="$work/stubs" --grpc_out="$work/stubs" \
  --plugin=protoc-gen-grpc="$grpc_python_plugin" "$repo/proto/inventory.proto" \
  "$repo/proto/product.proto"
check_py() {
  PYTHONPATH=$work/stubs PYTHONNOUSERSITE=1 timeout "${CHECK_TIMEOUT:-60}" "$python" \
    "$here/product_check.py" "$@"
}
admin_py=(--tls_ca="$tls/admin/ca.crt" --tls_cert="$tls/admin/client.crt"
  --tls_key="$tls/admin/client.key" --tls_server_name=inventory)
product_check() {
  check_py --tls_ca="$tls/admin/ca.crt" --tls_server_name=product "127.0.0.1:$PRODUCT_PORT" "$@"
}
# retry LIMIT_SECONDS COMMAND...: until COMMAND succeeds; its last output on failure.
retry() {
  local limit=$1 waited=0
  shift
  until "$@" >"$work/retry.out" 2>&1; do
    if ((waited >= limit)); then
      cat "$work/retry.out" >&2
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}
replica_says() {  # IP QUANTITY: that replica's copy of product123
  [[ $(check_py "${admin_py[@]}" "$1:50051" availability product123) == \
    "Product product123 is available. Quantity: $2" ]]
}
if out=$(check_py "${admin_py[@]}" "${replica_ips[0]}:50051" set_stock product123 1000 2>&1); then
  pass "through replica 1 (${replica_ips[0]}): $out"
else
  fail "SetStock through replica 1: $out"
  exit 1
fi
for i in 0 1 2; do
  if retry 15 replica_says "${replica_ips[i]}" 1000; then
    pass "replica $((i + 1)) (${replica_ips[i]}) says product123: 1000"
  else
    fail "replica $((i + 1)) (${replica_ips[i]}) does not say 1000"
  fi
done
if ! retry 30 product_check get product123 1000; then
  fail "the product service does not see product123 at 1000"
  exit 1
fi

phase "6. orders, one replica killed mid-run"
orders=60
product_check orders scale product123 "$orders" 0.1 30 >"$work/orders.out" 2>&1 &
orders_pid=$!
acks() { grep -c '^ACK ' "$work/orders.out" || true; }
waited=0
while (($(acks) < 15)) && kill -0 "$orders_pid" 2>/dev/null && ((waited < 600)); do
  sleep 0.1
  waited=$((waited + 1))
done
served=$("$python" - "${replica_ips[@]}" <<'EOF'
import re, sys, urllib.request
counts = []
for ip in sys.argv[1:]:
    body = urllib.request.urlopen(f"http://{ip}:9464/metrics", timeout=5).read().decode()
    counts.append(sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                      if line.startswith("grpc_server_handled_total{")
                      and 'grpc_method="ReserveStock"' in line and 'grpc_code="OK"' in line))
print(" ".join(str(int(c)) for c in counts))
EOF
) || served="(metrics failed)"
victim=${replicas[1]}
victim_name=$(docker inspect -f '{{.Name}}' "$victim")
acked_before_kill=$(acks)
t_kill=$(date +%s.%N)
docker kill "$victim" >/dev/null
echo "compose_scale: killed ${victim_name#/} (${replica_ips[1]}) after $acked_before_kill acknowledged orders"
read -r -a served_counts <<<"$served"
if ((${#served_counts[@]} == 3)) && ((served_counts[0] > 0 && served_counts[1] > 0 && served_counts[2] > 0)); then
  pass "before the kill every replica had served ReserveStock (OK per replica: $served)"
else
  fail "ReserveStock OK per replica before the kill: $served (round_robin should spread them)"
fi
orders_status=0
wait "$orders_pid" || orders_status=$?
orders_pid=
acked=$(acks)
units=$(awk '/^ACK /{s += $3} END {print s + 0}' "$work/orders.out")
after_kill=$(awk -v t="$t_kill" '/^ACK / && $5 > t {n++} END {print n + 0}' "$work/orders.out")
retried=$(awk '/^ACK / && $4 > 1 {printf "%s(%s) ", $2, $6}' "$work/orders.out")
if ((orders_status == 0 && acked == orders)); then
  pass "all $orders orders acknowledged through the product service ($units units), $after_kill" \
    "of them after the kill; placed again after a failure: ${retried:-none}"
else
  tail -n 5 "$work/orders.out" >&2
  fail "orders: $acked of $orders acknowledged (exit status $orders_status)"
fi
if ((after_kill >= 20)); then
  pass "orders kept succeeding with one replica dead ($after_kill after the kill)"
else
  fail "only $after_kill orders were acknowledged after the kill"
fi

phase "7. PostgreSQL holds what the acknowledged orders say"
check_stock() {  # NAME UNITS ORDER_COUNT
  local want=$((1000 - $2)) got
  got=$(pg_sql "SELECT (SELECT quantity FROM inventory_stock WHERE product_id = 'product123')
    || ' ' || (SELECT count(*) FROM inventory_orders WHERE order_id LIKE 'scale-%')
    || ' ' || (SELECT coalesce(sum(quantity), 0) FROM inventory_order_lines WHERE order_id LIKE 'scale-%')" 2>&1) || true
  if [[ $got == "$want $3 $2" ]]; then
    pass "$1: PostgreSQL says product123 = $want (1000 - $2 acknowledged units), $3 order records for $2 units"
  else
    fail "$1: PostgreSQL says '$got' (stock, orders, units), expected '$want $3 $2'"
  fi
}
check_stock "after the kill" "$units" "$acked"
for i in 0 2; do
  if retry 15 replica_says "${replica_ips[i]}" $((1000 - units)); then
    pass "surviving replica $((i + 1)) says product123: $((1000 - units))"
  else
    fail "surviving replica $((i + 1)): $(cat "$work/retry.out"), expected $((1000 - units))"
  fi
done
if retry 15 product_check get product123 $((1000 - units)); then
  pass "product: $(cat "$work/retry.out")"
else
  fail "product GetProduct does not say $((1000 - units))"
fi
echo "compose_scale: the killed replica is now: $(docker inspect -f \
  '{{.State.Status}}, restarts {{.RestartCount}}' "$victim")"

phase "8. PostgreSQL down and back"
survivors=("${replicas[0]}" "${replicas[2]}")
started_before=$(docker inspect -f '{{.State.StartedAt}}' "${survivors[@]}")
t_pg=$(now)
compose stop postgres >/dev/null 2>&1 || true
pg_exit=$(docker inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$pg_id")
if [[ $pg_exit == "false 0" ]]; then
  pass "PostgreSQL stopped (fast shutdown), exit status 0 in $(elapsed "$t_pg")"
else
  fail "PostgreSQL stop: running, exit status = '$pg_exit'"
fi
if out=$(product_check order_code scale-pgdown product123 1 UNAVAILABLE 2>&1); then
  pass "with PostgreSQL down: $out"
else
  fail "with PostgreSQL down: $out"
fi
t_pg=$(now)
compose start postgres >/dev/null 2>&1 || true
if wait_healthy "$pg_id" 60; then
  pass "PostgreSQL healthy again in $(elapsed "$t_pg")"
else
  fail "PostgreSQL did not come back"
fi
if retry 30 product_check order scale-pgdown product123 1 1999; then
  pass "the order that was UNAVAILABLE, placed again with its id: $(cat "$work/retry.out")"
else
  fail "scale-pgdown placed again after PostgreSQL came back failed"
fi
if out=$(product_check orders scale-after product123 6 0 30 2>&1) &&
  [[ $(grep -c '^ACK ' <<<"$out") == 6 ]]; then
  pass "6 more orders after PostgreSQL came back"
else
  fail "orders after PostgreSQL came back: $out"
fi
units=$((units + 1 + $(awk '/^ACK /{s += $3} END {print s + 0}' <<<"$out")))
check_stock "after PostgreSQL's restart" "$units" $((acked + 1 + 6))
if [[ $(docker inspect -f '{{.State.StartedAt}}' "${survivors[@]}") == "$started_before" ]]; then
  pass "no replica was restarted: they reconnected by themselves"
else
  fail "a surviving replica was restarted during PostgreSQL's outage"
fi
if [[ -n $health_probe ]]; then
  if out=$("$health_probe" --addr="127.0.0.1:$PRODUCT_PORT" --timeout=3s --tls \
    --tls_ca_cert="$tls/admin/ca.crt" --tls_server_name=product 2>&1); then
    pass "product health over TLS: $out"
  else
    fail "product health over TLS: $out"
  fi
fi

# --- stop and tear down ---
phase "9. stop and down -v"
running=$(docker ps -q --filter "label=com.docker.compose.project=$project")
compose stop >/dev/null 2>&1 || true
codes=$(for id in $running; do docker inspect -f '{{.Name}}={{.State.ExitCode}}' "$id"; done)
if ! grep -qv '=0$' <<<"$codes"; then
  pass "stop: every running container exited 0 ($(wc -l <<<"$codes") containers)"
else
  fail "stop: exit statuses $(paste -sd' ' <<<"$codes") (137: killed after the grace period)"
fi
compose down -v --remove-orphans >/dev/null 2>&1
brought_up=0
left=$(docker ps -a -q --filter "label=com.docker.compose.project=$project"
  docker volume ls -q --filter "label=com.docker.compose.project=$project")
if [[ -z $left ]]; then
  pass "down -v left no container and no volume of the project"
else
  fail "down -v left: $left"
fi

phase "done"
if ((failures > 0)); then
  echo "compose_scale: $failures check(s) failed" >&2
  exit 1
fi
echo "compose_scale: all checks passed in $(elapsed "$t_start")"
