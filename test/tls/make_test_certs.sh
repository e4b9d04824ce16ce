#!/usr/bin/env bash
# Makes the certificates the TLS tests use, with Debian's openssl, in OUTDIR:
#
#   make_test_certs.sh OUTDIR
#
#   ca.pem/ca.key                 CA "Test CA A"
#   server.pem/server.key         issued by A; SAN DNS:localhost, DNS:inventory,
#                                 IP:127.0.0.1 (serverAuth)
#   client.pem/client.key         issued by A; SAN DNS:product-server (clientAuth)
#   admin.pem/admin.key           issued by A; SAN DNS:admin.example (clientAuth)
#   shop.pem/shop.key             issued by A; SAN DNS:shop.example (clientAuth)
#   other-ca.pem/other-ca.key     CA "Test CA B", unrelated to A
#   other-client.pem/.key         issued by B; SAN DNS:product-server
#   rotated-ca.pem/rotated-ca.key CA "Test CA C"
#   rotated-server.pem/.key       issued by C; same SANs as server.pem, its own
#                                 serial and key
#
# Every key is EC P-256 (fast to make), every certificate valid for 2 days.
# Nothing is reused between runs: each call makes new keys.
set -euo pipefail
(($# == 1)) || { echo "usage: make_test_certs.sh OUTDIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
cd "$out"

ca() {  # NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$1.key" -out "$1.pem" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() {  # NAME CA CN SERIAL EXTENDED_KEY_USAGE SAN
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$5" "$6" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$4" -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

server_san="DNS:localhost,DNS:inventory,IP:127.0.0.1"
ca ca "Test CA A"
ca other-ca "Test CA B"
ca rotated-ca "Test CA C"
leaf server ca localhost 1001 serverAuth "$server_san"
leaf client ca product-server 1002 clientAuth "DNS:product-server"
leaf admin ca admin 1003 clientAuth "DNS:admin.example"
leaf shop ca shop 1004 clientAuth "DNS:shop.example"
leaf other-client other-ca product-server 2001 clientAuth "DNS:product-server"
leaf rotated-server rotated-ca localhost 3001 serverAuth "$server_san"
chmod 600 ./*.key
openssl verify -CAfile ca.pem server.pem client.pem admin.pem shop.pem >/dev/null
openssl verify -CAfile other-ca.pem other-client.pem >/dev/null
openssl verify -CAfile rotated-ca.pem rotated-server.pem >/dev/null
