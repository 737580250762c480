#!/usr/bin/env bash
# CPU per 1000 pushes of each of the server's threads (agmem-server: HTTP; agmem-writer:
# the store; agmem-accesslog) and in total, at 32 keep-alive connections of bench/push.lua.
#
# Usage: bench/thread-cpu.sh path/to/agmem-coordinator [more server options...]
#   DURATION=8   seconds of wrk (after a 2 s warm-up)
#   TMPBASE=/dev/shm   where the SQLite file goes (tmpfs: fsync costs nothing, which takes
#                      the disk's noise out of comparisons); default: the system's temp dir
# The server runs with --rate-limit 0 and the access log on unless --no-access-log is given.
# Talks to 127.0.0.1 only; bounded by DURATION. Needs wrk, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/thread-cpu.sh path/to/agmem-coordinator [options...]}
shift
work=$(mktemp -d ${TMPBASE:+-p "$TMPBASE"})
pid=
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
"$bin" --no-gui --port 0 --db "sqlite://$work/bench.db" --rate-limit 0 "$@" >"$work/out" 2>/dev/null &
pid=$!
for _ in $(seq 300); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on //p' "$work/out")
[ -n "$url" ] || { echo "bench: $bin did not start"; exit 1; }
threads() { # "name|ticks" per thread name, summed over threads of the same name
    for t in /proc/"$pid"/task/*; do echo "$(cat "$t/comm")|$(awk '{print $14 + $15}' "$t/stat")"; done |
        awk -F'|' '{a[$1] += $2} END {for (k in a) print k "|" a[k]}' | sort
}
pushes() { curl -s "$url/" | sed 's/.*"total_pushes":\([0-9]*\).*/\1/'; }
wrk -t2 -c32 -d2s -s bench/push.lua "$url" >/dev/null
threads >"$work/before"; n0=$(pushes)
wrk -t2 -c32 -d"${DURATION:-8}s" -s bench/push.lua "$url" | grep Requests/sec
threads >"$work/after"; n1=$(pushes)
join -t'|' "$work/before" "$work/after" |
    awk -F'|' -v n=$((n1 - n0)) -v t="$(getconf CLK_TCK)" '
        {v = ($3 - $2) * 1000 / t * 1000 / n; s += v; printf "%-18s %6.1f ms CPU per 1000 pushes\n", $1, v}
        END {printf "%-18s %6.1f ms CPU per 1000 pushes (%d pushes)\n", "total", s, n}'
