#!/usr/bin/env bash
# Measures the GUI event loop (AGMEM_GUI_STALL_PROBE=1: a 5 ms precise timer on the GUI
# thread records the gaps between its ticks) of the real app with its window:
#   load:   the worst stall while bench/push.lua pushes at full speed, one run per tab shown;
#   launch: with 1,000,000 facts in the store (100 agents x 10,000), how long until the
#           window is painted, the server serves (/health, then a whole /pull answered)
#           and the first snapshot is shown; then
#           the stall of a push that replaces 10,000 of the million facts;
#   outage: PostgreSQL hangs (its processes stopped with SIGSTOP for OUTAGE seconds, so
#           connections neither answer nor fail): the worst stall, when the window shows
#           the database as unreachable, and when it recovers after SIGCONT.
# Usage: bench/gui-stall.sh path/to/agmem-coordinator   (a Release build; nothing is built)
# Environment: MODES (default "load launch outage"), DURATION (seconds of load per tab,
# default 20), TABS (default "agents topics facts activity"), AGENTS (default 1000),
# LAUNCHES (launch runs, default 3), OUTAGE (seconds, default 15). Needs wrk, python3, awk,
# curl, PostgreSQL for the outage (scripts/pg-test-server.sh), and Xvfb unless DISPLAY is
# set (QT_QPA_PLATFORM=offscreen without either). Talks to 127.0.0.1 only; every run is
# bounded, and only the processes this script started are signalled.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/gui-stall.sh path/to/agmem-coordinator}
[ -x "$bin" ] || { echo "gui-stall: $bin is not an executable"; exit 1; }
command -v wrk >/dev/null || { echo "gui-stall: wrk is missing (apt-get install wrk)"; exit 1; }
modes=${MODES:-load launch outage}
duration=${DURATION:-20}
tabs=${TABS:-agents topics facts activity}
export AGENTS=${AGENTS:-1000}
work=$(mktemp -d)
pid=
xvfb=
pgdir=
stopped=()
cleanup() {
    [ ${#stopped[@]} -gt 0 ] && kill -CONT "${stopped[@]}" 2>/dev/null || true
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    [ -n "$pgdir" ] && scripts/pg-test-server.sh stop "$pgdir" >/dev/null 2>&1 || true
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

now_ms() { date +%s%3N; }
# The epoch milliseconds of a probe mark in the app's log, empty until it is there.
mark() { # file name
    sed -n "s/.*stall probe mark: $2 at \([0-9]*\).*/\1/p" "$1" | head -1
}
probe_line() { # file -> "worst p99.9 p99 p50" of the at-exit report
    local line; line=$(grep 'stall probe (at exit, whole run): ' "$1" | tail -1)
    [ -n "$line" ] || { echo "gui-stall: no probe report" >&2; tail -5 "$1" >&2; return 1; }
    sed 's/.*worst gap \([0-9.]*\) ms, p99.9 \([0-9.]*\) ms, p99 \([0-9.]*\) ms, p50 \([0-9.]*\) ms.*/\1 \2 \3 \4/' <<<"$line"
}
wait_for() { # seconds command...: polls every 20 ms
    local until=$(($(now_ms) + $1 * 1000)); shift
    while ! "$@"; do [ "$(now_ms)" -lt "$until" ] || return 1; sleep 0.02; done
}
app_url() { sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$1" | head -1; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a - b) / 1000 }'; } # later earlier (ms)
has_url() { [ -n "$(app_url "$1")" ]; }
has_mark() { [ -n "$(mark "$1" "$2")" ]; }
# CPU seconds a process's threads used so far (load-independent, unlike the wall times):
# all of them, the main (GUI) thread, or those whose name starts with a prefix.
cpu_of() { # pid [main | thread-name-prefix]
    local sum=0 t ticks
    for t in /proc/"$1"/task/*; do
        case "${2:-}" in
        "") ;;
        main) [ "${t##*/}" = "$1" ] || continue ;;
        *) case "$(cat "$t/comm" 2>/dev/null)" in "$2"*) ;; *) continue ;; esac ;;
        esac
        ticks=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')
        sum=$((sum + ${ticks:-0}))
    done
    awk -v t="$sum" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# 100 pushes of 10,000 facts each (64 hex characters, as agmem's SHA-256 hashes), over HTTP;
# ROUND shifts the facts of agent 0 (a push that replaces all its 10,000).
fill_facts() { # url round agents
    python3 - "$1" "$2" "$3" <<'PY'
import hashlib, json, sys, urllib.request
url, round_, agents = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for a in range(agents):
    base = a * 10000 + (round_ * 10_000_000 if a == 0 else 0)
    facts = [hashlib.sha256(str(base + i).encode()).hexdigest() for i in range(10000)]
    body = json.dumps({"summary": {"agent_id": "agent-%03d" % a,
                                   "timestamp": "2026-11-27T10:%02d:00Z" % (round_ % 60),
                                   "topic_counts": {"bench": 1}, "fact_hashes": facts}}).encode()
    req = urllib.request.Request(url + "/push", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
PY
}

launch_runs() {
    local db="$work/million.db"
    echo "== launch with 1,000,000 facts (100 agents x 10,000), Facts tab," \
        "display ${QT_QPA_PLATFORM:-xcb on $DISPLAY}"
    mkdir -p "$work/fill"
    XDG_CONFIG_HOME="$work/fill" "$bin" --no-gui --port 0 --db "sqlite://$db" --no-access-log \
        --rate-limit 0 >"$work/fill/out" 2>"$work/fill/err" &
    pid=$!
    wait_for 30 grep -q 'listening on' "$work/fill/out" || { echo "gui-stall: fill server"; exit 1; }
    local url; url=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/fill/out")
    fill_facts "$url" 0 100
    kill -TERM "$pid"; wait "$pid" || true; pid=
    echo "          database: $(du -m "$db" | cut -f1) MB"
    for n in $(seq "${LAUNCHES:-3}"); do
        rm -rf "$work/run"; mkdir -p "$work/run/config"
        sync; sleep 1
        local load; load=$(cut -d' ' -f1 /proc/loadavg)
        local t0; t0=$(now_ms)
        XDG_CONFIG_HOME="$work/run/config" AGMEM_GUI_STALL_PROBE=1 AGMEM_GUI_TAB=facts \
            "$bin" --port 0 --db "sqlite://$db" --no-access-log --rate-limit 0 \
            >"$work/run/out" 2>"$work/run/err" &
        pid=$!
        wait_for 60 has_url "$work/run/err" || { echo "gui-stall: no server"; cat "$work/run/err"; exit 1; }
        url=$(app_url "$work/run/err")
        wait_for 30 curl -sf -o /dev/null --max-time 1 "$url/health" || { echo "gui-stall: no answer"; exit 1; }
        local serving; serving=$(now_ms)
        local cpu_serving; cpu_serving=$(cpu_of "$pid" agmem-server)
        # The whole merged view (1M facts, ~68 MB of JSON): the first /pull answered.
        curl -sf -o /dev/null --max-time 60 "$url/pull" || { echo "gui-stall: no /pull"; exit 1; }
        local pulled; pulled=$(now_ms)
        wait_for 60 has_mark "$work/run/err" 'first snapshot shown' ||
            { echo "gui-stall: no snapshot"; tail "$work/run/err"; exit 1; }
        local cpu_reader cpu_gui cpu_all
        cpu_reader=$(cpu_of "$pid" agmem-window-re)
        cpu_gui=$(cpu_of "$pid" main)
        cpu_all=$(cpu_of "$pid")
        local shown filled
        shown=$(mark "$work/run/err" 'window shown')
        filled=$(mark "$work/run/err" 'first snapshot shown')
        local rss; rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
        # The probe from here: a push that replaces agent 0's 10,000 facts (20,000 rows leave
        # or enter the sorted list of a million), shown by the window.
        sleep 1
        kill -USR1 "$pid"
        sleep 0.5
        fill_facts "$url" "$n" 1
        sleep 3
        kill -TERM "$pid"; wait "$pid" || true; pid=
        read -r worst p999 p99 p50 < <(probe_line "$work/run/err")
        printf 'launch %s   window painted %5.2f s, serving %5.2f s, first /pull %5.2f s, facts shown %5.2f s after start (RSS %s MB, load %s)\n' \
            "$n" "$(secs "$shown" "$t0")" "$(secs "$serving" "$t0")" "$(secs "$pulled" "$t0")" \
            "$(secs "$filled" "$t0")" "$rss" "$load"
        printf '          CPU: server thread %s s when serving; when the facts were shown: window reader %s s, GUI thread %s s, process %s s\n' \
            "$cpu_serving" "$cpu_reader" "$cpu_gui" "$cpu_all"
        printf '          push replacing 10,000 of 1M facts: worst stall %s ms  p99.9 %s ms  p99 %s ms  p50 %s ms\n' \
            "$worst" "$p999" "$p99" "$p50"
        grep 'stall probe (at exit, whole run) sections: ' "$work/run/err" | tail -1 |
            sed 's/.*sections: /          /; s/; /\n          /g' || true
    done
}

outage_run() {
    local seconds=${OUTAGE:-15}
    pgdir=/tmp/agmem-gui-stall-pg-$$
    local dburl; dburl=$(scripts/pg-test-server.sh start "$pgdir" "$work/pg-url" | tail -1)
    case "$dburl" in postgresql://*) ;; *) echo "gui-stall: no PostgreSQL ($dburl)"; pgdir=; return;; esac
    echo "== PostgreSQL outage: its processes stopped with SIGSTOP for ${seconds} s, Agents tab"
    rm -rf "$work/run"; mkdir -p "$work/run/config"
    XDG_CONFIG_HOME="$work/run/config" AGMEM_GUI_STALL_PROBE=1 AGMEM_GUI_TAB=agents \
        "$bin" --port 0 --db "$dburl" --no-access-log --rate-limit 0 \
        >"$work/run/out" 2>"$work/run/err" &
    pid=$!
    wait_for 60 has_url "$work/run/err" || { echo "gui-stall: no server"; cat "$work/run/err"; exit 1; }
    local url; url=$(app_url "$work/run/err")
    for i in $(seq 20); do
        curl -sf -o /dev/null --max-time 5 -H 'Content-Type: application/json' "$url/push" \
            -d "{\"summary\":{\"agent_id\":\"agent-$i\",\"timestamp\":\"2026-11-27T10:00:00Z\",\"topic_counts\":{\"t\":1},\"fact_hashes\":[\"f$i\"]}}"
    done
    sleep 3
    kill -USR1 "$pid"
    sleep 1
    # The cluster's own processes: its postmaster (postmaster.pid) and its children.
    local master; master=$(head -1 "$pgdir/data/postmaster.pid")
    mapfile -t stopped < <(echo "$master"; ps -o pid= --ppid "$master" | tr -d ' ')
    local t0; t0=$(now_ms)
    kill -STOP "${stopped[@]}"
    # Agents keep pushing meanwhile (each request waits for the database, up to 3 s).
    local curls=()
    for i in $(seq 5); do
        curl -s -o /dev/null --max-time 3 -H 'Content-Type: application/json' "$url/push" \
            -d "{\"summary\":{\"agent_id\":\"late-$i\",\"timestamp\":\"2026-11-27T10:00:00Z\",\"topic_counts\":{},\"fact_hashes\":[]}}" &
        curls+=($!)
    done
    sleep "$seconds"
    local t1; t1=$(now_ms)
    kill -CONT "${stopped[@]}"
    stopped=()
    wait_for 60 has_mark "$work/run/err" 'database banner hidden' || true
    sleep 2
    kill -TERM "$pid"; wait "$pid" || true; pid=
    wait "${curls[@]}" 2>/dev/null || true
    read -r worst p999 p99 p50 < <(probe_line "$work/run/err")
    local shown hidden
    shown=$(mark "$work/run/err" 'database banner shown')
    hidden=$(mark "$work/run/err" 'database banner hidden')
    printf 'outage     worst stall %7s ms  p99.9 %6s ms  p99 %6s ms  p50 %5s ms (from 1 s before SIGSTOP to the end)\n' \
        "$worst" "$p999" "$p99" "$p50"
    printf '           banner shown %s s after SIGSTOP, gone %s s after SIGCONT\n' \
        "${shown:+$(secs "$shown" "$t0")}" "${hidden:+$(secs "$hidden" "$t1")}"
    grep 'stall probe (at exit, whole run) sections: ' "$work/run/err" | tail -1 |
        sed 's/.*sections: /           /; s/; /\n           /g' || true
    scripts/pg-test-server.sh stop "$pgdir" >/dev/null 2>&1 || true
    pgdir=
}

for m in $modes; do
    case "$m" in
    load)
        echo "== GUI stall under push load: wrk -t2 -c32 -d${duration}s -s bench/push.lua ($AGENTS agents)," \
            "display ${QT_QPA_PLATFORM:-xcb on $DISPLAY}"
        for tab in $tabs; do run "$tab"; done ;;
    launch) launch_runs ;;
    outage) outage_run ;;
    *) echo "gui-stall: unknown mode $m"; exit 2 ;;
    esac
done
