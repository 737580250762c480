#!/usr/bin/env bash
# Retakes the dashboard screenshots in docs/ the way a person sees the window: the real app
# on a virtual X display (Xvfb), a throwaway home folder and database, demo pushes over
# HTTP, one picture per page and dialog.
#
#   scripts/screenshots.sh [path/to/agmem-coordinator]   (default: build/src/app/...)
#
# Needs xvfb, xdotool, imagemagick and curl (apt-get install -y xvfb xdotool imagemagick
# curl). Talks to 127.0.0.1 only; stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-build/src/app/agmem-coordinator}")
out=$PWD/docs
port=${PORT:-18123}
display=${SCREENSHOT_DISPLAY:-:97}

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=$display HOME=$work/home XDG_CONFIG_HOME=$work/home/.config \
    XDG_DATA_HOME=$work/home/.local/share
mkdir -p "$HOME/Documents"
unset AGMEM_COORDINATOR_PORT AGMEM_COORDINATOR_HOST DATABASE_URL API_KEY
db="sqlite://$work/demo.db"
sleep 1

app=""
launch() { # launch [extra env...]: the window on the demo database, in English
    env "$@" "$bin" --port "$port" --db "$db" --lang en >>"$work/app.log" 2>&1 &
    app=$!
    pids+=("$app")
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 0.1
    done
    sleep 1
}
quit() { kill "$app"; wait "$app" 2>/dev/null || true; }
shoot() { # shoot NAME: the main window with whatever dialog is open on top of it
    sleep 0.6
    local id
    id=$(xdotool search --onlyvisible --name '^agmem Coordinator$' | head -1)
    eval "$(xdotool getwindowgeometry --shell "$id")"
    import -window root -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage "$out/screenshot-$1.png"
    echo "screenshots: docs/screenshot-$1.png"
}

push_demo() {
    local agents=(alice-laptop bob-ci build-bot docs-writer eve-research frank-dev grace-ops
        heidi-qa ivan-data judy-ml mallory-sec oscar-infra)
    local topics=(python rust testing deployment kubernetes postgres api-design security
        ml-models docs ci-cd observability)
    local i=0 a round k topic_counts facts
    for a in "${agents[@]}"; do
        for round in 1 2 3; do
            topic_counts=""
            for k in $(seq 0 $((i % 5 + 3))); do
                topic_counts+="\"${topics[$(((i + k * 3) % 12))]}\":$(((i * 7 + k * 13 + round) % 40 + 1)),"
            done
            facts=""
            for k in $(seq 0 $((i % 7 + 4))); do
                facts+="\"$(printf '%s-%d-%d' "$a" "$k" "$round" | sha256sum | cut -c1-16)\","
            done
            facts+="\"$(echo "shared-$((i % 3))" | sha256sum | cut -c1-16)\""
            curl -s -o /dev/null -X POST "http://127.0.0.1:$port/push" \
                -H 'Content-Type: application/json' \
                -d "{\"summary\":{\"agent_id\":\"$a\",\"timestamp\":\"2026-11-27T1$round:0$((i % 10)):00Z\",\"topic_counts\":{${topic_counts%,}},\"fact_hashes\":[$facts]}}"
        done
        i=$((i + 1))
    done
    # Two refusals, so Activity shows what a rejected push looks like.
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/push" -H 'Content-Type: application/json' \
        -d '{"summary":{"agent_id":"","timestamp":"2026-11-27T10:00:00Z"}}'
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/push" -H 'Content-Type: application/json' \
        -d 'not json'
}

# Agents (one selected), then the dialogs, on the run the demo pushes go to.
launch
push_demo
sleep 1
xdotool mousemove 60 470 click 1 # a row of the agents table
shoot agents
xdotool key ctrl+comma
shoot settings
xdotool key Escape
sleep 0.3
xdotool mousemove 400 110 click 1 # back to the window (the chart)
xdotool key ctrl+e
shoot export
xdotool key Escape
quit

# A key for the team (printed once; the Keys page lists it), then Keys and Share.
"$bin" keys create team --scopes push,pull --db "$db" >/dev/null 2>&1
for tab in activity keys share topics; do
    launch AGMEM_GUI_TAB=$tab
    [ "$tab" = topics ] && xdotool mousemove 60 340 click 1
    shoot "$tab"
    quit
done
