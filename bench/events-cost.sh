#!/usr/bin/env bash
# What N open GET /events streams cost the push path: pushes/s with and without them, in
# alternating pairs, with the mean drop, the median pair's drop and a 95 % confidence
# interval of the mean drop; beside it the server's own CPU (and instructions where the
# machine has hardware counters) per push, and the readers' CPU.
#
# Usage: bench/events-cost.sh path/to/agmem-coordinator
#   PAIRS=3       pairs of runs (ROUNDS= is the old name)   STREAMS=64  streams in "with" runs
#   DURATION=8    seconds of wrk per run                    CONNS=32    wrk connections
#   DURABILITY=   the server's --durability (full|normal); default: none given, the product's
#                 default (full), as bench/run.sh's push row runs it
#   ENCODING=gzip the readers accept gzip (as browsers do, and as bench/run.sh's readers do);
#                 ENCODING=plain: plain text
#   READER_CPU=   a CPU list for the readers' process (taskset), e.g. 1
#
# Each run: a new server (--rate-limit 0 --no-access-log, --max-event-streams 1000, an empty
# SQLite store in a new temporary directory, so on the disk like the product's default),
# the readers (one Python process, bench/sse-readers.py) connected and past their first
# event, a 2 s wrk warm-up, then `wrk -t2 -cCONNS -dDURATION -s bench/push.lua` under
# `perf stat -e instructions,task-clock -p SERVER` ("n/a" for instructions where the
# machine has no hardware counters, as in most VMs). Talks to 127.0.0.1 only.
#
# Pairs alternate their order (0 then STREAMS, then STREAMS then 0, ...) so that a drift of
# the machine's speed during the series (other work starting or ending) falls on both
# sides alike. Each pair gives a drop, 100 * (rate without - rate with) / rate without; the
# summary is their mean, the median pair's, and the mean's 95 % confidence interval from
# Student's t distribution over the pairs (python3, standard library only). Runs of one
# binary on a shared 2-core machine vary by +-15 %: read the interval, not one pair, and
# give the load average (printed after each run) with the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/events-cost.sh path/to/agmem-coordinator}
streams=${STREAMS:-64}
pairs=${PAIRS:-${ROUNDS:-3}}
duration=${DURATION:-8}
conns=${CONNS:-32}
encoding=${ENCODING:-gzip}
[ "$encoding" = plain ] && encoding=
durability=()
[ -n "${DURABILITY:-}" ] && durability=(--durability "$DURABILITY")
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
tck=$(getconf CLK_TCK)

run() { # pair streams
    "$bin" --no-gui --port 0 --db "sqlite://$work/bench.db" --rate-limit 0 --no-access-log \
        "${durability[@]}" --max-event-streams 1000 >"$work/out" 2>"$work/err" &
    pid=$!
    for _ in $(seq 600); do
        grep -q listening "$work/out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    url=$(sed -n 's/.*listening on //p' "$work/out")
    [ -n "$url" ] || { echo "did not start:"; cat "$work/out" "$work/err"; exit 1; }
    local pin=(); [ -n "${READER_CPU:-}" ] && pin=(taskset -c "$READER_CPU")
    "${pin[@]}" python3 bench/sse-readers.py "$url" "$2" $encoding >"$work/readers" \
        2>"$work/readers.err" &
    rpid=$!
    local i
    for i in $(seq 600); do
        grep -q ready "$work/readers" && break
        kill -0 "$rpid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q ready "$work/readers"; then
        # Seen twice in ~100 runs on a loaded machine, cause unknown: told, and run again.
        echo "(pair $1, $2 streams: the readers were not ready after $i polls:" \
            "$(tr '\n' ' ' <"$work/readers.err" | tail -c 300); running it again)" >&2
        kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; rpid=
        kill "$pid"; wait "$pid" || true; pid=; rm -f "$work"/bench.db*
        return 1
    fi
    wrk -t2 -c"$conns" -d2s -s bench/push.lua "$url" >/dev/null
    local n0; n0=$(pushes)
    local t0; t0=$(times_of "$pid")
    local r0; r0=$(times_of "$rpid")
    perf stat -x, -e instructions,task-clock -p "$pid" -o "$work/perf" -- \
        wrk -t2 -c"$conns" -d"${duration}s" -s bench/push.lua "$url" >"$work/wrk"
    local n1; n1=$(pushes)
    local t1; t1=$(times_of "$pid")
    local r1; r1=$(times_of "$rpid")
    kill "$rpid"; wait "$rpid" || true; rpid=
    local got; got=$(awk '/received/ {print $2}' "$work/readers")
    kill "$pid"; wait "$pid" || true; pid=; rm -f "$work"/bench.db*
    local n=$((n1 - n0))
    local ins; ins=$(awk -F, '$3 ~ /instructions/ {print $1}' "$work/perf")
    [[ "$ins" =~ ^[0-9]+$ ]] && ins=$(awk -v a="$ins" -v n="$n" 'BEGIN {printf "%.0f", a / n}') || ins="n/a"
    local sys; sys=$(awk -v a="$t0" -v b="$t1" 'BEGIN {split(a, x, " "); split(b, y, " ");
        u = y[1] - x[1]; s = y[2] - x[2]; printf "%.0f", ((u + s) > 0 ? 100 * s / (u + s) : 0)}')
    local readers; readers=$(awk -v a="$r0" -v b="$r1" -v t="$tck" -v d="$duration" 'BEGIN {
        split(a, x, " "); split(b, y, " "); printf "%.0f", (y[1] + y[2] - x[1] - x[2]) * 1000 / t / d}')
    local clk; clk=$(awk -F, '$3 ~ /task-clock/ {print $1}' "$work/perf")
    local rate; rate=$(awk '/Requests\/sec/ {print $2}' "$work/wrk")
    echo "$1 $2 $rate" >>"$work/rates"
    printf '| %s | %s | %s | %.0f | %s | %.1f | %s %% | %s | %s | %s |\n' "$1" "$2" "$n" "$rate" \
        "$ins" "$(awk -v a="$clk" -v n="$n" 'BEGIN {print a * 1000 / n}')" "$sys" "$readers" \
        "$(awk -v b="${got:-0}" -v n="$n" 'BEGIN {printf "%.0f", b / (n > 0 ? n : 1)}')" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "== $(date -u +%FT%TZ)  bin: $bin  $pairs pairs, wrk -t2 -c$conns -d${duration}s," \
    "durability ${DURABILITY:-default}, readers: one process${READER_CPU:+ on CPU $READER_CPU}," \
    "${encoding:-plain}"
echo "| pair | streams | pushes | pushes/s | server instructions / push | server CPU µs / push | of it in the kernel | readers' CPU ms/s | bytes sent per push (all streams) | load after |"
echo "|---|---|---|---|---|---|---|---|---|---|"
: >"$work/rates"
for p in $(seq "$pairs"); do
    if [ $((p % 2)) = 1 ]; then
        run "$p" 0 || run "$p" 0
        run "$p" "$streams" || run "$p" "$streams"
    else
        run "$p" "$streams" || run "$p" "$streams"
        run "$p" 0 || run "$p" 0
    fi
done

/usr/bin/python3 - "$work/rates" "$streams" <<'EOF'
import statistics
import sys

# Student's t, two-sided 95 % (0.975 quantile), by degrees of freedom.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
        16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
        23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
        30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


def t975(df):
    if df in T975:
        return T975[df]
    keys = sorted(T975)
    if df > keys[-1]:
        return 1.960
    # Between two listed values: linear in 1/df (close enough at these sizes).
    lo = max(k for k in keys if k < df)
    hi = min(k for k in keys if k > df)
    w = (1 / lo - 1 / df) / (1 / lo - 1 / hi)
    return T975[lo] + w * (T975[hi] - T975[lo])


path, streams = sys.argv[1], sys.argv[2]
rates = {}
for line in open(path):
    pair, n, rate = line.split()
    rates.setdefault(int(pair), {})[int(n)] = float(rate)
drops = []
print()
print("| pair | order | pushes/s without | pushes/s with %s | drop |" % streams)
print("|---|---|---|---|---|")
for pair in sorted(rates):
    r = rates[pair]
    without, with_ = r[0], r[int(streams)]
    drop = 100 * (without - with_) / without
    drops.append(drop)
    order = "0, %s" % streams if pair % 2 == 1 else "%s, 0" % streams
    print("| %d | %s | %.0f | %.0f | %+.1f %% |" % (pair, order, without, with_, drop))
mean = statistics.fmean(drops)
print()
print("pairs: %d  mean drop: %.1f %%  median pair drop: %.1f %%" % (
    len(drops), mean, statistics.median(drops)), end="")
if len(drops) > 1:
    half = t975(len(drops) - 1) * statistics.stdev(drops) / len(drops) ** 0.5
    print("  95 %% CI of the mean drop: [%.1f %%, %.1f %%] (t, %d df)" % (
        mean - half, mean + half, len(drops) - 1))
else:
    print("  (one pair: no interval)")
EOF
