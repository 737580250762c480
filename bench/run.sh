#!/usr/bin/env bash
# Measures push throughput, push CPU cost and pull latency against history size.
# Usage: bench/run.sh [path/to/agmem-coordinator]   (default: build-rel, built if missing)
# Talks to 127.0.0.1 only; every wrk run is bounded (DURATION seconds, default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-rel/src/app/agmem-coordinator}
if [ ! -x "$bin" ]; then
    cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGMEM_BUILD_TESTS=OFF >/dev/null
    cmake --build build-rel >/dev/null
fi
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)"; exit 1; }
duration=${DURATION:-10}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

# EVENT_STREAMS=N keeps N clients on GET /events during every run (default 0).
streams=()
start() { # start EXTRA-ARGS...
    "$bin" --no-gui --port 0 --db "sqlite://$work/bench.db" --no-access-log --rate-limit 0 "$@" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 50); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
    url=$(sed -n 's/.*listening on //p' "$work/out")
    for _ in $(seq "${EVENT_STREAMS:-0}"); do
        curl -sN "$url/events" >/dev/null &
        streams+=($!)
    done
}
stop() {
    for s in "${streams[@]}"; do kill "$s" 2>/dev/null || true; done
    streams=()
    kill $pid; wait $pid || true; rm -f "$work"/bench.db*
}
cpu_ms() { awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' /proc/$pid/stat; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
pushes() { curl -s "$url/" | sed 's/.*"total_pushes":\([0-9]*\).*/\1/'; }

push_run() { # label, extra server args
    local label=$1; shift
    start "$@"
    local c0; c0=$(cpu_ms)
    local out; out=$(wrk -t2 -c32 -d"${duration}s" -s bench/push.lua "$url")
    local c1; c1=$(cpu_ms); local n; n=$(pushes)
    printf '%-34s %9s req/s  %6.1f ms CPU per 1000 pushes  p50 %s  RSS %s MB  (%s pushes)\n' \
        "$label" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {print (b - a) * 1000 / n}')" \
        "$(awk '/Latency/ {print $2}' <<<"$out")" "$(($(rss_kb) / 1024))" "$n"
    stop
}

echo "== push: wrk -t2 -c32 -d${duration}s -s bench/push.lua (1000 agents, every push changes the merge; ${EVENT_STREAMS:-0} /events streams open)"
push_run "push, durability full"
push_run "push, durability normal" --durability normal
push_run "push, cumulative, durability full" --merge-mode cumulative

echo "== pull: latency against history size (same answer size: 1000 agents)"
start --durability normal
for target in 1000 10000 50000; do
    while [ "$(pushes)" -lt "$target" ]; do
        wrk -t1 -c8 -d1s -s bench/push.lua "$url" >/dev/null
    done
    out=$(wrk -t1 -c4 -d5s -s bench/pull.lua --latency "$url")
    printf 'history %6s pushes: pull p50 %s  p99 %s  %s req/s  RSS %s MB\n' "$(pushes)" \
        "$(awk '/^ +50%/ {print $2}' <<<"$out")" "$(awk '/^ +99%/ {print $2}' <<<"$out")" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(($(rss_kb) / 1024))"
done
stop
