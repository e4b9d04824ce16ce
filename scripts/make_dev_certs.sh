#!/usr/bin/env bash
# make_dev_certs: a development CA and the certificates docker-compose.yml
# runs with, made with OpenSSL. The `certs` service runs it (as root, no
# network) before the servers start; docs/deployment.md explains the files.
#
#   make_dev_certs [init]   make whatever is missing; if everything exists,
#                           do nothing (the default, run at every `up`)
#   make_dev_certs renew    new keys and certificates for every leaf, issued
#                           by the existing CA (rotation; the servers re-read
#                           their files every --tls_refresh_interval)
#
# Layout under $CERTS_DIR (default /certs), one directory per named volume,
# so each container mounts only what it needs:
#   ca/ca.key, ca/ca.crt          the CA (ca.key: root only, never mounted
#                                 into a server)
#   inventory/server.{crt,key}    InventoryService, SAN DNS:inventory
#   inventory/client.{crt,key}    the inventory's own health check (mTLS),
#                                 SAN DNS:inventory-health; no rights
#   product/server.{crt,key}      ProductService, SAN DNS:product
#   product/client.{crt,key}      the ProductService's calls to the inventory,
#                                 SAN DNS:product
#   admin/client.{crt,key}        operators calling SetStock, SAN DNS:admin
#   */ca.crt                      a copy of the CA certificate in each
# Only when postgres/ exists (docker-compose.scale.yml mounts a volume there):
#   postgres/server.{crt,key}     PostgreSQL, SAN DNS:postgres
#   inventory/postgres-client.{crt,key}
#                                 the inventory replicas' login to PostgreSQL
#                                 (`cert` authentication: CN inventory, the
#                                 database role; SAN DNS:inventory)
# Keys of the servers' directories belong to $SERVER_UID (the image's user,
# 10001) with mode 0400; PostgreSQL's to $POSTGRES_UID (999, the postgres
# user of deploy/postgres/Dockerfile); the admin key and the CA key belong to
# root.
#
# To use your own CA, put its ca.crt and ca.key in ca/ before the first run:
# the leaves are then issued by it. Files that exist are never overwritten
# by `init`; put your own leaf files in place and it leaves them alone.
#
# Environment: CERTS_DIR (/certs), SERVER_UID and SERVER_GID (10001),
# POSTGRES_UID and POSTGRES_GID (999), CA_DAYS (3650), LEAF_DAYS (825).
set -euo pipefail

dir=${CERTS_DIR:-/certs}
server_uid=${SERVER_UID:-10001}
server_gid=${SERVER_GID:-10001}
postgres_uid=${POSTGRES_UID:-999}
postgres_gid=${POSTGRES_GID:-999}
ca_days=${CA_DAYS:-3650}
leaf_days=${LEAF_DAYS:-825}
mode=${1:-init}

log() { echo "make_dev_certs: $*" >&2; }
die() {
  log "$*"
  exit 1
}
case $mode in
  init | renew) ;;
  *) die "usage: make_dev_certs [init|renew]" ;;
esac
command -v openssl >/dev/null || die "openssl is not installed"
[[ $(id -u) == 0 ]] || die "must run as root (it sets the keys' owners)"
for sub in ca inventory product admin; do
  [[ -d $dir/$sub ]] || die "$dir/$sub is missing (a volume per directory; see docker-compose.yml)"
done
# PostgreSQL's certificates only for the scaled deployment.
with_postgres=0
[[ -d $dir/postgres ]] && with_postgres=1
umask 077

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# install_file SRC DEST OWNER MODE: DEST replaced in one rename, so a server
# re-reading its files never sees half of one.
install_file() {
  local src=$1 dest=$2 owner=$3 mode=$4
  cp "$src" "$dest.new"
  chown "$owner" "$dest.new"
  chmod "$mode" "$dest.new"
  mv -f "$dest.new" "$dest"
}

# The CA: made only if ca.crt is missing (with ca.key missing too; one
# without the other is a mistake to fix by hand).
if [[ ! -e $dir/ca/ca.crt && ! -e $dir/ca/ca.key ]]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days "$ca_days" -sha256 \
    -subj "/CN=grpc-inventory development CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$tmp/openssl.err" ||
    die "making the CA failed: $(cat "$tmp/openssl.err")"
  install_file "$tmp/ca.key" "$dir/ca/ca.key" 0:0 0600
  install_file "$tmp/ca.crt" "$dir/ca/ca.crt" 0:0 0644
  new_ca=1
  log "made a new CA: $(openssl x509 -in "$dir/ca/ca.crt" -noout -subject -enddate | paste -sd' ')"
else
  [[ -s $dir/ca/ca.crt ]] || die "$dir/ca/ca.crt is missing or empty, but ca.key exists"
  new_ca=0
fi

# leaf SUBDIR NAME SAN USAGE OWNER: SUBDIR/NAME.{crt,key} for SAN (DNS name),
# extendedKeyUsage USAGE (serverAuth or clientAuth), key owned by OWNER.
made=0
leaf() {
  local sub=$1 name=$2 san=$3 usage=$4 owner=$5
  local crt=$dir/$sub/$name.crt key=$dir/$sub/$name.key
  if [[ $mode == init && $new_ca == 0 && -e $crt && -e $key ]]; then
    return 0
  fi
  [[ -s $dir/ca/ca.key ]] ||
    die "$crt must be issued, but the CA key $dir/ca/ca.key is missing (an external CA signs it)"
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=$usage" \
    "subjectAltName=DNS:$san" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid" >"$tmp/ext.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/leaf.key" -out "$tmp/leaf.csr" -subj "/CN=$san" 2>"$tmp/openssl.err" ||
    die "key for $crt failed: $(cat "$tmp/openssl.err")"
  openssl x509 -req -in "$tmp/leaf.csr" -CA "$dir/ca/ca.crt" -CAkey "$dir/ca/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$leaf_days" -sha256 \
    -extfile "$tmp/ext.cnf" -out "$tmp/leaf.crt" 2>"$tmp/openssl.err" ||
    die "signing $crt failed: $(cat "$tmp/openssl.err")"
  # The key first: for a moment the old certificate sits next to the new
  # key, which the servers' loaders refuse (they keep the last good pair).
  install_file "$tmp/leaf.key" "$key" "$owner" 0400
  install_file "$tmp/leaf.crt" "$crt" "$owner" 0444
  made=$((made + 1))
  log "issued $crt: DNS:$san, $usage, until $(openssl x509 -in "$crt" -noout -enddate | cut -d= -f2)"
}

server=$server_uid:$server_gid
leaf inventory server inventory serverAuth "$server"
leaf inventory client inventory-health clientAuth "$server"
leaf product server product serverAuth "$server"
leaf product client product clientAuth "$server"
leaf admin client admin clientAuth 0:0
leaves=(inventory/server inventory/client product/server product/client admin/client)
subs=(inventory product admin)
if ((with_postgres)); then
  leaf postgres server postgres serverAuth "$postgres_uid:$postgres_gid"
  leaf inventory postgres-client inventory clientAuth "$server"
  leaves+=(postgres/server inventory/postgres-client)
  subs+=(postgres)
fi

# What the servers will be handed must chain to the CA they are told to trust.
for crt in "${leaves[@]}"; do
  openssl verify -CAfile "$dir/ca/ca.crt" "$dir/$crt.crt" >/dev/null 2>"$tmp/openssl.err" ||
    die "$dir/$crt.crt does not verify against $dir/ca/ca.crt: $(cat "$tmp/openssl.err")"
done

# Every directory trusts the CA: copied whenever it differs.
for sub in "${subs[@]}"; do
  if ! cmp -s "$dir/ca/ca.crt" "$dir/$sub/ca.crt" 2>/dev/null; then
    install_file "$dir/ca/ca.crt" "$dir/$sub/ca.crt" 0:0 0444
  fi
done
if ((made == 0)); then
  log "all certificates present in $dir; nothing to do"
else
  log "$made certificate(s) issued in $dir"
fi
