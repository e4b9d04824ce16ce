#!/usr/bin/env bash
# Prints, one per line, the Debian packages that hold the shared libraries
# the given binaries load (ldd, then dpkg -S). The Dockerfile installs exactly
# these in its runtime stage, so a server that gains a library dependency
# gets its runtime package without anyone editing a list.
#
#   runtime_packages.sh BINARY...
#
# Fails, naming the library, if a library is missing or belongs to no
# package (it would not be in the runtime image).
set -euo pipefail

(($# >= 1)) || { echo "usage: $0 BINARY..." >&2; exit 2; }

# owner PATH: the package that installed PATH. dpkg records some libraries
# under /lib and some under /usr/lib (merged /usr), so try both spellings
# and the resolved symlink.
owner() {
  local path=$1 candidate
  local resolved
  resolved=$(readlink -f "$path")
  local found
  for candidate in "$path" "$resolved" "/usr$path" "/usr$resolved" "${path#/usr}" "${resolved#/usr}"; do
    [[ $candidate == /* ]] || continue
    if found=$(dpkg -S "$candidate" 2>/dev/null) && [[ -n $found ]]; then
      found=${found%%$'\n'*}   # first line: "package[:arch]: path"
      echo "${found%%:*}"
      return 0
    fi
  done
  return 1
}

libraries=$(ldd "$@" | awk '$2 == "=>" { print }')
if grep -q 'not found' <<<"$libraries"; then
  echo "runtime_packages: missing libraries:" >&2
  grep 'not found' <<<"$libraries" >&2
  exit 1
fi
packages=()
while read -r library; do
  if ! package=$(owner "$library") || [[ -z $package ]]; then
    echo "runtime_packages: $library belongs to no Debian package" >&2
    exit 1
  fi
  packages+=("$package")
done < <(awk '$3 ~ /^\// { print $3 }' <<<"$libraries" | sort -u)
printf '%s\n' "${packages[@]}" | sort -u
