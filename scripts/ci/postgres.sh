#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on a loopback port, for the store suite and
# the multi-node tests. `start` installs PostgreSQL from Debian's packages if
# absent, initdb's a cluster in $TRENT_PG_DIR, starts it and prints
#   export TRENT_TEST_POSTGRES_URL=postgres://trent@127.0.0.1:PORT/trent
# and TRENT_TEST_POSTGRES_RESTART, the command that restarts it
# (`eval "$(scripts/ci/postgres.sh start)"` sets both); `stop` stops it and
# removes the cluster. PostgreSQL refuses to run as root, so as root the
# cluster belongs to the `postgres` system user. Trust authentication on
# 127.0.0.1 only: this cluster is for tests, never for data.
set -euo pipefail
dir=${TRENT_PG_DIR:-/tmp/trent-test-pg}
port=${TRENT_PG_PORT:-55432}

pg_bin() {
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        # Resolve symlinks: createdb lives beside the real pg_ctl.
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    if [[ -z $found ]]; then
        echo "postgres.sh: installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    fi
    echo "$found"
}

# Runs a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin=$(pg_bin)
    if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    fi
    if [[ -f $dir/postmaster.pid ]]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m immediate stop >&2 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir" -U trent --auth=trust -E UTF8 --no-sync >/dev/null
    # fsync stays on: the suite checks durability, not just round trips.
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >&2
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U trent trent
    echo "export TRENT_TEST_POSTGRES_URL=postgres://trent@127.0.0.1:$port/trent"
    # How the multi-node test simulates an outage of this cluster.
    echo "export TRENT_TEST_POSTGRES_RESTART='TRENT_PG_DIR=$dir TRENT_PG_PORT=$port $(readlink -f "$0") restart'"
}

stop() {
    local bin
    bin=$(pg_bin)
    if [[ -f $dir/postmaster.pid ]]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m fast stop >&2 || true
    fi
    rm -rf "$dir"
}

# `restart`: used by the multi-node test to simulate an outage.
restart() {
    local bin
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -m fast -w restart \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" >&2
}

case ${1:-} in
start) start ;;
stop) stop ;;
restart) restart ;;
*) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
