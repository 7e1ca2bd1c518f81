#!/usr/bin/env bash
# boringssl.sh: builds Debian's own BoringSSL (the source package behind
# android-libboringssl-dev, version pinned below) WITHOUT -DOPENSSL_SMALL and
# installs it into .deps/boringssl/{include,lib,bin}, which CMake then prefers
# over the packaged library. Debian builds it with OPENSSL_SMALL, which drops
# the precomputed P-256 and Curve25519 tables (ECDSA P-256 signing about 3.5x
# slower); everything else here is Debian's recipe: its patched source, its
# debian/lib*.mk makefiles, its debian/rules flags and dpkg-buildflags.
#
# A no-op when .deps/boringssl already holds this build (stamp file). Otherwise:
# adds a deb-src entry derived from the machine's Debian entries if there is
# none, installs the few build tools missing, `apt-get source`s the pinned
# version into .deps/src, builds libcrypto, libssl and bssl-tool, installs.
#
# Beside the libraries it writes the marker BORINGSSL-BUILD: a first line
# saying "without OPENSSL_SMALL" and their SHA-256 (sha256sum format, so
# `sha256sum -c BORINGSSL-BUILD` checks it). `--version` of mqgate's programs
# and mqgate's start-up log report the full-speed build only when the loaded
# libcrypto matches it (policy/bsslinfo.h).
#
# Usage: scripts/boringssl.sh              build into .deps/boringssl
#        scripts/boringssl.sh runtime DIR  also copy the two libraries,
#                                          stripped, with their marker, into
#                                          DIR (the container image's)
# (JOBS=n for parallel jobs, default nproc)
set -euo pipefail

SRC_PKG=android-platform-external-boringssl
VERSION=13.0.0+r24-2                  # what Debian 12 (bookworm) ships
RECIPE=1                              # bump when this script's build changes
STAMP_TEXT="$SRC_PKG $VERSION without OPENSSL_SMALL (recipe $RECIPE)"

MARKER=BORINGSSL-BUILD                # policy/bsslinfo.h reads it

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=$root/.deps/boringssl
stamp=$prefix/STAMP
work=$root/.deps/src

runtime_dir=""
case "${1:-}" in
  "") ;;
  runtime) runtime_dir=${2:?usage: scripts/boringssl.sh runtime DIR} ;;
  *) echo "usage: scripts/boringssl.sh [runtime DIR]" >&2; exit 2 ;;
esac

# write_marker DIR: the marker for the libcrypto.so.0 and libssl.so.0 in DIR,
# which must come from this script's build (checked before it is called).
write_marker() {
  { printf '# %s, built by mqgate scripts/boringssl.sh\n' "$STAMP_TEXT"
    (cd "$1" && sha256sum libcrypto.so.0 libssl.so.0)
  } >"$1/$MARKER.new"
  mv "$1/$MARKER.new" "$1/$MARKER"
}

# runtime: the two libraries, stripped (the build keeps its symbols for
# `make profile`), and their own marker, into $runtime_dir.
install_runtime() {
  [ -n "$runtime_dir" ] || return 0
  mkdir -p "$runtime_dir"
  for lib in libcrypto.so.0 libssl.so.0; do
    strip --strip-unneeded -o "$runtime_dir/$lib" "$prefix/lib/$lib"
  done
  write_marker "$runtime_dir"
  echo "boringssl: libcrypto.so.0, libssl.so.0 and $MARKER in $runtime_dir" >&2
}

# --- already there? ---------------------------------------------------------
built() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$STAMP_TEXT" ] &&
    [ -f "$prefix/include/openssl/ssl.h" ] &&
    [ -e "$prefix/lib/libcrypto.so" ] && [ -e "$prefix/lib/libssl.so" ]
}
# A build of this recipe from before the marker existed gets its marker.
if built; then
  [ -f "$prefix/lib/$MARKER" ] || write_marker "$prefix/lib"
  install_runtime
  exit 0
fi
# One build at a time; a second run waits for the first and then finds it done.
mkdir -p "$work"
exec 9>"$work/.lock"
flock 9
if built; then
  install_runtime
  exit 0
fi

log() { echo "boringssl: $*" >&2; }
die() { log "error: $*"; exit 1; }
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# A clean make environment (no jobserver or flags from an outer make).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
jobs=${JOBS:-$(nproc)}
t0=$SECONDS

# --- build tools (debian/control Build-Depends, minus debhelper, dh-exec and
# libgtest-dev, which only the packaging and the tests need) ----------------
pkgs=(clang lld make dpkg-dev xz-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- deb-src ----------------------------------------------------------------
have_version() {
  apt-cache showsrc --only-source "$SRC_PKG" 2>/dev/null | grep -qx "Version: $VERSION"
}
if ! have_version; then
  if ! apt-get indextargets --no-release-info --format '$(CREATED_BY)' 2>/dev/null |
       grep -qx Sources; then
    # No deb-src at all: the deb-src twin of every enabled Debian entry, in
    # whichever layout the machine has them: deb822 (debian.sources, as in
    # Debian's own images and installs) and one-line (sources.list, as
    # mmdebstrap and older installs write it), or both. Never a hard-coded
    # host; other vendors' files are left alone.
    added=0
    for f in /etc/apt/sources.list.d/debian.sources; do
      [ -f "$f" ] || continue
      text=$(grep -v '^[[:space:]]*#' "$f" | awk '
        BEGIN { RS = ""; FS = "\n" }
        { deb = 0; on = 1; body = ""
          for (i = 1; i <= NF; i++) {
            f = tolower($i)
            if (f ~ /^types:/) { if (f ~ /[: \t]deb([ \t]|$)/) deb = 1; continue }
            if (f ~ /^enabled:[ \t]*no/) on = 0
            body = body $i "\n"
          }
          if (deb && on) printf "%sTypes: deb-src\n%s", (n++ ? "\n" : ""), body
        }')
      [ -n "$text" ] || continue
      dst=/etc/apt/sources.list.d/mqgate-deb-src.sources
      log "adding $dst (deb-src of $f)"
      printf '# Added by mqgate scripts/boringssl.sh: the deb-src twin of %s.\n%s\n' \
        "$f" "$text" | $sudo tee "$dst" >/dev/null
      added=1
    done
    for f in /etc/apt/sources.list; do
      [ -f "$f" ] || continue
      text=$(sed -nE 's/^[[:space:]]*deb([[:space:]]+)/deb-src\1/p' "$f")
      [ -n "$text" ] || continue
      dst=/etc/apt/sources.list.d/mqgate-deb-src.list
      log "adding $dst (deb-src of $f)"
      printf '# Added by mqgate scripts/boringssl.sh: the deb-src twin of %s.\n%s\n' \
        "$f" "$text" | $sudo tee "$dst" >/dev/null
      added=1
    done
    [ $added -eq 1 ] || die "no enabled deb entry in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list to derive a deb-src entry from"
  fi
  log "apt-get update"
  $sudo apt-get update -qq
  if ! have_version; then
    avail=$(apt-cache showsrc --only-source "$SRC_PKG" 2>/dev/null |
            sed -n 's/^Version: //p' | tr '\n' ' ')
    die "$SRC_PKG $VERSION is not available from the configured sources (available: ${avail:-none})"
  fi
fi

# --- source -----------------------------------------------------------------
# The downloaded files stay in .deps/src as a cache; the tree is unpacked fresh.
upstream=${VERSION%-*}
tree=$work/$SRC_PKG-$upstream
mkdir -p "$work"
rm -rf "$tree"
log "apt-get source $SRC_PKG=$VERSION"
# As root, download as root outright: apt's _apt sandbox user cannot write into
# .deps/src, and apt would fall back to that with a warning anyway.
sandbox=()
[ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
(cd "$work" && apt-get "${sandbox[@]}" source -qq "$SRC_PKG=$VERSION" >/dev/null)
[ -f "$tree/debian/libcrypto.mk" ] || die "unpacked source not found in $tree"

# --- build, as debian/rules does, minus -DOPENSSL_SMALL -----------------------
cd "$tree"
# The variables debian/rules sets and exports, read from debian/rules itself.
rules_var() {
  make -s --no-print-directory -f debian/rules \
    --eval "mqg-print: ; @printf '%s' '\$(strip \$($1))'" mqg-print
}
for v in DEB_BUILD_MAINT_OPTIONS DEB_CFLAGS_MAINT_APPEND DEB_CXXFLAGS_MAINT_APPEND \
         DEB_LDFLAGS_MAINT_APPEND DEB_CPPFLAGS_MAINT_APPEND CC CXX \
         DEB_HOST_ARCH DEB_HOST_MULTIARCH; do
  export "$v=$(rules_var "$v")"
done
case " $DEB_CPPFLAGS_MAINT_APPEND " in
  *" -DOPENSSL_SMALL "*) ;;
  *) die "debian/rules no longer sets -DOPENSSL_SMALL; check the recipe" ;;
esac
read -ra flags <<<"$DEB_CPPFLAGS_MAINT_APPEND"
kept=()
for f in "${flags[@]}"; do [ "$f" = -DOPENSSL_SMALL ] || kept+=("$f"); done
export DEB_CPPFLAGS_MAINT_APPEND="${kept[*]}"
# dh_auto_build exports the dpkg-buildflags; the .mk files append to them.
eval "$(dpkg-buildflags --export=sh)"
ldflags=$LDFLAGS
log "CC=$CC CXX=$CXX CPPFLAGS=$CPPFLAGS"
log "building libcrypto, libssl, bssl-tool with $jobs jobs"
blog=$work/build.log
# libssl and bssl-tool carry Debian's RUNPATH /usr/lib/<triplet>/android; a
# RUNPATH in front ($ORIGIN) makes them load the libcrypto/libssl built here.
# (\$$: make turns $$ into $, then the recipe's shell turns \$ into $.)
build() { # mkfile extra-ldflags
  LDFLAGS="$2 $ldflags" make -j"$jobs" --file="debian/$1" >>"$blog" 2>&1 ||
    { tail -n 15 "$blog" >&2; die "make -f debian/$1 failed (log: $blog)"; }
}
: >"$blog"
build libcrypto.mk ''
build libssl.mk '-Wl,-rpath,\$$ORIGIN'
build tool_test.mk '-Wl,-rpath,\$$ORIGIN/../lib'

# --- install ----------------------------------------------------------------
new=$prefix.new
rm -rf "$new"
mkdir -p "$new/include" "$new/lib" "$new/bin"
cp -a src/include/openssl "$new/include/"
cp -a debian/out/libcrypto.so.0 debian/out/libssl.so.0 "$new/lib/"
ln -s libcrypto.so.0 "$new/lib/libcrypto.so"
ln -s libssl.so.0 "$new/lib/libssl.so"
cp -a debian/out/bssl-tool "$new/bin/"
ln -s bssl-tool "$new/bin/bssl"
# No compile line may carry OPENSSL_SMALL, and the tool must run.
! grep -q -- -DOPENSSL_SMALL "$blog" || die "OPENSSL_SMALL slipped into the build"
"$new/bin/bssl" speed -filter 'ECDH P-256' -timeout 1 >/dev/null ||
  die "the built bssl-tool does not run"
printf '%s\n' "$STAMP_TEXT" >"$new/STAMP"
write_marker "$new/lib"
rm -rf "$prefix"
mv "$new" "$prefix"
cd "$root"
rm -rf "$tree"
log "installed into $prefix in $((SECONDS - t0))s"
install_runtime
