#!/usr/bin/env bash
# Builds gRPC 1.51.1 in release mode (-DCMAKE_BUILD_TYPE=Release, so NDEBUG
# and -O3) from Debian 12's own source package, with Debian's patches and
# then the project's, into a prefix the project's CMake links instead of
# Debian's libgrpc++-dev. Debian builds that package without a build type,
# so gRPC's debug checks run on every call. See docs/grpc-build.md.
#
#   build_grpc.sh [--prefix DIR] [--jobs N] [--force]
#   build_grpc.sh --print-prefix      the default prefix, and exit
#
#   --prefix  where to install (default: build-deps/grpc-1.51.1-release in
#             the source tree, the place CMake looks first)
#   --jobs    parallel compile jobs (default: one per CPU)
#   --force   rebuild even if the prefix is up to date
#
# Run again, it does nothing: the prefix holds a stamp
# (inventory-grpc-build.txt) with a fingerprint of every input that is known
# without the network and changes what gets built: the recipe below (its
# number, gRPC's CMake options, Debian's build flags), deps/grpc/CMakeLists.txt,
# the project's patches, the compiler's version, the exact versions of
# abseil and protobuf (their inline code is compiled into gRPC) and the ABI
# (shared-library package) of OpenSSL, zlib, c-ares and re2 (gRPC only calls
# into those, so a security update within the ABI needs no rebuild). Any of
# them changed, it rebuilds. A build is installed into DIR.partial and renamed
# to DIR only once complete, so an interrupted build is never taken as done;
# concurrent runs wait on a lock.
#
# Steps of a build:
#   1. The source: a private apt index (WORK/apt) of the deb-src twins of the
#      machine's own Debian sources (/etc/apt/sources.list.d/debian.sources,
#      else the `deb` lines of /etc/apt/sources.list), so the mirror is the
#      one this machine's apt already uses, and the system's apt setup is
#      left as it is; then `apt-get source --download-only grpc`.
#   2. Debian's debian/patches/series in order, then deps/grpc/patches/series
#      if it exists (one patch per line, applied with -p1 from the gRPC
#      source root). Both lists are printed, also when empty.
#   3. Configure like Debian's debian/rules (every dependency from Debian's
#      packages, Debian's hardening flags from dpkg-buildflags without -g;
#      grpc_cmake_options below), but with -DCMAKE_BUILD_TYPE=Release and
#      static libraries, so the
#      binaries never load Debian's libgrpc.so.29 behind the back of this
#      build. Build only grpc++, grpc++_reflection, grpc_cpp_plugin and what
#      they link (deps/grpc/CMakeLists.txt), install.
#
# Needs the packages scripts/install_deps.sh installs; the download needs no
# root. WORK is DIR's parent, grpc-1.51.1-work/ (downloads are kept there).
set -euo pipefail

readonly grpc_version=1.51.1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
default_prefix=$repo/build-deps/grpc-$grpc_version-release

# Bump when a change to the steps below changes what gets built (gRPC's
# options are fingerprinted by themselves).
readonly recipe=1
# Configured like Debian's debian/rules (every dependency from Debian's
# packages, only the C++ plugin), but in release mode and static.
readonly grpc_cmake_options=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DgRPC_BUILD_TESTS=OFF
  -DgRPC_ABSL_PROVIDER=package
  -DgRPC_CARES_PROVIDER=package
  -DgRPC_PROTOBUF_PROVIDER=package
  -DgRPC_RE2_PROVIDER=package
  -DgRPC_SSL_PROVIDER=package
  -DgRPC_ZLIB_PROVIDER=package
  -DgRPC_BENCHMARK_PROVIDER=none
  -DgRPC_BACKWARDS_COMPATIBILITY_MODE=OFF
  -DgRPC_BUILD_CSHARP_EXT=OFF
  -DgRPC_BUILD_GRPC_CPP_PLUGIN=ON
  -DgRPC_BUILD_GRPC_CSHARP_PLUGIN=OFF
  -DgRPC_BUILD_GRPC_NODE_PLUGIN=OFF
  -DgRPC_BUILD_GRPC_OBJECTIVE_C_PLUGIN=OFF
  -DgRPC_BUILD_GRPC_PHP_PLUGIN=OFF
  -DgRPC_BUILD_GRPC_PYTHON_PLUGIN=OFF
  -DgRPC_BUILD_GRPC_RUBY_PLUGIN=OFF
)
# Debian packages gRPC compiles against. Exact version: their headers'
# inline code ends up in the static libraries.
readonly exact_packages=(libabsl-dev libprotobuf-dev libprotoc-dev)
# ABI only: gRPC calls into their shared libraries, so the fingerprint has
# the shared-library package (libssl3, zlib1g, ...), which names the ABI.
readonly abi_packages=(libssl-dev zlib1g-dev libc-ares-dev libre2-dev)
# What a build runs, besides those.
readonly build_packages=(cmake ninja-build g++ dpkg-dev patch xz-utils protobuf-compiler pkg-config)

prefix=$default_prefix
jobs=$(nproc)
force=0
while (($# > 0)); do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --force) force=1; shift ;;
    --print-prefix) echo "$default_prefix"; exit 0 ;;
    *) echo "usage: $0 [--prefix DIR] [--jobs N] [--force] | --print-prefix" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$prefix")"
prefix=$(cd "$(dirname "$prefix")" && pwd)/$(basename "$prefix")
work=$(dirname "$prefix")/grpc-$grpc_version-work
stamp_name=inventory-grpc-build.txt
log() { echo "build_grpc: $*"; }
die() { echo "build_grpc: ERROR: $*" >&2; exit 1; }

# series_entries FILE: the patch names a quilt series file lists, in order
# ("name [-pN]" per line; blank lines and # comments skipped).
series_entries() {
  sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$1" | awk 'NF { print $1 }'
}
project_series=$here/patches/series
project_patches=()
if [[ -f $project_series ]]; then
  mapfile -t project_patches < <(series_entries "$project_series")
fi
for patch_name in "${project_patches[@]}"; do
  [[ -f $here/patches/$patch_name ]] || die "$project_series names $patch_name, which is not in $here/patches/"
done
joined() { local IFS=,; echo "$*"; }
if ((${#project_patches[@]})); then
  project_list=$(joined "${project_patches[@]}")
else
  project_list=none
fi
build_id="release-$grpc_version+patches:$project_list"

# debian_flags NAME: dpkg-buildflags' NAME without -g (debug info would make
# the static libraries several times larger; symbols stay, so profilers
# still name gRPC's functions) and without -ffile-prefix-map (it names the
# build directory).
debian_flags() {
  dpkg-buildflags --get "$1" | sed -E -e 's/(^| )-g( |$)/ /g' -e 's/ ?-ffile-prefix-map=[^ ]*//g'
}
# abi_of PACKAGE: the shared-library packages a -dev package pins to its own
# version (libssl-dev -> libssl3).
abi_of() {
  dpkg-query -W -f='${Depends}' "$1" 2>/dev/null | tr ',' '\n' |
    sed -nE 's/^ *([^ ]+) \(= .*/\1/p' | sort | paste -sd' '
}
# Every input known without the network. The Debian source revision is not
# one of them (it needs the index): --force picks up a new one.
fingerprint_inputs() {
  echo "grpc_version=$grpc_version"
  echo "recipe=$recipe"
  echo "cmake_options=${grpc_cmake_options[*]}"
  local name
  for name in CPPFLAGS CFLAGS CXXFLAGS LDFLAGS; do
    echo "debian_$name=$(debian_flags "$name" 2>/dev/null || echo missing)"
  done
  echo "subset_cmake=$(sha256sum <"$here/CMakeLists.txt" | cut -d' ' -f1)"
  for name in "${project_patches[@]}"; do
    echo "project_patch=$name $(sha256sum <"$here/patches/$name" | cut -d' ' -f1)"
  done
  for name in "${exact_packages[@]}"; do
    echo "package=$name $(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || echo missing)"
  done
  for name in "${abi_packages[@]}"; do
    echo "abi=$name $(abi_of "$name" || true)"
  done
  echo "compiler=$(c++ -dumpfullversion 2>/dev/null || echo missing)"
}
# Recorded in the stamp, not fingerprinted.
built_with() {
  local name
  for name in "${exact_packages[@]}" "${abi_packages[@]}"; do
    echo "built_with=$name $(dpkg-query -W -f='${Version}' "$name")"
  done
  echo "built_with=$(c++ --version | head -n1)"
}
fingerprint=$(fingerprint_inputs | sha256sum | cut -d' ' -f1)

stamp_field() { sed -n "s/^$1=//p" "$prefix/$stamp_name" 2>/dev/null | head -n1; }
print_patches() {  # from the stamp of the installed prefix
  log "  Debian patches (debian/patches/series): $(stamp_field debian_patches)"
  log "  project patches (deps/grpc/patches/series): $(stamp_field project_patches)"
}
up_to_date() {
  [[ -f $prefix/$stamp_name ]] && [[ $(stamp_field fingerprint) == "$fingerprint" ]]
}

if ((!force)) && up_to_date; then
  log "up to date: $prefix ($(stamp_field build), Debian source $(stamp_field debian_source))"
  print_patches
  exit 0
fi

# One build at a time per prefix; the second waits and then finds it done.
exec 9>"$prefix.lock"
if ! flock -n 9; then
  log "another build of $prefix is running; waiting for it"
  flock 9
fi
if ((!force)) && up_to_date; then
  log "up to date: $prefix (built meanwhile: $(stamp_field build))"
  print_patches
  exit 0
fi

missing=()
for package in "${exact_packages[@]}" "${abi_packages[@]}" "${build_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
((${#missing[@]} == 0)) || die "missing packages: ${missing[*]} (bash scripts/install_deps.sh installs them)"

if [[ -f $prefix/$stamp_name ]]; then
  log "rebuilding $prefix: its inputs changed (or --force)"
else
  log "building gRPC $grpc_version in release mode into $prefix (about 13 minutes on 2 cores)"
fi
t_start=$SECONDS
mkdir -p "$work"

# --- 1. the source, from the machine's own Debian mirror ---
apt_dir=$work/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
: >"$apt_dir/sources.list"
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
    >"$apt_dir/sources.list.d/debian-src.sources"
fi
if [[ -f /etc/apt/sources.list ]]; then
  sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list >"$apt_dir/sources.list"
fi
[[ -s $apt_dir/sources.list || -s $apt_dir/sources.list.d/debian-src.sources ]] ||
  die "no Debian sources found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o Acquire::Languages=none
)
# As root apt downloads as user _apt, who may not write to WORK.
[[ $(id -u) -ne 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)
log "fetching the source index of the machine's Debian mirror (private: $apt_dir)"
apt-get "${apt_opts[@]}" -qq update || die "apt-get update of the deb-src index failed"
debian_version=$(apt-cache "${apt_opts[@]}" showsrc grpc 2>/dev/null |
  sed -n 's/^Version: //p' | sort -V | tail -n1)
[[ -n $debian_version ]] || die "the Debian mirror has no grpc source package"
[[ ${debian_version%%-*} == "$grpc_version" ]] ||
  die "Debian's grpc source is $debian_version, this script builds $grpc_version"
download=$work/download
mkdir -p "$download"
(cd "$download" && apt-get "${apt_opts[@]}" -qq source --download-only "grpc=$debian_version") ||
  die "apt-get source --download-only grpc=$debian_version failed"
dsc=$download/grpc_${debian_version#*:}.dsc
[[ -f $dsc ]] || die "$dsc missing after the download"
# The tarballs the .dsc names (apt checked their hashes against the signed index).
orig=$(awk '/^Files:/ { f = 1; next } /^[^ ]/ { f = 0 } f && $3 ~ /\.orig\.tar\./ { print $3 }' "$dsc")
debian_tar=$(awk '/^Files:/ { f = 1; next } /^[^ ]/ { f = 0 } f && $3 ~ /\.debian\.tar\./ { print $3 }' "$dsc")
[[ -n $orig && -n $debian_tar ]] || die "cannot read the tarballs from $dsc"
rm -rf "$apt_dir"

# --- 2. unpack, Debian's patches, then ours ---
src_root=$work/src
rm -rf "$src_root"
mkdir -p "$src_root"
tar -C "$src_root" -xf "$download/$orig"
src=$src_root/grpc-$grpc_version
[[ -f $src/CMakeLists.txt ]] || die "$orig did not unpack to grpc-$grpc_version/"
tar -C "$src" -xf "$download/$debian_tar"

apply_series() {  # DIR SERIES LABEL: apply SERIES' patches from DIR in order
  local dir=$1 series=$2 label=$3 line name level
  while read -r line; do
    name=${line%% *}
    level=-p1
    [[ $line =~ [[:space:]]-p([0-9]+) ]] && level=-p${BASH_REMATCH[1]}
    log "  $label patch: $name"
    patch -d "$src" "$level" -t -N -F 0 -s --no-backup-if-mismatch -i "$dir/$name" ||
      die "$label patch $name does not apply"
  done < <(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$series" | awk NF)
}
mapfile -t debian_patches < <(series_entries "$src/debian/patches/series")
log "applying ${#debian_patches[@]} Debian patches ($debian_version, debian/patches/series):"
apply_series "$src/debian/patches" "$src/debian/patches/series" Debian
if ((${#project_patches[@]})); then
  log "applying ${#project_patches[@]} project patches (deps/grpc/patches/series):"
  apply_series "$here/patches" "$project_series" project
else
  log "project patches (deps/grpc/patches/series): none"
fi

# --- 3. configure like debian/rules, in release mode; build; install ---
# Debian's hardening flags (-D_FORTIFY_SOURCE=2, -fstack-protector-strong,
# relro), as Debian's build gets them from debhelper (see debian_flags).
# -ffile-prefix-map as Debian's: gRPC's log lines name source files
# relative to the source root.
cppflags=$(debian_flags CPPFLAGS)
cflags="$cppflags $(debian_flags CFLAGS) -ffile-prefix-map=$src=."
cxxflags="$cppflags $(debian_flags CXXFLAGS) -ffile-prefix-map=$src=."
ldflags=$(debian_flags LDFLAGS)
launcher=()
if command -v ccache >/dev/null && [[ ${GRPC_BUILD_CCACHE:-1} != 0 ]]; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
build=$work/build
rm -rf "$build"
build_log=$work/build.log
log "configuring (log: $build_log)"
if ! cmake -S "$here" -B "$build" -G Ninja "${launcher[@]}" \
  -DGRPC_SOURCE_DIR="$src" \
  -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_CXX_FLAGS="$cxxflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  "${grpc_cmake_options[@]}" \
  >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  die "configure failed (log: $build_log)"
fi
log "compiling with $jobs jobs (log: $build_log)"
t_compile=$SECONDS
if ! cmake --build "$build" -j "$jobs" >>"$build_log" 2>&1; then
  grep -m 20 -B2 -A8 'error' "$build_log" >&2 || tail -n 40 "$build_log" >&2
  die "build failed (log: $build_log)"
fi
compile_seconds=$((SECONDS - t_compile))

partial=$prefix.partial
rm -rf "$partial"
cmake --install "$build" --prefix "$partial" >>"$build_log" 2>&1 || die "install failed (log: $build_log)"
# gRPC's pkg-config files describe libraries this subset does not install.
rm -rf "$partial/lib/pkgconfig"
for file in lib/libgrpc++.a lib/libgrpc++_reflection.a lib/libgrpc.a bin/grpc_cpp_plugin \
  lib/cmake/grpc/gRPCConfig.cmake lib/cmake/grpc/gRPCTargets.cmake; do
  [[ -e $partial/$file ]] || die "the install lacks $file"
done
if ldd "$partial/bin/grpc_cpp_plugin" | grep -q 'libgrpc'; then
  die "grpc_cpp_plugin loads a shared libgrpc: $(ldd "$partial/bin/grpc_cpp_plugin" | grep libgrpc)"
fi

debian_list=$(joined "${debian_patches[@]}")
{
  echo "# Written last by deps/grpc/build_grpc.sh: this prefix is complete."
  echo "build=$build_id"
  echo "grpc_version=$grpc_version"
  echo "debian_source=$debian_version"
  echo "debian_patches=${debian_list:-none}"
  echo "project_patches=$project_list"
  echo "build_type=Release"
  echo "linkage=static"
  echo "compile_seconds=$compile_seconds"
  echo "jobs=$jobs"
  echo "fingerprint=$fingerprint"
  fingerprint_inputs | sed 's/^/input./'
  built_with
} >"$partial/$stamp_name"
rm -rf "$prefix.old"
[[ ! -e $prefix ]] || mv "$prefix" "$prefix.old"
mv "$partial" "$prefix"
rm -rf "$prefix.old" "$src_root" "$build"

elapsed=$((SECONDS - t_start))
log "installed $prefix ($build_id, Debian source $debian_version)" \
  "in $((elapsed / 60))m$((elapsed % 60))s, of which compiling $((compile_seconds / 60))m$((compile_seconds % 60))s with $jobs jobs"
print_patches
