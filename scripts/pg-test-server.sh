#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (and for trying the PostgreSQL store).
#   scripts/pg-test-server.sh start DIR [URL_FILE]   initdb in DIR, start it on a free port on
#                                                    127.0.0.1, create the database agmem_test,
#                                                    print its URL (and write it to URL_FILE)
#   scripts/pg-test-server.sh stop DIR [URL_FILE]    stop the cluster, delete DIR (and URL_FILE)
#   scripts/pg-test-server.sh halt DIR               stop the server, keep the cluster (outages)
#   scripts/pg-test-server.sh resume DIR             start it again on the same port
# Run as root, the cluster belongs to the postgres user (DIR must be somewhere postgres can
# reach, e.g. under /tmp). PG_BIN overrides /usr/lib/postgresql/15/bin.
# Without PostgreSQL installed, `start` prints why and exits 0 so local test runs skip the
# PostgreSQL suites; with CI=true that is an error (exit 1).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
url_file=${3:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: $0 start|stop|halt|resume DIR [URL_FILE]" >&2
    exit 2
fi

pg_bin=${PG_BIN:-}
if [ -z "$pg_bin" ]; then
    for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$candidate/initdb" ]; then
            pg_bin=$candidate
            break
        fi
    done
fi

# Runs a PostgreSQL tool as the cluster's owner: postgres when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Starts the server of the cluster in $dir on a port (throwaway: no fsync).
start_server() {
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
        start >/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

case "$cmd" in
start)
    [ -n "$url_file" ] && rm -f "$url_file"
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        echo "pg-test-server: PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin)"
        if [ "${CI:-}" = true ]; then
            echo "pg-test-server: CI=true: a missing PostgreSQL is a failure" >&2
            exit 1
        fi
        echo "pg-test-server: the PostgreSQL tests will be skipped"
        exit 0
    fi
    if [ -e "$dir/data/postmaster.pid" ]; then
        # A cluster left behind by an interrupted run: stop it first.
        as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
    fi
    as_owner "$pg_bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 -N \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    started=no
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if start_server "$port"; then
            started=yes
            break
        fi
    done
    if [ "$started" != yes ]; then
        echo "pg-test-server: PostgreSQL did not start:" >&2
        cat "$dir/server.log" >&2 || true
        exit 1
    fi
    echo "$port" | as_owner tee "$dir/port" >/dev/null
    as_owner "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres agmem_test
    url="postgresql://postgres@127.0.0.1:$port/agmem_test"
    [ -n "$url_file" ] && echo "$url" >"$url_file"
    echo "$url"
    ;;
stop)
    if [ -n "$pg_bin" ] && [ -e "$dir/data/PG_VERSION" ]; then
        as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    [ -n "$url_file" ] && rm -f "$url_file"
    echo "pg-test-server: stopped"
    ;;
halt)
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
resume)
    start_server "$(cat "$dir/port")"
    ;;
*)
    echo "usage: $0 start|stop|halt|resume DIR [URL_FILE]" >&2
    exit 2
    ;;
esac
