#!/usr/bin/env bash
# Takes docs/screenshot-web.png: the web dashboard (/ui/) of a headless coordinator with demo
# pushes, in headless chromium; and docs/screenshot-web-signin.png: its sign-in form, on a
# coordinator that requires keys. Usage: scripts/web-screenshot.sh [path/to/agmem-coordinator]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/src/app/agmem-coordinator}
work=$(mktemp -d)
port=${PORT:-18555}
"$bin" --no-gui --port "$port" --db "sqlite://$work/demo.db" --no-access-log --rate-limit 0 >"$work/out" 2>&1 &
pid=$!
kpid=
trap 'kill $pid $kpid 2>/dev/null || true; wait $pid $kpid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
push() { # agent, timestamp, topics-json, facts-json
    curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/push" -H 'Content-Type: application/json' \
        -d "{\"summary\": {\"agent_id\": \"$1\", \"timestamp\": \"$2\", \"topic_counts\": $3, \"fact_hashes\": $4}}"
}
agents=(laptop-alice ci-runner-7 build-bot desktop-bob research-agent docs-writer)
for round in $(seq 1 12); do
    for i in "${!agents[@]}"; do
        ((round % (i + 1) == 0)) || continue
        push "${agents[$i]}" "2026-11-27T10:$(printf %02d $((round * 4))):0$i+00:00" \
            "{\"python\": $((round + i)), \"episodic\": $((i * 3 + 1)), \"semantic\": $round, \"rust\": $i}" \
            "[\"Daily standup\", \"python\", \"fact-$i-$round\", \"fact-shared-$((round % 4))\"]"
    done
    sleep 0.2
done
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,720 \
    --virtual-time-budget=5000 --screenshot=docs/screenshot-web.png "http://127.0.0.1:$port/ui/" 2>/dev/null
echo "wrote docs/screenshot-web.png"

# The sign-in form: a key exists (auth mode auto), the browser has none.
"$bin" keys create demo --scopes pull --db "sqlite://$work/keys.db" >/dev/null 2>&1
"$bin" --no-gui --port "$((port + 1))" --db "sqlite://$work/keys.db" --no-access-log >"$work/kout" 2>&1 &
kpid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$((port + 1))/health" >/dev/null && break; sleep 0.1; done
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,480 \
    --virtual-time-budget=5000 --screenshot=docs/screenshot-web-signin.png \
    "http://127.0.0.1:$((port + 1))/ui/" 2>/dev/null
echo "wrote docs/screenshot-web-signin.png"
