#!/usr/bin/env bash
# Measures the coordinator, optionally beside a reference coordinator, and prints one
# table with ratios (ours ÷ reference).
#
# Usage: bench/run.sh [path/to/agmem-coordinator]   (default: build-rel, built if missing)
#   DURATION=10        seconds per wrk run
#   WARMUP=2           seconds of the same load before each push row's measured run (both
#                      sides): the first pushes of a new store insert agents, grow files and
#                      warm caches; the row measures the steady state. WARMUP=0: none
#   REFERENCE_CMD='/path/to/reference/run.sh {port}'
#                      starts a reference coordinator ({port} is replaced); it is restarted
#                      for each row, so every row starts from an empty store
#   REFERENCE_URL=http://127.0.0.1:8000
#                      a reference already running (reset with DELETE /admin/reset)
#   ROWS="push close c128 cpu normal pull pairs change pullers streams"   which rows to run
#                      (also pullersgz: the pullers row with pullers that accept gzip)
#   STREAM_PAIRS=6     the streams row: pairs of runs on ONE server of ours, one without
#                      and one with 64 gzip /events readers (bench/sse-readers.py), order
#                      swapped every other pair; DURATION seconds each
#   OURS_ARGS="--no-writer-thread"   more options for every start of ours
# Talks to 127.0.0.1 only; every run is bounded. Needs wrk, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build-rel/src/app/agmem-coordinator}
if [ ! -x "$bin" ]; then
    cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGMEM_BUILD_TESTS=OFF >/dev/null
    cmake --build build-rel >/dev/null
fi
for tool in wrk curl python3; do
    command -v $tool >/dev/null || { echo "bench: $tool is missing"; exit 1; }
done
duration=${DURATION:-10}
warmup=${WARMUP:-2}
rows=${ROWS:-push close c128 cpu normal pull pairs change pullers streams}
work=$(mktemp -d)
pid=
rpid=
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    [ -n "$rpid" ] && { kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
have_ref() { [ -n "${REFERENCE_CMD:-}${REFERENCE_URL:-}" ]; }
wants() { [[ " $rows " == *" $1 "* ]]; }

start() { # EXTRA-ARGS... : ours, empty store
    # shellcheck disable=SC2086 # OURS_ARGS: words
    "$bin" --no-gui --port 0 --db "sqlite://$work/bench.db" --rate-limit 0 ${OURS_ARGS:-} "$@" >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 300); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
    url=$(sed -n 's/.*listening on //p' "$work/out")
    [ -n "$url" ] || { echo "bench: $bin did not start:"; cat "$work/err"; exit 1; }
    cpid=$pid
    # EVENT_STREAMS=N keeps N clients on GET /events during every run of ours (default 0),
    # accepting gzip as browsers do (EVENT_GZIP=0: plain text). The readers are one Python
    # process that drains every stream (bench/sse-readers.py), as cheap as a reader on this
    # machine can be: browsers decompress on their own machines, not the server's.
    # EVENT_READERS=curl: one `curl -sN` per stream instead (decompressing, here).
    local n=${EVENT_STREAMS:-0}
    [ "$n" -gt 0 ] || return 0
    if [ "${EVENT_READERS:-python}" = curl ]; then
        local gz=(--compressed); [ "${EVENT_GZIP:-1}" = 0 ] && gz=()
        for _ in $(seq "$n"); do
            curl -sN "${gz[@]}" "$url/events" >/dev/null &
            streams+=($!)
        done
        return 0
    fi
    local enc=gzip; [ "${EVENT_GZIP:-1}" = 0 ] && enc=
    python3 bench/sse-readers.py "$url" "$n" $enc >"$work/readers" &
    streams+=($!)
    for _ in $(seq 300); do grep -q ready "$work/readers" && break; sleep 0.1; done
    grep -q ready "$work/readers" || { echo "bench: event readers not ready"; exit 1; }
}
streams=()
stop() {
    for s in "${streams[@]}"; do kill "$s" 2>/dev/null || true; done
    streams=()
    kill "$pid"; wait "$pid" || true; pid=; rm -f "$work"/bench.db*
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_ref() { # the reference, empty
    if [ -n "${REFERENCE_URL:-}" ]; then
        url=$REFERENCE_URL
        curl -s -X DELETE "$url/admin/reset" >/dev/null
        cpid=
        return
    fi
    local port; port=$(free_port)
    bash -c "exec ${REFERENCE_CMD//\{port\}/$port}" >"$work/ref.out" 2>&1 &
    rpid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 300); do curl -s "$url/health" >/dev/null && break; sleep 0.1; done
    curl -sf "$url/health" >/dev/null || { echo "bench: the reference did not start:"; cat "$work/ref.out"; exit 1; }
    cpid=$rpid
}
stop_ref() { [ -n "$rpid" ] && { kill "$rpid"; wait "$rpid" || true; rpid=; }; }
cpu_ms() { # CPU of the process under test, ms (empty when unknown: a REFERENCE_URL)
    [ -n "$cpid" ] && awk '{print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' /proc/$cpid/stat || echo ""
}
pushes() { curl -s "$url/" | sed 's/.*"total_pushes":\([0-9]*\).*/\1/'; }

# Result table: label -> "reference|ours"
declare -A R O
labels=()
put() { # label side value
    [[ " ${labels[*]-} " == *" $1 "* ]] || labels+=("$1")
    if [ "$2" = ref ]; then R[$1]=$3; else O[$1]=$3; fi
}
both() { # function args... : runs fn for the reference (if any) then for ours
    local fn=$1; shift
    if have_ref; then side=ref; "$fn" "$@"; fi
    side=ours; "$fn" "$@"
}
up() { if [ "$side" = ref ]; then start_ref; else start "$@"; fi; }
down() { if [ "$side" = ref ]; then stop_ref; else stop; fi; }

push_rate() { # label conns close(0/1) [ours args...]
    local label=$1 conns=$2 close=$3; shift 3
    up "$@"
    local hdr=(); [ "$close" = 1 ] && hdr=(-H "Connection: close")
    [ "$warmup" -gt 0 ] && wrk -t2 -c"$conns" -d"${warmup}s" "${hdr[@]}" -s bench/push.lua "$url" >/dev/null
    local n0; n0=$(pushes)
    local c0; c0=$(cpu_ms)
    local out; out=$(wrk -t2 -c"$conns" -d"${duration}s" "${hdr[@]}" -s bench/push.lua "$url")
    local c1; c1=$(cpu_ms); local n; n=$(($(pushes) - n0))
    put "$label" "$side" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")"
    [ -n "$c0" ] && put "CPU ms per 1000 pushes ($label)" "$side" \
        "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1000 / n}')"
    down
}

pull_after() { # pushes
    up --durability normal
    while [ "$(pushes)" -lt "$1" ]; do wrk -t1 -c8 -d1s -s bench/push.lua "$url" >/dev/null; done
    local out; out=$(wrk -t1 -c4 -d5s -s bench/pull.lua --latency "$url")
    put "pull p50 ms after $1 pushes" "$side" "$(awk '/^ +50%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")"
    down
}

pairs_run() { # agents facts clients
    up
    python3 bench/client.py seed "$url" "$1" "$2"
    local out; out=$(python3 bench/client.py pairs "$url" "$1" "$2" "$3" "$((duration * 2))")
    put "push+pull pairs/s, $3 clients, close, $1x$2" "$side" "$(awk '{print $4}' <<<"$out")"
    put "push+pull pair p50 ms, $3 clients, close, $1x$2" "$side" "$(awk '{print $6}' <<<"$out")"
    down
}

change_run() { # agents facts (ours only)
    start --no-access-log
    FACTS_HEX=64 python3 bench/client.py seed "$url" "$1" "$2"
    local out; out=$(FACTS_HEX=64 python3 bench/client.py change "$url" "$1" "$2" 15)
    echo "change ($1 agents x $2 facts): $out"
    for k in changed_plain cached_plain changed_gzip cached_gzip; do
        put "pull ms after one-agent change, $1 agents: ${k/_/ }" ours \
            "$(tr ' ' '\n' <<<"$out" | awk -v k="${k}_ms" 'p {print; exit} $0 == k {p = 1}')"
    done
    stop
}

pullers_run() { # agents facts [lua script of the pullers] (ours only)
    local script=${3:-bench/pull.lua} tag=
    [ "$script" = bench/pull.lua ] || tag=" (gzip)"
    start --no-access-log
    FACTS_HEX=64 python3 bench/client.py seed "$url" "$1" "$2"
    local out; out=$(wrk -t1 -c64 -d"${duration}s" -s bench/push.lua "$url")
    local alone; alone=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    put "pushes/s, 64 pushers, $1 agents, no pullers$tag" ours "$alone"
    wrk -t1 -c4 -d"$((duration + 2))s" -s "$script" "$url" >"$work/pullers" &
    local wpid=$!
    sleep 1
    out=$(wrk -t1 -c64 -d"${duration}s" --latency -s bench/push.lua "$url")
    wait $wpid
    local beside; beside=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
    put "pushes/s, 64 pushers, $1 agents, 4 pullers$tag" ours "$beside"
    put "pushes/s beside 4 pullers, % of the rate without$tag" ours \
        "$(awk -v a="$alone" -v b="$beside" 'BEGIN {if (a > 0) printf "%.0f", 100 * b / a}')"
    put "push p50 ms, 64 pushers + 4 pullers$tag" ours "$(awk '/^ +50%/ {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")"
    put "pulls/s beside them$tag" ours "$(awk '/Requests\/sec/ {printf "%.1f", $2}' "$work/pullers")"
    stop
}

streams_run() { # streams (ours only)
    # Each pair's two runs share the server, its store and the moment, so that neither a
    # new process nor the machine's drift between runs falls on one side only; the store
    # grows during the series, and the swapped order puts that on both sides alike.
    local n=$1 p
    start --no-access-log
    wrk -t2 -c32 -d"${warmup}s" -s bench/push.lua "$url" >/dev/null
    : >"$work/stream-rates"
    one() { # with(0/1) -> appends "rate" to the pair's line
        local rp=
        if [ "$1" = 1 ]; then
            python3 bench/sse-readers.py "$url" "$n" gzip >"$work/readers" &
            rp=$!
            for _ in $(seq 300); do grep -q ready "$work/readers" && break; sleep 0.1; done
            grep -q ready "$work/readers" || { echo "bench: event readers not ready" >&2; kill "$rp"; return 1; }
        fi
        local out; out=$(wrk -t2 -c32 -d"${duration}s" -s bench/push.lua "$url")
        [ -n "$rp" ] && { kill "$rp"; wait "$rp" || true; }
        awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"
    }
    for p in $(seq "${STREAM_PAIRS:-6}"); do
        local a b
        if [ $((p % 2)) = 1 ]; then a=$(one 0); b=$(one 1); else b=$(one 1); a=$(one 0); fi
        [[ "$a $b" =~ ^[0-9]+\ [0-9]+$ ]] || { echo "bench: the streams row failed (pair $p)"; exit 1; }
        echo "$a $b" >>"$work/stream-rates"
    done
    stop
    local summary
    summary=$(/usr/bin/python3 - "$work/stream-rates" <<'EOF2'
import statistics, sys
# Student's t, two-sided 95 %, by degrees of freedom (1..10; beyond: 2.2).
T = [0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]
pairs = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
drops = [100 * (a - b) / a for a, b in pairs]
mean = statistics.fmean(drops)
half = T[min(len(drops) - 1, 10)] * statistics.stdev(drops) / len(drops) ** 0.5 if len(drops) > 1 else float("nan")
print("%.0f %.0f %.1f %.1f %.1f %s" % (statistics.fmean(a for a, _ in pairs), statistics.fmean(b for _, b in pairs),
      mean, mean - half, mean + half, "/".join("%+.1f" % d for d in drops)))
EOF2
)
    read -r without with_ mean lo hi each <<<"$summary"
    put "pushes/s, one server: no event streams (mean of ${STREAM_PAIRS:-6} runs)" ours "$without"
    put "pushes/s, one server: $n gzip event streams open (mean of ${STREAM_PAIRS:-6} runs)" ours "$with_"
    put "push throughput lost to $n event streams, % (pairs: $each)" ours "$mean [95 % CI $lo, $hi]"
}

echo "== $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)  bin: $bin ${OURS_ARGS:-}"
wants push && both push_rate "pushes/s keep-alive, 32 conns" 32 0 --no-access-log
wants close && both push_rate "pushes/s Connection: close, 32 conns" 32 1 --no-access-log
wants c128 && both push_rate "pushes/s keep-alive, 128 conns" 128 0 --no-access-log
wants cpu && both push_rate "pushes/s keep-alive, 32 conns, access log on" 32 0
if wants normal; then
    side=ours push_rate "pushes/s keep-alive, 32 conns, --durability normal" 32 0 --no-access-log --durability normal
    side=ours push_rate "pushes/s keep-alive, 128 conns, --durability normal" 128 0 --no-access-log --durability normal
    # The reference keeps everything in memory: its rows without durability settings apply.
    for c in 32 128; do
        r=${R["pushes/s keep-alive, $c conns"]:-}
        [ -n "$r" ] && put "pushes/s keep-alive, $c conns, --durability normal" ref "$r"
    done
fi
wants pull && both pull_after 10000
wants pairs && both pairs_run 5000 20 8
wants change && change_run 15700 20
wants pullers && pullers_run 15700 20
wants pullersgz && pullers_run 15700 20 bench/pull-gzip.lua
wants streams && streams_run 64
echo "== done $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)"

# Ratio: for rates ours ÷ reference; for times and CPU (lower is better) reference ÷ ours.
printf '\n| %s | %s | %s | %s |\n|---|---|---|---|\n' "row" "reference" "ours" "ratio (× better)"
for l in "${labels[@]}"; do
    r=${R[$l]:-}; o=${O[$l]:-}
    ratio=
    if [ -n "$r" ] && [ -n "$o" ]; then
        if [[ "$l" == *" ms"* || "$l" == CPU* ]]; then
            ratio=$(awk -v a="$r" -v b="$o" 'BEGIN {if (b > 0) printf "%.2f× (lower)", a / b}')
        else
            ratio=$(awk -v a="$o" -v b="$r" 'BEGIN {if (b > 0) printf "%.2f×", a / b}')
        fi
    fi
    printf '| %s | %s | %s | %s |\n' "$l" "${r:-—}" "${o:-—}" "${ratio:-—}"
done
