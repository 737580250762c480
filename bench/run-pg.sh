#!/usr/bin/env bash
# PostgreSQL: push throughput and pull latency with one instance, and with two instances
# behind nginx (docs/nginx-two-instances.conf, ports rewritten to free ones).
# Usage: bench/run-pg.sh [path/to/agmem-coordinator]. Needs postgresql, nginx and wrk;
# starts a throwaway cluster under /tmp and stops everything it started. 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-rel/src/app/agmem-coordinator}
duration=${DURATION:-10}
work=$(mktemp -d)
pgdir=/tmp/agmem-bench-pg-$$
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    scripts/pg-test-server.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# fsync on: the same durability a real server has (the test clusters run without it).
url=$(PG_FSYNC=on scripts/pg-test-server.sh start "$pgdir" "$work/pg-url" | tail -1)

instance() { # port
    "$bin" --no-gui --port "$1" --db "$url" --no-access-log --rate-limit 0 \
        --trusted-proxy 127.0.0.1 >"$work/out-$1" 2>"$work/err-$1" &
    pids+=($!)
    for _ in $(seq 50); do grep -q listening "$work/out-$1" 2>/dev/null && return; sleep 0.1; done
    echo "instance on port $1 did not start"; cat "$work/err-$1"; exit 1
}
measure() { # label url
    local push pull
    push=$(wrk -t2 -c32 -d"${duration}s" -s bench/push.lua "$2")
    pull=$(wrk -t1 -c4 -d5s -s bench/pull.lua --latency "$2")
    printf '%-40s push %9s req/s (p50 %s)   pull p50 %s  p99 %s\n' "$1" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$push")" "$(awk '/Latency/ {print $2}' <<<"$push")" \
        "$(awk '/^ +50%/ {print $2}' <<<"$pull")" "$(awk '/^ +99%/ {print $2}' <<<"$pull")"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
a=$(free_port); b=$(free_port); front=$(free_port)
instance "$a"
measure "PostgreSQL, one instance" "http://127.0.0.1:$a"
instance "$b"
sed -e "s/127.0.0.1:8001/127.0.0.1:$a/; s/127.0.0.1:8002/127.0.0.1:$b/; s/listen 8000/listen 127.0.0.1:$front/" \
    -e "s#pid /tmp/agmem-nginx.pid#pid $work/nginx.pid#; s#/tmp/agmem-nginx-error.log#$work/nginx-error.log#" \
    docs/nginx-two-instances.conf >"$work/nginx.conf"
nginx -c "$work/nginx.conf"
sleep 0.5
measure "PostgreSQL, two instances behind nginx" "http://127.0.0.1:$front"
