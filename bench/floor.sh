#!/usr/bin/env bash
# What the kernel alone costs per push on this machine: CPU ms per 1000 pushes of
# bench/floor/floor.c (an epoll loop that frames requests, appends bodies to a file,
# fdatasyncs once per batch and answers a fixed 200; no parsing, no database) under the
# same load as bench/run.sh's push rows (wrk -t2 -c32, bench/push.lua). The coordinator
# cannot cost less than this here; its own number minus this is what its code adds.
#
# Usage: bench/floor.sh        DURATION=8 seconds of wrk per run, CONNS=32
# Prints pushes/s and CPU ms per 1000 pushes, durable (fdatasync per batch, the file on the
# same disk as bench/run.sh's stores: mktemp -d) and not (nosync). Talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-8}
conns=${CONNS:-32}
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -o "$work/floor" bench/floor/floor.c
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for mode in sync nosync; do
    "$work/floor" "$port" "$work/bodies" $([ $mode = nosync ] && echo nosync) >"$work/out" &
    pid=$!
    for _ in $(seq 50); do grep -q listening "$work/out" && break; sleep 0.1; done
    wrk -t2 -c"$conns" -d2s -s bench/push.lua "http://127.0.0.1:$port" >/dev/null
    t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
    out=$(wrk -t2 -c"$conns" -d"${duration}s" -s bench/push.lua "http://127.0.0.1:$port")
    t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -v m=$mode -v r="$requests" -v d="$duration" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "floor %-6s %7.0f pushes/s  CPU %5.1f ms per 1000 pushes\n", m, r / d, t * 1000 / hz * 1000 / r}'
done
