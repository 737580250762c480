#!/usr/bin/env bash
# Sets up a Debian 12 (or Ubuntu 24.04) machine for agmem-coordinator, then builds it.
#   scripts/bootstrap.sh          install what is missing, configure and build into ./build
#   scripts/bootstrap.sh run ARGS build, then run the coordinator (the window; --no-gui for headless)
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
#              CMAKE_ARGS (extra configure arguments).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    cmake ninja-build g++ pkg-config
    qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qt6-tools-dev qt6-tools-dev-tools
    qt6-l10n-tools qt6-svg-dev qt6-charts-dev libqt6svg6 libgl-dev
    libqt6sql6-sqlite libqt6sql6-psql
    qt6-translations-l10n    # Qt's own strings (OK, Cancel, file dialogs) in the window's language
    postgresql
    openssl
    prometheus    # promtool, for the /metrics test
    zlib1g-dev    # gzip for /pull
    chromium chromium-driver python3-selenium    # the web dashboard tests (ctest -L browser)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # Waits for dpkg's lock rather than failing when another apt-get holds it.
    $sudo apt-get -q -o DPkg::Lock::Timeout=600 update
    $sudo apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-}
cmake --build "$build_dir"

if [ "${1:-}" = run ]; then
    shift
    exec "$build_dir/src/app/agmem-coordinator" "$@"
fi
