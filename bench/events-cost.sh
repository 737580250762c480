#!/usr/bin/env bash
# The server's own cost per push with N open GET /events streams against none: numbers
# that do not depend on the machine's load (instructions and CPU time of the server
# process per push, from perf stat), beside pushes/s (which do).
#
# Usage: bench/events-cost.sh path/to/agmem-coordinator
#   STREAMS=64   streams in the "with" runs      ROUNDS=3   alternating 0 / STREAMS rounds
#   DURATION=8   seconds of wrk per run          CONNS=32   wrk connections
#   READER_CPU=  a CPU list for the readers' process (taskset), e.g. 1
#   ENCODING=gzip  the readers accept gzip (as browsers do); default: plain text
# Each run: a new server (--durability normal, no access log, empty SQLite store), the
# readers (one Python process, bench/sse-readers.py) connected and past their first
# event, then `wrk -t2 -cCONNS -dDURATION -s bench/push.lua` under
# `perf stat -e instructions,task-clock -p SERVER` (instructions: n/a where the machine has
# no hardware counters, as in most VMs). Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/events-cost.sh path/to/agmem-coordinator}
streams=${STREAMS:-64}
rounds=${ROUNDS:-3}
duration=${DURATION:-8}
conns=${CONNS:-32}
work=$(mktemp -d)
pid=
rpid=
cleanup() {
    [ -n "$rpid" ] && { kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; }
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
times_of() { awk '{print $14, $15}' "/proc/$1/stat"; } # user and system ticks
pushes() { curl -s "$url/" | sed 's/.*"total_pushes":\([0-9]*\).*/\1/'; }

run() { # streams
    "$bin" --no-gui --port 0 --db "sqlite://$work/bench.db" --rate-limit 0 --no-access-log \
        --durability normal --max-event-streams 1000 >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 600); do
        grep -q listening "$work/out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    url=$(sed -n 's/.*listening on //p' "$work/out")
    [ -n "$url" ] || { echo "did not start:"; cat "$work/out" "$work/err"; exit 1; }
    local pin=(); [ -n "${READER_CPU:-}" ] && pin=(taskset -c "$READER_CPU")
    "${pin[@]}" python3 bench/sse-readers.py "$url" "$1" ${ENCODING:-} >"$work/readers" &
    rpid=$!
    for _ in $(seq 300); do grep -q ready "$work/readers" && break; sleep 0.1; done
    grep -q ready "$work/readers" || { echo "readers not ready"; exit 1; }
    local n0; n0=$(pushes)
    local t0; t0=$(times_of "$pid")
    perf stat -x, -e instructions,task-clock -p "$pid" -o "$work/perf" -- \
        wrk -t2 -c"$conns" -d"${duration}s" -s bench/push.lua "$url" >"$work/wrk"
    local n1; n1=$(pushes)
    local t1; t1=$(times_of "$pid")
    kill "$rpid"; wait "$rpid" || true; rpid=
    local got; got=$(awk '/received/ {print $2}' "$work/readers")
    kill "$pid"; wait "$pid" || true; pid=; rm -f "$work"/bench.db*
    local n=$((n1 - n0))
    local ins; ins=$(awk -F, '$3 ~ /instructions/ {print $1}' "$work/perf")
    [[ "$ins" =~ ^[0-9]+$ ]] && ins=$(awk -v a="$ins" -v n="$n" 'BEGIN {printf "%.0f", a / n}') || ins="n/a"
    local sys; sys=$(awk -v a="$t0" -v b="$t1" 'BEGIN {split(a, x, " "); split(b, y, " ");
        u = y[1] - x[1]; s = y[2] - x[2]; printf "%.0f", ((u + s) > 0 ? 100 * s / (u + s) : 0)}')
    local clk; clk=$(awk -F, '$3 ~ /task-clock/ {print $1}' "$work/perf")
    printf '| %s | %s | %s | %.1f | %s %% | %.0f | %s | %s |\n' "$1" "$n" "$ins" \
        "$(awk -v a="$clk" -v n="$n" 'BEGIN {print a * 1000 / n}')" "$sys" \
        "$(awk '/Requests\/sec/ {print $2}' "$work/wrk")" \
        "$(awk -v b="${got:-0}" -v n="$n" 'BEGIN {printf "%.0f", b / (n > 0 ? n : 1)}')" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== $(date -u +%FT%TZ)  bin: $bin  wrk -t2 -c$conns -d${duration}s, readers: one process${READER_CPU:+ on CPU $READER_CPU}, ${ENCODING:-plain}"
echo "| streams | pushes | server instructions / push | server CPU µs / push | of it in the kernel | pushes/s | bytes sent per push (all streams) | load after |"
echo "|---|---|---|---|---|---|---|---|"
for _ in $(seq "$rounds"); do
    run 0
    run "$streams"
done
