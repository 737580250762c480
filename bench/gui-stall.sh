#!/usr/bin/env bash
# Measures the GUI event loop's worst stall while bench/push.lua pushes at full speed: the
# real app with its window (AGMEM_GUI_STALL_PROBE=1: a 5 ms precise timer on the GUI thread
# records the gaps between its ticks), one run per tab shown.
# Usage: bench/gui-stall.sh path/to/agmem-coordinator   (a Release build; nothing is built)
# Environment: DURATION (seconds of load per tab, default 20), TABS (default
# "agents topics facts activity"), AGENTS (default 1000). Needs wrk, and Xvfb unless
# DISPLAY is set (QT_QPA_PLATFORM=offscreen without either). Talks to 127.0.0.1 only;
# every run is bounded (DURATION seconds of wrk, then SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/gui-stall.sh path/to/agmem-coordinator}
[ -x "$bin" ] || { echo "gui-stall: $bin is not an executable"; exit 1; }
command -v wrk >/dev/null || { echo "gui-stall: wrk is missing (apt-get install wrk)"; exit 1; }
duration=${DURATION:-20}
tabs=${TABS:-agents topics facts activity}
export AGENTS=${AGENTS:-1000}
work=$(mktemp -d)
pid=
xvfb=
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    [ -n "$xvfb" ] && { kill "$xvfb" 2>/dev/null || true; wait "$xvfb" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    if command -v Xvfb >/dev/null; then
        for n in $(seq 90 120); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break; done
        Xvfb ":$n" -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
        xvfb=$!
        export DISPLAY=":$n"
        for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    else
        export QT_QPA_PLATFORM=offscreen
    fi
fi
echo "== GUI stall under push load: wrk -t2 -c32 -d${duration}s -s bench/push.lua ($AGENTS agents)," \
    "display ${QT_QPA_PLATFORM:-xcb on $DISPLAY}"

run() { # tab
    local tab=$1
    rm -rf "$work/run"; mkdir -p "$work/run/config"
    # A settings folder of its own: default window geometry, serving at launch.
    XDG_CONFIG_HOME="$work/run/config" AGMEM_GUI_STALL_PROBE=1 AGMEM_GUI_TAB="$tab" \
        "$bin" --port 0 --db "sqlite://$work/run/bench.db" --no-access-log --rate-limit 0 \
        >"$work/run/out" 2>"$work/run/err" &
    pid=$!
    local url=
    for _ in $(seq 100); do
        url=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/run/err" | head -1)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "gui-stall: the app did not start"; cat "$work/run/err"; exit 1; }
    sleep 2 # the window is up and idle
    # Other work on the machine shows in the stalls: the 1-minute load average before the run.
    local load; load=$(cut -d' ' -f1 /proc/loadavg)
    kill -USR1 "$pid" # the probe starts afresh: only the load is measured
    local out; out=$(wrk -t2 -c32 -d"${duration}s" -s bench/push.lua "$url")
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    local line; line=$(grep 'stall probe (at exit, whole run): ' "$work/run/err" | tail -1)
    [ -n "$line" ] || { echo "gui-stall: no probe report"; tail -5 "$work/run/err"; exit 1; }
    local worst p999 p99 p50
    worst=$(sed 's/.*worst gap \([0-9.]*\) ms.*/\1/' <<<"$line")
    p999=$(sed 's/.*p99.9 \([0-9.]*\) ms.*/\1/' <<<"$line")
    p99=$(sed 's/.*p99 \([0-9.]*\) ms.*/\1/' <<<"$line")
    p50=$(sed 's/.*p50 \([0-9.]*\) ms.*/\1/' <<<"$line")
    printf '%-9s worst stall %7s ms  p99.9 %6s ms  p99 %6s ms  p50 %5s ms  (%s pushes/s, load %s)\n' \
        "$tab" "$worst" "$p999" "$p99" "$p50" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$load"
    # The worst 10-second windows, to see whether the stalls are steady or one-off.
    grep 'stall probe (last 10 s): ' "$work/run/err" | sed 's/.*worst gap \([0-9.]*\) ms.*/\1/' |
        sort -rn | head -3 | tr '\n' ' ' | sed 's/^/          worst 10-s windows (ms): /; s/$/\n/' || true
    # The GUI work timed inside the stalls (refresh = store read + models).
    grep 'stall probe (at exit, whole run) sections: ' "$work/run/err" | tail -1 |
        sed 's/.*sections: /          /; s/; /\n          /g' || true
}

for tab in $tabs; do run "$tab"; done
