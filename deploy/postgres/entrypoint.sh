#!/bin/bash
# The PostgreSQL container of docker-compose.scale.yml: makes the cluster at
# the first start, then runs postgres in the foreground with the arguments
# it was given (the compose file's `command:`: TLS, pg_hba.conf, addresses).
#
# First start (no $PGDATA/PG_VERSION): initdb into a temporary directory
# beside $PGDATA (UTF-8, C locale, data checksums, no trust anywhere), the
# role `inventory` (LOGIN, no password: it logs in with its client
# certificate, pg_hba.conf) and the database `inventory` it owns, made by a
# server started for this only on a private unix socket (no TCP); then the
# directory is renamed to $PGDATA, so an interrupted first start leaves no
# half-made cluster behind. The inventory replicas create their schema
# themselves (inventory_server --postgres migrates at start).
#
# Runs as the image's user postgres (uid 999); the data volume is mounted
# at /var/lib/postgresql/data and PGDATA is a directory inside it.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data/pgdata}"
log() { echo "inventory-postgres: $*" >&2; }

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  [[ ! -e $PGDATA ]] || [[ -z $(ls -A "$PGDATA") ]] ||
    { log "$PGDATA is not empty but holds no cluster (no PG_VERSION): not touching it"; exit 1; }
  staging=$PGDATA.init
  rm -rf "$staging"
  log "no cluster in $PGDATA: initializing"
  initdb --pgdata="$staging" --username=postgres --encoding=UTF8 --no-locale --data-checksums \
    --auth-local=peer --auth-host=reject >/dev/null
  socket=$(mktemp -d)
  pg_ctl --pgdata="$staging" --wait --timeout=60 --log="$socket/init.log" \
    --options="-c listen_addresses='' -c unix_socket_directories='$socket'" start >/dev/null ||
    { cat "$socket/init.log" >&2; exit 1; }
  psql --host="$socket" --username=postgres --dbname=postgres --quiet --no-psqlrc \
    --set=ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE inventory LOGIN;
CREATE DATABASE inventory OWNER inventory;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;
SQL
  pg_ctl --pgdata="$staging" --wait --mode=fast stop >/dev/null
  rm -rf "$socket"
  if [[ -e $PGDATA ]]; then rmdir "$PGDATA"; fi
  mv "$staging" "$PGDATA"
  log "cluster made: role and database 'inventory'"
fi

# exec: postgres is the process docker-init signals (SIGINT: fast shutdown).
exec postgres -D "$PGDATA" "$@"
