#!/usr/bin/env bash
# The DEB, end to end, on this Debian 12 machine: builds it with cpack, installs it with
# apt, checks the installed files, runs the installed binary the way
# agmem-coordinator.service does (as an unprivileged user, --no-gui, DATABASE_URL in a
# private state folder) and asks /health, pushes and pulls, stops it with SIGTERM, then
# purges the package and checks that none of its files are left.
#   scripts/check-deb.sh [BUILD_DIR]   (default build-deb; configured and built if needed)
# Needs root (or sudo) and apt. Refuses to run when agmem-coordinator is already installed.
# `ctest -L package` runs it when configured with -DAGMEM_PACKAGE_TESTS=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(realpath -m "${1:-build-deb}")
pkg=agmem-coordinator

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_get() { $sudo apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"; }

step() { printf '\n== %s\n' "$*"; }
fail() {
    printf 'check-deb: FAIL: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    fail "$pkg is already installed here; purge it first (apt-get purge $pkg)"
fi

# Tools this check needs besides the build: dpkg-shlibdeps (cpack) and curl.
need=()
have dpkg-shlibdeps || need+=(dpkg-dev)
have curl || need+=(curl)
if ((${#need[@]})); then
    echo "check-deb: installing ${need[*]}"
    apt_get install --no-install-recommends "${need[@]}"
fi

work=$(mktemp -d /tmp/check-deb.XXXXXX)
chmod 755 "$work"
server_pid=""
installed=0
cleanup() {
    local code=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$installed" = 1 ]; then
        echo "check-deb: purging $pkg after a failure" >&2
        apt_get purge "$pkg" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit "$code"
}
trap cleanup EXIT

# Files named like the package anywhere the package could write; compared after the purge.
snapshot() {
    find /usr /etc /var/lib /opt -xdev \( -iname '*agmem*' \) 2>/dev/null | sort
}

step "build and cpack -G DEB ($build)"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGMEM_BUILD_TESTS=OFF
fi
cmake --build "$build"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
deb=$(find "$work/out" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
[ -n "$deb" ] || fail "cpack made no .deb"
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
echo "$deb: version $version"
echo "Depends: $depends"
for dep in libqt6core6 libqt6network6 libqt6httpserver6 libqt6sql6-sqlite libqt6sql6-psql \
    qt6-qpa-plugins libqt6svg6; do
    [[ ", $depends," == *", $dep"[\ ,]* ]] || fail "Depends lacks $dep"
done
expected_version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ "$version" = "$expected_version" ] || fail "package version $version, project() says $expected_version"

step "apt-get install ./$(basename "$deb")"
before=$(snapshot)
cp "$deb" "$work/"
installed=1
apt_get install "$work/$(basename "$deb")"
dpkg -L "$pkg" | sort >"$work/files"

step "installed files"
# Slim container images tell dpkg to skip manual pages (path-exclude).
man_page=/usr/share/man/man1/agmem-coordinator.1.gz
if grep -qs "^path-exclude.*/usr/share/man" /etc/dpkg/dpkg.cfg.d/*; then
    echo "note: dpkg excludes /usr/share/man here; not checking the manual page"
    man_page=""
fi
for f in /usr/bin/agmem-coordinator \
    /usr/share/applications/agmem-coordinator.desktop \
    /usr/share/metainfo/io.github.agmem.Coordinator.metainfo.xml \
    /usr/share/icons/hicolor/scalable/apps/agmem-coordinator.svg \
    $man_page \
    /usr/lib/systemd/system/agmem-coordinator.service \
    /etc/default/agmem-coordinator; do
    [ -f "$f" ] || fail "$f is not installed"
    grep -qx "$f" "$work/files" || fail "$f is not in dpkg -L $pkg"
    echo "ok $f"
done
dpkg-query -W -f='${Conffiles}\n' "$pkg" | grep -q '/etc/default/agmem-coordinator' ||
    fail "/etc/default/agmem-coordinator is not a conffile"
got=$(/usr/bin/agmem-coordinator --version)
[ "$got" = "agmem-coordinator $version" ] || fail "--version says \"$got\", expected $version"
echo "ok --version: $got"
if have desktop-file-validate; then
    desktop-file-validate /usr/share/applications/agmem-coordinator.desktop
    echo "ok desktop-file-validate"
fi
if have appstreamcli; then
    appstreamcli validate --no-net /usr/share/metainfo/io.github.agmem.Coordinator.metainfo.xml
fi
if [ -n "$man_page" ] && have man; then
    man -w agmem-coordinator | grep -q /usr/share/man/man1/agmem-coordinator.1.gz ||
        fail "man does not find the page"
    MANWIDTH=80 man agmem-coordinator 2>&1 | grep -q -- '--no-gui' || fail "man page lacks --no-gui"
    echo "ok man agmem-coordinator"
fi
if have systemd-analyze; then
    systemd-analyze verify /usr/lib/systemd/system/agmem-coordinator.service
    echo "ok systemd-analyze verify"
fi

step "run it as the unit does"
unit=/usr/lib/systemd/system/agmem-coordinator.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/agmem-coordinator --no-gui" ] || fail "unexpected ExecStart=$exec_start"
state_unit=/var/lib/agmem-coordinator
grep -q "^StateDirectory=agmem-coordinator$" "$unit" || fail "the unit has no StateDirectory"
# The unit's Environment= and EnvironmentFile= values, with the state folder replaced by a
# private one (what StateDirectory= gives the service's dynamic user).
state="$work/state"
mkdir -m 750 "$state"
chown nobody:nogroup "$state"
envs=()
while IFS= read -r line; do envs+=("${line//$state_unit/$state}"); done \
    < <(sed -n 's/^Environment=//p' "$unit")
while IFS= read -r line; do envs+=("$line"); done \
    < <(grep -E '^[A-Z_][A-Z0-9_]*=' /etc/default/agmem-coordinator || true)
printf 'env: %s\n' "${envs[@]}"
# A free port instead of 8000 (the unit passes no --port, so the environment decides).
# shellcheck disable=SC2086
env -i PATH=/usr/bin:/bin "${envs[@]}" AGMEM_COORDINATOR_PORT=0 \
    setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs -- \
    $exec_start >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
url=""
for _ in $(seq 100); do
    url=$(sed -n 's/^agmem-coordinator listening on //p' "$work/stdout")
    [ -n "$url" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr"; fail "the server exited"; }
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/stderr"; fail "the server did not report its address"; }
url=${url%/}
echo "listening on $url"
health=$(curl -fsS --max-time 5 "$url/health") || fail "/health did not answer 200"
[[ "$health" == *'"status":"healthy"'* ]] || fail "/health said $health"
echo "ok /health: $health"
body=$(sed '1,/^\r\?$/d' "$src/tests/data/client-push.http")
code=$(curl -sS --max-time 5 -o "$work/push" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$body" "$url/push")
[ "$code" = 200 ] || fail "POST /push answered $code: $(cat "$work/push")"
agent=$(sed -n 's/.*"agent_id": *"\([^"]*\)".*/\1/p' "$work/push")
curl -fsS --max-time 5 "$url/pull" | grep -q '"contributing_agents":1' || fail "/pull lacks the push"
echo "ok push ($agent) and pull"
db="$state/coordinator.db"
[ -f "$db" ] || fail "no database at $db"
[ "$(stat -c %U "$db")" = nobody ] || fail "$db is owned by $(stat -c %U "$db"), not the service user"
echo "ok $db owned by nobody"
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
[ "$status" = 0 ] || { cat "$work/stderr"; fail "SIGTERM: exit status $status"; }
echo "ok SIGTERM: exit status 0"

step "apt-get purge $pkg"
apt_get purge "$pkg"
installed=0
dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' && fail "still installed"
left=0
while IFS= read -r f; do
    # Directories such as /usr/share/man/man1 belong to other packages too.
    if [ -e "$f" ] && [ ! -d "$f" ]; then
        echo "left behind: $f" >&2
        left=1
    fi
done <"$work/files"
after=$(snapshot)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") >&2 || true
    left=1
fi
[ "$left" = 0 ] || fail "the purge left files behind"
echo "ok nothing of $pkg is left ($(wc -l <"$work/files") paths checked)"

printf '\ncheck-deb: PASS (%s)\n' "$(basename "$deb")"
