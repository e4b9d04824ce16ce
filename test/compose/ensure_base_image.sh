#!/usr/bin/env bash
# Makes the Dockerfile's base image, debian:bookworm-slim, exist in the engine
# at DOCKER_HOST, for machines that cannot reach Docker Hub but reach a
# Debian mirror.
#
#   ensure_base_image.sh [IMAGE]        (default debian:bookworm-slim)
#
# If IMAGE is present, nothing happens. Otherwise it is built with
#   debootstrap --variant=minbase bookworm ROOTFS MIRROR
# where MIRROR is the host's own Debian mirror, read at run time from
# /etc/apt/sources.list.d/*.sources (deb822 "URIs:") or *.list / sources.list
# ("deb URI bookworm ..."), never written into this repository. The rootfs
# gets an apt source for the same mirror with the Debian suites the host uses
# (bookworm, bookworm-updates, bookworm-security), the same apt settings as
# the official slim images (no docs, no translations, no package lists kept),
# then is imported with `tar -C ROOTFS -c . | docker import - IMAGE`, and a
# container from it must pass `apt-get update` against that mirror.
#
# Needs root (debootstrap). ENSURE_BASE_IMAGE_TMP: where the rootfs is built
# (default /var/tmp); it is removed afterwards.
set -euo pipefail

image=${1:-debian:bookworm-slim}
readonly suite=bookworm

log() { echo "ensure_base_image: $*" >&2; }
die() {
  log "$*"
  exit 1
}

if docker image inspect "$image" >/dev/null 2>&1; then
  log "$image is present"
  exit 0
fi
[[ $(id -u) == 0 ]] || die "$image is missing, and building it with debootstrap needs root"
command -v debootstrap >/dev/null || die "$image is missing, and debootstrap is not installed"

# --- the host's Debian sources ------------------------------------------------
# One line per (URI, suite) the host's apt uses: "URI SUITE COMPONENTS|KEYRING".
host_sources() {
  local file
  shopt -s nullglob
  for file in /etc/apt/sources.list.d/*.sources; do
    # deb822: stanzas separated by blank lines; continuation lines start with
    # a space (an inline key block in Signed-By is skipped).
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
          n = split(uris, u, " "); m = split(suites, s, " ")
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
            print u[i], s[j], comps "|" keyring
        }
        types = uris = suites = comps = keyring = enabled = ""
      }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { next }
      {
        key = tolower($1); sub(/:$/, "", key)
        value = $0; sub(/^[^:]*:[ \t]*/, "", value)
        if (key == "types") types = value
        else if (key == "uris") uris = value
        else if (key == "suites") suites = value
        else if (key == "components") comps = value
        else if (key == "signed-by") keyring = value
        else if (key == "enabled") enabled = tolower(value)
      }
      END { flush() }
    ' "$file"
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $file ]] || continue
    # deb [options] URI SUITE COMPONENT...
    awk '
      $1 != "deb" { next }
      {
        keyring = ""; i = 2
        if ($2 ~ /^\[/) {
          for (; i <= NF; i++) {
            if ($i ~ /^\[?signed-by=/) { keyring = $i; sub(/^\[?signed-by=/, "", keyring); sub(/\]$/, "", keyring) }
            if ($i ~ /\]$/) { i++; break }
          }
        }
        comps = ""
        for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
        print $i, $(i + 1), comps "|" keyring
      }
    ' "$file"
  done
}

sources=$(host_sources | awk -v s="$suite" '$2 == s || $2 == s "-updates" || $2 == s "-security"')
[[ -n $sources ]] || die "no '$suite' Debian source in the host's apt configuration (/etc/apt/sources.list.d)"
mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$sources")
[[ -n $mirror ]] || die "the host's apt has no '$suite' suite (only: $(awk '{print $2}' <<<"$sources" | sort -u | xargs))"
mirror_keyring=$(awk -v s="$suite" '$2 == s { sub(/^[^|]*\|/, ""); print; exit }' <<<"$sources")
log "building $image with debootstrap from the host's mirror $mirror"

tmp_parent=${ENSURE_BASE_IMAGE_TMP:-/var/tmp}
work=$(mktemp -d "$tmp_parent/ensure_base_image.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  # debootstrap may leave /proc or /sys mounted inside the rootfs on failure.
  local mount_point
  while read -r mount_point; do
    umount -l "$mount_point" 2>/dev/null || true
  done < <(awk -v prefix="$rootfs/" 'index($2, prefix) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

keyring_args=()
if [[ -n $mirror_keyring && -f $mirror_keyring ]]; then keyring_args=(--keyring="$mirror_keyring"); fi
started=$SECONDS
if ! debootstrap --variant=minbase "${keyring_args[@]}" "$suite" "$rootfs" "$mirror" \
  >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" | sed 's/^/    /' >&2
  die "debootstrap from $mirror failed (log above)"
fi
log "debootstrap done in $((SECONDS - started))s"

# --- apt inside the image: the host's Debian sources, slim-image settings ------
default_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
{
  echo "# The build host's Debian mirror, written by ensure_base_image.sh."
  while read -r uri suite_name rest; do
    comps=${rest%%|*}
    keyring=${rest#*|}
    if [[ -n $keyring && -f $keyring && ! -f $rootfs$keyring ]]; then
      mkdir -p "$rootfs$(dirname "$keyring")"
      cp "$keyring" "$rootfs$keyring"
    fi
    [[ -n $keyring && -f $rootfs$keyring ]] || keyring=$default_keyring
    printf '\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n' \
      "$uri" "$suite_name" "${comps:-main}" "$keyring"
  done < <(sort -u <<<"$sources")
} >"$rootfs/etc/apt/sources.list.d/debian.sources"
rm -f "$rootfs/etc/apt/sources.list"

# Same as the official slim images: apt keeps no package lists or .debs
# after installing, fetches no translations, and dpkg skips docs and locales.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
# A mirror that serves a fixed snapshot has expired Release files; the host's
# apt accepts them only because it is told to, and so must the image's.
host_apt=$(apt-config dump 2>/dev/null || true)
for option in Acquire::Check-Valid-Until Acquire::Check-Date; do
  if grep -qx "$option \"false\";" <<<"$host_apt"; then
    echo "$option \"false\";" >>"$rootfs/etc/apt/apt.conf.d/99host-mirror"
  fi
done

# Nothing of the host or of the bootstrap stays in the image.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
  "$rootfs"/tmp/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/debootstrap
mkdir -p "$rootfs/var/lib/apt/lists/partial"
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"

tar --numeric-owner -C "$rootfs" -c . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    - "$image" >/dev/null
log "imported $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"

# apt inside must reach the same mirror, or every image build would fail later
# with a less clear message.
if ! docker run --rm "$image" apt-get update -qq >"$work/apt-check.log" 2>&1; then
  sed 's/^/    /' "$work/apt-check.log" >&2
  docker image rm "$image" >/dev/null 2>&1 || true
  die "apt-get update inside the new $image failed (output above); image removed"
fi
log "apt-get update inside $image works; $image ready in $((SECONDS - started))s"
