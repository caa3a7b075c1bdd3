#!/usr/bin/env bash
# The test command: lint, format check, type check and the whole pytest suite.
#
#   ./scripts/test.sh [PYTEST ARGS...]
#
# Works from a fresh clone on a fresh Debian (Python 3.11+) and from any directory. It creates
# .venv when missing and installs the project with its dev extras, pinned by constraints.txt.
# Tests need a real PostgreSQL and Redis: TEST_POSTGRES_DSN / TEST_REDIS_URL when set, else the
# servers on 127.0.0.1:5432 (user postgres) and 127.0.0.1:6379 when they answer, else throwaway
# servers on free ports, stopped on exit (TEST_FORCE_THROWAWAY_SERVICES=1 forces these). A
# three-master Redis Cluster (TEST_REDIS_CLUSTER_URL) is always a throwaway one on loopback unless
# the variable is set.
# PYTHON=/path/to/python3.11 picks the interpreter that creates .venv.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

bootstrap_venv dev

# --- services --------------------------------------------------------------------------------

SVC_DIR=""
PG_BIN=""
PG_USER=""
STARTED_PG=0
STARTED_REDIS=0
STARTED_CLUSTER=0

cleanup() {
    local rc=$?
    if [ "$STARTED_PG" -eq 1 ] && [ -f "$SVC_DIR/pg/data/postmaster.pid" ]; then
        as_pg_user "$PG_BIN/pg_ctl" -D "$SVC_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ "$STARTED_REDIS" -eq 1 ] && [ -f "$SVC_DIR/redis/redis.pid" ]; then
        kill "$(cat "$SVC_DIR/redis/redis.pid")" 2>/dev/null || true
    fi
    if [ "$STARTED_CLUSTER" -eq 1 ]; then
        local pidfile
        for pidfile in "$SVC_DIR"/cluster/*/redis.pid; do
            if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
        done
    fi
    if [ -n "$SVC_DIR" ]; then
        rm -rf "$SVC_DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PYBIN="$VENV/bin/python"

free_port() {
    "$PYBIN" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# postgres_answers DSN: true when asyncpg can connect within a few seconds.
postgres_answers() {
    "$PYBIN" - "$1" <<'EOF' >/dev/null 2>&1
import asyncio, sys
import asyncpg

async def main() -> None:
    conn = await asyncpg.connect(sys.argv[1], timeout=3)
    await conn.close()

asyncio.run(asyncio.wait_for(main(), 5))
EOF
}

# redis_answers URL: true when PING gets PONG within a few seconds.
redis_answers() {
    "$PYBIN" - "$1" <<'EOF' >/dev/null 2>&1
import sys
import redis

client = redis.Redis.from_url(sys.argv[1], socket_timeout=3, socket_connect_timeout=3)
sys.exit(0 if client.ping() else 1)
EOF
}

svc_dir() {
    if [ -z "$SVC_DIR" ]; then
        # Outside /root and world-traversable: the postgres user must reach its data dir.
        SVC_DIR=$(mktemp -d /tmp/enclava-test-svc.XXXXXX)
        chmod 755 "$SVC_DIR"
    fi
}

as_pg_user() {
    if [ -n "$PG_USER" ]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        "$@"
    fi
}

find_pg_bin() {
    local dir
    dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
    elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname -- "$(readlink -f "$(command -v initdb)")"
    fi
}

start_postgres() {
    PG_BIN=$(find_pg_bin)
    if [ -z "$PG_BIN" ]; then
        apt_install postgresql ||
            die "PostgreSQL is not running on 127.0.0.1:5432 and initdb is not installed: install PostgreSQL (Debian: apt-get install postgresql) or set TEST_POSTGRES_DSN"
        PG_BIN=$(find_pg_bin)
        [ -n "$PG_BIN" ] || die "installed postgresql but found no initdb"
    fi
    if is_root; then
        # The server refuses to run as root.
        if id postgres >/dev/null 2>&1; then PG_USER=postgres; else PG_USER=nobody; fi
    fi
    svc_dir
    local port
    port=$(free_port)
    log "Starting a throwaway PostgreSQL ($PG_BIN) on 127.0.0.1:$port"
    mkdir -p "$SVC_DIR/pg"
    if [ -n "$PG_USER" ]; then chown "$PG_USER" "$SVC_DIR/pg"; fi
    as_pg_user "$PG_BIN/initdb" -D "$SVC_DIR/pg/data" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$SVC_DIR/pg/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -5 "$SVC_DIR/pg/initdb.log")"
    STARTED_PG=1
    as_pg_user "$PG_BIN/pg_ctl" -D "$SVC_DIR/pg/data" -l "$SVC_DIR/pg/server.log" -w -t 60 \
        -o "-p $port -k $SVC_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || die "PostgreSQL did not start: $(tail -5 "$SVC_DIR/pg/server.log" 2>/dev/null)"
    TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:$port/postgres"
    postgres_answers "$TEST_POSTGRES_DSN" || die "throwaway PostgreSQL on port $port does not answer"
}

start_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server ||
            die "Redis is not running on 127.0.0.1:6379 and redis-server is not installed: install it (Debian: apt-get install redis-server) or set TEST_REDIS_URL"
    fi
    svc_dir
    local port
    port=$(free_port)
    log "Starting a throwaway Redis on 127.0.0.1:$port"
    mkdir -p "$SVC_DIR/redis"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$SVC_DIR/redis" \
        --daemonize yes --pidfile "$SVC_DIR/redis/redis.pid" --logfile "$SVC_DIR/redis/redis.log" >/dev/null
    STARTED_REDIS=1
    TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    local _
    for _ in $(seq 100); do
        redis_answers "$TEST_REDIS_URL" && return 0
        sleep 0.1
    done
    die "throwaway Redis on port $port does not answer: $(tail -5 "$SVC_DIR/redis/redis.log" 2>/dev/null)"
}

# cluster_ports: three free loopback ports P <= 55535 whose cluster bus port P+10000 is free too.
cluster_ports() {
    "$PYBIN" - <<'EOF'
import random, socket

def free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

ports: list[int] = []
while len(ports) < 3:
    port = random.randint(20000, 55535)
    if port not in ports and free(port) and free(port + 10000):
        ports.append(port)
print(*ports)
EOF
}

# cluster_ok PORT: true when the node on PORT reports cluster_state:ok.
cluster_ok() {
    redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

start_redis_cluster() {
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server ||
            die "redis-server and redis-cli are needed for the Redis Cluster tests: install them (Debian: apt-get install redis-server) or set TEST_REDIS_CLUSTER_URL"
    fi
    svc_dir
    local ports port dir nodes="" _
    ports=$(cluster_ports)
    log "Starting a throwaway three-master Redis Cluster on 127.0.0.1 ports $ports"
    STARTED_CLUSTER=1
    for port in $ports; do
        dir="$SVC_DIR/cluster/$port"
        mkdir -p "$dir"
        redis-server --bind 127.0.0.1 --port "$port" --cluster-enabled yes \
            --cluster-config-file "$dir/nodes.conf" --save '' --appendonly no --dir "$dir" \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
        nodes="$nodes 127.0.0.1:$port"
    done
    for port in $ports; do
        for _ in $(seq 100); do
            redis_answers "redis://127.0.0.1:$port/0" && continue 2
            sleep 0.1
        done
        die "Redis Cluster node on port $port does not answer: $(tail -5 "$SVC_DIR/cluster/$port/redis.log" 2>/dev/null)"
    done
    # shellcheck disable=SC2086  # one argument per node
    redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes \
        >"$SVC_DIR/cluster/create.log" 2>&1 ||
        die "redis-cli --cluster create failed: $(tail -5 "$SVC_DIR/cluster/create.log")"
    for port in $ports; do
        for _ in $(seq 200); do
            cluster_ok "$port" && continue 2
            sleep 0.1
        done
        die "Redis Cluster node on port $port never reached cluster_state:ok"
    done
    TEST_REDIS_CLUSTER_URL="redis+cluster://127.0.0.1:${ports%% *}/0"
}

step "Services"
if [ "${TEST_FORCE_THROWAWAY_SERVICES:-0}" = 1 ]; then
    unset TEST_POSTGRES_DSN TEST_REDIS_URL TEST_REDIS_CLUSTER_URL
fi

if [ -n "${TEST_POSTGRES_DSN:-}" ]; then
    log "PostgreSQL: TEST_POSTGRES_DSN from the environment"
elif [ "${TEST_FORCE_THROWAWAY_SERVICES:-0}" != 1 ] &&
    postgres_answers "postgresql://postgres@127.0.0.1:5432/postgres"; then
    TEST_POSTGRES_DSN="postgresql://postgres@127.0.0.1:5432/postgres"
    log "PostgreSQL: using the server on 127.0.0.1:5432"
else
    start_postgres
fi

if [ -n "${TEST_REDIS_URL:-}" ]; then
    log "Redis: TEST_REDIS_URL from the environment"
elif [ "${TEST_FORCE_THROWAWAY_SERVICES:-0}" != 1 ] &&
    redis_answers "redis://127.0.0.1:6379/0"; then
    TEST_REDIS_URL="redis://127.0.0.1:6379/0"
    log "Redis: using the server on 127.0.0.1:6379"
else
    start_redis
fi
if [ -n "${TEST_REDIS_CLUSTER_URL:-}" ]; then
    log "Redis Cluster: TEST_REDIS_CLUSTER_URL from the environment"
else
    start_redis_cluster
fi
export TEST_POSTGRES_DSN TEST_REDIS_URL TEST_REDIS_CLUSTER_URL
log "TEST_POSTGRES_DSN=$TEST_POSTGRES_DSN"
log "TEST_REDIS_URL=$TEST_REDIS_URL"
log "TEST_REDIS_CLUSTER_URL=$TEST_REDIS_CLUSTER_URL"

# The docs page test (tests/kernel/openapi/test_render.py) renders /schema in headless Chromium.
if [ ! -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
    apt_install chromium ||
        log "Chromium is missing and could not be installed (root needed): the docs page test will fail; install it (Debian: apt-get install chromium)"
fi

# The browser tests keep their screenshots (desktop and 375 px) here, replaced on every run.
TEST_ARTIFACTS_DIR=${TEST_ARTIFACTS_DIR:-$REPO_ROOT/test-artifacts}
rm -rf "$TEST_ARTIFACTS_DIR/screenshots"
export TEST_ARTIFACTS_DIR
log "TEST_ARTIFACTS_DIR=$TEST_ARTIFACTS_DIR"

# --- checks ----------------------------------------------------------------------------------

run_step() {
    local name=$1
    shift
    step "$name: $*"
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log ""
        log "FAILED: $name (exit $rc)"
        exit "$rc"
    fi
}

run_step "Lint" "$VENV/bin/ruff" check .
run_step "Format" "$VENV/bin/ruff" format --check .
run_step "Types" "$VENV/bin/mypy"
run_step "Tests" "$VENV/bin/pytest" "$@"
