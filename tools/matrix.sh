#!/usr/bin/env bash
# Runs `make test` on the host's QGIS (Debian 12: 3.22) and inside Debian chroots with newer
# QGIS releases (trixie: 3.40 LTR, sid: 3.44), then prints one line per release. Exits non-zero
# when any release fails, so CI goes red. Needs root (debootstrap, chroot, mount).
#
#   tools/matrix.sh                 host + every suite in MATRIX_SUITES
#   tools/matrix.sh build trixie    only build (or reuse) one chroot
#   tools/matrix.sh run sid CMD...  run CMD in the sid chroot, with the checkout in /src/labelguard
#
# Chroots are cached in $LABELGUARD_CHROOTS (default /var/cache/labelguard/chroots) and reused
# while their package list is unchanged; a cold build takes a few minutes per suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${LABELGUARD_CHROOTS:-/var/cache/labelguard/chroots}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITES=${MATRIX_SUITES:-trixie sid}
LOGS=$ROOT/out/matrix
CHROOT_VENV=/opt/labelguard-venv
ATTEMPTS=3
# Bump when build() changes what goes into a chroot: cached chroots are then provisioned again.
RECIPE=2
# What tools/bootstrap.sh checks for, plus make: then bootstrap finds nothing to install.
PACKAGES="qgis qgis-providers python3-qgis python3-gdal python3-pyproj python3-yaml python3-numpy \
python3-shapely python3-jsonschema python3-venv python3-pip python3-setuptools gdal-bin xvfb xauth make \
ca-certificates"
HOST_FILES="/etc/resolv.conf /etc/ssl/certs/ca-certificates.crt /etc/pip.conf"

die() { echo "matrix: error: $*" >&2; exit 1; }
say() { echo "matrix: $*" >&2; }

retry() {  # retry CMD...: ATTEMPTS tries with a growing pause; network and mirrors do fail.
  local n=1
  until "$@"; do
    [ "$n" -ge "$ATTEMPTS" ] && return 1
    say "attempt $n of $ATTEMPTS failed: $*; retrying in $((n * 15)) s"
    sleep $((n * 15))
    n=$((n + 1))
  done
}

MOUNTED=()
unmount_all() {  # in reverse order; lazily if something still holds a mount
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" || true
  done
  MOUNTED=()
}
trap unmount_all EXIT
trap 'exit 130' INT TERM

mount_into() {  # mount_into DIR: proc, dev (with pts for apt and dpkg) and sys
  local dir=$1
  mountpoint -q "$dir/proc" || { mount -t proc proc "$dir/proc" && MOUNTED+=("$dir/proc"); }
  mountpoint -q "$dir/dev" || { mount --bind /dev "$dir/dev" && MOUNTED+=("$dir/dev"); }
  mountpoint -q "$dir/dev/pts" || { mount --bind /dev/pts "$dir/dev/pts" && MOUNTED+=("$dir/dev/pts"); }
  mountpoint -q "$dir/sys" || { mount -t sysfs sysfs "$dir/sys" && MOUNTED+=("$dir/sys"); }
}

has_mounts_under() { awk -v d="$1/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/mounts; }

in_chroot() {  # in_chroot DIR CMD...: a clean environment, as on a fresh machine
  local dir=$1
  shift
  chroot "$dir" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

debootstrap_fresh() {  # debootstrap_fresh SUITE DIR: a partial tree from a failed try is removed
  local suite=$1 dir=$2
  has_mounts_under "$dir" && die "$dir has mounts under it; unmount them before rebuilding"
  rm -rf "$dir"
  debootstrap --variant=minbase "$suite" "$dir" "$MIRROR"
}

need_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  say "installing debootstrap on the host"
  export DEBIAN_FRONTEND=noninteractive
  retry apt-get update -qq || die "apt-get update failed on the host"
  retry apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    die "could not install debootstrap on the host"
}

build() {  # build SUITE: create or reuse $CACHE/SUITE with QGIS installed
  local suite=$1 dir=$CACHE/$1 want
  want=$(printf '%s\n' "$RECIPE" "$suite" "$MIRROR" "$PACKAGES" | sha256sum | cut -d' ' -f1)
  if [ -f "$dir/.labelguard-ready" ] && [ "$(cat "$dir/.labelguard-ready")" = "$want" ]; then
    say "$suite: reusing $dir"
    return 0
  fi
  need_debootstrap
  mkdir -p "$CACHE"
  if [ ! -x "$dir/usr/bin/apt-get" ] || [ ! -f "$dir/.labelguard-debootstrapped" ]; then
    say "$suite: debootstrap into $dir from $MIRROR"
    retry debootstrap_fresh "$suite" "$dir" ||
      die "debootstrap of $suite failed $ATTEMPTS times; see $dir/debootstrap/debootstrap.log"
    touch "$dir/.labelguard-debootstrapped"
  fi
  local f
  for f in $HOST_FILES; do
    [ -f "$f" ] && { mkdir -p "$dir$(dirname "$f")" && cp -L "$f" "$dir$f"; }
  done
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"  # start no services
  # Mirrors and snapshots can serve a sid Release file past its Valid-Until (a week); the
  # signature is still checked. A throwaway test chroot accepts that rather than going red.
  printf 'Acquire::Retries "5";\nAcquire::Check-Valid-Until "false";\n' \
    >"$dir/etc/apt/apt.conf.d/99labelguard"
  chmod +x "$dir/usr/sbin/policy-rc.d"
  mount_into "$dir"
  say "$suite: installing QGIS and the test dependencies"
  retry in_chroot "$dir" apt-get -q update ||
    die "apt-get update failed $ATTEMPTS times in the $suite chroot (mirror $MIRROR; output above)"
  retry in_chroot "$dir" apt-get install -y -q --no-install-recommends \
    $PACKAGES || die "installing QGIS in the $suite chroot failed $ATTEMPTS times (see above)"
  in_chroot "$dir" apt-get clean
  unmount_all
  echo "$want" >"$dir/.labelguard-ready"
  say "$suite: ready"
}

run() {  # run SUITE CMD...: a fresh copy of the checkout in /src/labelguard, then CMD there
  local suite=$1 dir=$CACHE/$1
  shift
  [ -f "$dir/.labelguard-ready" ] || die "no $suite chroot in $dir; run: tools/matrix.sh build $suite"
  for f in $HOST_FILES; do [ -f "$f" ] && cp -L "$f" "$dir$f"; done
  rm -rf "$dir/src/labelguard"
  mkdir -p "$dir/src/labelguard"
  tar -C "$ROOT" --exclude=./.git --exclude=./.venv --exclude=./out --exclude=./dist \
    --exclude=./.pytest_cache --exclude=__pycache__ -cf - . | tar -C "$dir/src/labelguard" -xf -
  mount_into "$dir"
  local rc=0
  in_chroot "$dir" /bin/bash -c 'cd /src/labelguard && exec "$@"' bash "$@" || rc=$?
  unmount_all
  return "$rc"
}

versions='from osgeo import gdal; from qgis.core import Qgis; import platform; '\
'print("QGIS", Qgis.QGIS_VERSION.split("-")[0], "Python", platform.python_version(), '\
'"GDAL", gdal.__version__)'

summary() {  # summary NAME LOG RC SECONDS: one line per release (core | QGIS test counts)
  local name=$1 log=$2 rc=$3 secs=$4 counts env
  env=$(grep -m1 '^matrix-versions:' "$log" | cut -d: -f2- || true)
  counts=$(grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$log" |
    sed -E 's/^=+ (.*) in [0-9.]+s.*/\1/' | sed -z 's/\n$//; s/\n/ | /g' || true)
  printf '%-8s%s: %s (%s) in %dm%02ds\n' "$name" "${env:- ?}" \
    "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")" "${counts:-no pytest summary}" \
    $((secs / 60)) $((secs % 60))
}

matrix() {
  [ "$(id -u)" -eq 0 ] || die "the matrix needs root (debootstrap, chroot, mount)"
  mkdir -p "$LOGS"
  local suite pids=() results=() rc start
  need_debootstrap  # once, before the parallel builds would race for dpkg's lock
  for suite in $SUITES; do  # build in the background while the host suite runs
    # A subshell does not inherit traps: each build unmounts what it mounted, also on failure.
    (
      trap unmount_all EXIT
      trap 'exit 143' INT TERM
      build "$suite"
    ) >"$LOGS/build-$suite.log" 2>&1 &
    pids+=("$!")
  done
  trap 'kill "${pids[@]}" 2>/dev/null; exit 130' INT TERM
  say "building chroots ($SUITES) in the background; logs in $LOGS/build-*.log"
  start=$SECONDS rc=0
  {
    make test || rc=$?
    .venv/bin/python -c "$versions" | sed 's/^/matrix-versions: /' || true
    exit "$rc"
  } 2>&1 | tee "$LOGS/host.log" || rc=$?
  results+=("$(summary host "$LOGS/host.log" "$rc" $((SECONDS - start)))")
  local i=0
  for suite in $SUITES; do
    start=$SECONDS rc=0
    if ! wait "${pids[i]}"; then
      cat "$LOGS/build-$suite.log" >&2
      say "$suite: building the chroot failed; log above and in $LOGS/build-$suite.log"
      echo "build failed, see $LOGS/build-$suite.log" >"$LOGS/$suite.log"
      rc=1
    else
      run "$suite" /bin/bash -c "rc=0; make test VENV=$CHROOT_VENV || rc=\$?; \
          $CHROOT_VENV/bin/python -c '$versions' | sed 's/^/matrix-versions: /'; exit \$rc" 2>&1 |
        tee "$LOGS/$suite.log" || rc=$?
    fi
    results+=("$(summary "$suite" "$LOGS/$suite.log" "$rc" $((SECONDS - start)))")
    i=$((i + 1))
  done
  echo "== LabelGuard test matrix =="
  printf '%s\n' "${results[@]}"
  ! printf '%s\n' "${results[@]}" | grep -q FAILED
}

case ${1:-} in
  build) [ $# -eq 2 ] || die "usage: $0 build SUITE"; build "$2" ;;
  run) [ $# -ge 3 ] || die "usage: $0 run SUITE CMD..."; suite=$2; shift 2; run "$suite" "$@" ;;
  "") matrix ;;
  *) die "usage: $0 [build SUITE | run SUITE CMD...]" ;;
esac
