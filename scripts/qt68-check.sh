#!/usr/bin/env bash
# Builds and tests this tree on Qt 6.8 (Debian 13 "trixie") in a cached chroot, with warnings
# as errors and AddressSanitizer + UndefinedBehaviorSanitizer, and runs the whole ctest there
# (PostgreSQL included; the browser label runs on the host only).
#
#   scripts/qt68-check.sh            prepare the root if needed, build, run every test
#   scripts/qt68-check.sh prepare    only make/update the cached root (debootstrap + apt)
#   scripts/qt68-check.sh build      prepare, build, no tests
#   scripts/qt68-check.sh shell      an interactive shell in the root, tree mounted at /src
#   scripts/qt68-check.sh headless   prepare, build -DAGMEM_GUI=OFF (app only), check it
#                                    links no Qt6Widgets/Qt6Gui
#   scripts/qt68-check.sh clean      unmount and delete the cached root (not the ccache)
#
# Needs root (debootstrap, chroot, mount) and network access to deb.debian.org on the first
# run. Everything it keeps lives outside the clone:
#   AGMEM_TRIXIE_DIR   (default /var/cache/agmem-trixie)
#       root/          the Debian 13 root; root.stamp says debootstrap finished,
#                      packages.stamp which package list is installed (changing the list
#                      below installs the difference on the next run)
#       ccache/        the compiler cache of the chroot builds (CCACHE_MAXSIZE 4G)
#   The build folder is root/build (kept between runs: incremental builds).
# Environment: AGMEM_TRIXIE_MIRROR (default http://deb.debian.org/debian), JOBS (ninja -j),
#              NINJA_FLAGS (e.g. "-k 0" to see every error), TARGETS (build only these),
#              AGMEM_TRIXIE_SANITIZE (default ON), CTEST_ARGS (extra ctest arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

cache=${AGMEM_TRIXIE_DIR:-/var/cache/agmem-trixie}
root=$cache/root
mirror=${AGMEM_TRIXIE_MIRROR:-http://deb.debian.org/debian}
sanitize=${AGMEM_TRIXIE_SANITIZE:-ON}
cmd=${1:-check}

packages=(
    cmake ninja-build g++ pkg-config ccache
    qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qt6-tools-dev qt6-tools-dev-tools
    qt6-l10n-tools qt6-svg-dev qt6-charts-dev libgl-dev
    libqt6sql6-sqlite libqt6sql6-psql qt6-translations-l10n
    postgresql openssl prometheus zlib1g-dev
    curl python3 ca-certificates binutils
)

if [ "$(id -u)" -ne 0 ]; then
    echo "qt68-check: needs root (debootstrap, chroot, mount); run with sudo" >&2
    exit 1
fi

log() { echo "qt68-check: $*" >&2; }

# Every mount this script makes under $root, most nested last.
mount_points=("$root/proc" "$root/dev" "$root/src" "$root/ccache")

unmount_all() {
    local m
    for ((i = ${#mount_points[@]} - 1; i >= 0; i--)); do
        m=${mount_points[i]}
        if mountpoint -q "$m"; then
            umount -R "$m" 2>/dev/null || umount -R -l "$m" || log "could not unmount $m"
        fi
    done
}

# True when nothing is mounted below $1 (so deleting it cannot reach /dev or the tree).
nothing_mounted_below() {
    ! awk -v p="$1/" 'index($2 "/", p) == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}

safe_delete() {
    local dir=$1
    [ -e "$dir" ] || return 0
    if ! nothing_mounted_below "$dir"; then
        log "refusing to delete $dir: something is still mounted below it"
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

mount_all() {
    mkdir -p "$root/proc" "$root/dev" "$root/src" "$root/ccache" "$cache/ccache"
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    if ! mountpoint -q "$root/dev"; then
        # PostgreSQL needs /dev/shm; rslave: unmounting here never unmounts the host's /dev.
        mount --rbind /dev "$root/dev"
        mount --make-rslave "$root/dev"
    fi
    mountpoint -q "$root/src" || mount --bind "$src" "$root/src"
    mountpoint -q "$root/ccache" || mount --bind "$cache/ccache" "$root/ccache"
}

in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive CI="${CI:-true}" \
        CCACHE_DIR=/ccache CCACHE_BASEDIR=/src CCACHE_MAXSIZE=4G "$@"
}

prepare() {
    mkdir -p "$cache"
    if [ ! -e "$cache/root.stamp" ]; then
        # A half-made root from an interrupted run: unmount, then delete it.
        unmount_all
        safe_delete "$root"
        safe_delete "$root.tmp"
        command -v debootstrap >/dev/null || {
            log "installing debootstrap"
            apt-get install -y -q -o DPkg::Lock::Timeout=600 debootstrap >/dev/null
        }
        log "debootstrap trixie into $root (about a minute)"
        debootstrap --variant=minbase trixie "$root.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
            tail -20 "$cache/debootstrap.log" >&2
            exit 1
        }
        mv "$root.tmp" "$root"
        rm -f "$cache/packages.stamp"
        date -u >"$cache/root.stamp"
    fi
    local want
    want=$(printf '%s\n' "${packages[@]}" | sort | sha256sum | cut -c1-16)
    if [ "$(cat "$cache/packages.stamp" 2>/dev/null)" != "$want" ]; then
        mount_all
        # The host's resolver, so apt can reach the mirror.
        cp -L /etc/resolv.conf "$root/etc/resolv.conf"
        # No services start inside the root while packages install (postgresql's cluster).
        printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
        chmod +x "$root/usr/sbin/policy-rc.d"
        log "installing ${#packages[@]} packages in the root"
        in_root apt-get update -q >/dev/null
        in_root apt-get install -y -q --no-install-recommends "${packages[@]}" \
            >"$cache/apt.log" 2>&1 || {
            tail -30 "$cache/apt.log" >&2
            exit 1
        }
        in_root apt-get clean
        echo "$want" >"$cache/packages.stamp"
    fi
}

build() {
    local gui=${1:-ON}
    local dir=${2:-/build}
    shift 2 || true
    # The build folder is kept between runs of the same tree and commit (incremental). For
    # another tree or commit it starts empty (ccache keeps that cheap): ninja compares
    # modification times, and sources of another checkout can be older than its objects.
    local stamp="$root$dir.source"
    local id
    id="$src $(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$id" ]; then
        rm -rf --one-file-system "${root:?}$dir" "$stamp"
    fi
    mount_all
    in_root qmake6 -query QT_VERSION 2>/dev/null | sed 's/^/qt68-check: Qt in the root: /' >&2 || true
    in_root cmake -S /src -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAGMEM_WERROR=ON \
        -DAGMEM_SANITIZE="$sanitize" -DAGMEM_GUI="$gui" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
        "$@" >/dev/null
    echo "$id" >"$stamp"
    # shellcheck disable=SC2086
    in_root nice cmake --build "$dir" ${JOBS:+-j "$JOBS"} ${TARGETS:+--target $TARGETS} \
        -- ${NINJA_FLAGS:-}
}

run_tests() {
    # ASan/UBSan: any report fails the test that triggered it (the same options as .ci/run).
    # shellcheck disable=SC2086
    in_root env \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        LSAN_OPTIONS=suppressions=/src/.ci/lsan.supp:print_suppressions=0 \
        ctest --test-dir /build --output-on-failure -LE browser ${CTEST_ARGS:-}
}

case "$cmd" in
clean)
    mkdir -p "$cache"
    exec 9>"$cache/lock"
    flock 9
    unmount_all
    safe_delete "$root"
    rm -f "$cache/root.stamp" "$cache/packages.stamp"
    log "deleted $root (the ccache in $cache/ccache is kept)"
    exit 0
    ;;
prepare | build | check | shell | headless) ;;
*)
    echo "usage: $0 [check|prepare|build|shell|headless|clean]" >&2
    exit 2
    ;;
esac

# One run at a time: a second one would unmount what the first still uses.
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
    log "another qt68-check.sh is running; waiting for it"
    flock 9
fi
trap unmount_all EXIT
trap 'exit 130' INT TERM

prepare
case "$cmd" in
prepare) ;;
build) build ON /build ;;
check)
    build ON /build
    run_tests
    ;;
headless)
    # The app target only, in its own small build folder, without the sanitizers.
    sanitize=OFF TARGETS=agmem-coordinator build OFF /build-headless -DAGMEM_BUILD_TESTS=OFF
    bin=$root/build-headless/src/app/agmem-coordinator
    if readelf -d "$bin" | grep -E 'NEEDED.*(Qt6Widgets|Qt6Gui|Qt6Svg)'; then
        log "the -DAGMEM_GUI=OFF binary links GUI libraries"
        exit 1
    fi
    in_root /build-headless/src/app/agmem-coordinator --version
    log "-DAGMEM_GUI=OFF: $(readelf -d "$bin" | grep -c NEEDED) libraries, none of Qt6Widgets/Gui/Svg"
    ;;
shell)
    mount_all
    in_root bash -l
    ;;
esac
