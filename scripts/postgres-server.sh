#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the tests (Debian's `postgresql` package; run as root;
# the server runs as the package's `postgres` user through runuser):
#
#   scripts/postgres-server.sh start              # idempotent: reuses its server when it runs
#   eval "$(scripts/postgres-server.sh start)"    # sets TEST_POSTGRES_URL in this shell
#   scripts/postgres-server.sh stop | status | url
#   scripts/postgres-server.sh restart-fast | restart-immediate    # for chaos tests
#
# start: creates the cluster on first use (initdb, UTF-8, locale C.UTF-8), writes its settings
#   (code-runner.conf, included by postgresql.conf, and pg_hba.conf) again on every start, starts
#   it, waits (bounded, PG_WAIT seconds: pg_ctl's own wait, then pg_isready over TCP) until it
#   answers, and makes sure of the role code_runner (password code-runner-test, LOGIN, CREATEDB)
#   and its database code_runner. Stdout gets exactly one line, for `eval`:
#     TEST_POSTGRES_URL=postgres://code_runner:code-runner-test@127.0.0.1:<port>/code_runner
#   everything else goes to stderr. When its server already runs, start only checks the role
#   and database and prints the line (with the running server's port; changed settings take
#   effect after stop + start, and it says so).
# stop: `pg_ctl stop -m fast` when it runs. status: one line on stdout; exit 0 running, 3 not.
# url: the line again (exit 3, nothing on stdout, when the server does not run).
# restart-fast / restart-immediate: `pg_ctl restart -m fast|immediate` (immediate: no shutdown
#   checkpoint, so the start does crash recovery), then the same bounded wait.
#
# Settings: listen on 127.0.0.1 plus PG_LISTEN_EXTRA (comma-separated addresses, e.g. a veth's
# 10.77.1.1 for a multi-host test; an address that does not exist yet is skipped by the server
# with a warning in the log, so create it before the start), a unix socket in PG_SOCKET_DIR,
# max_connections=300, tcp_keepalives_idle=5/interval=2/count=3 and tcp_user_timeout=11000 (a
# partitioned client's session ends after ~11 s rather than ~2 h 11 min when idle, ~15 min when
# the server was sending it something), idle_in_transaction_session_timeout=60s,
# fsync=on, synchronous_commit=on; TLS on with a self-signed certificate made by openssl at the
# first start (so sslmode=disable, prefer and require all connect); the server log is server.log
# in the data directory.
# pg_hba: scram-sha-256 over TCP from 127.0.0.1/32 and 10.77.0.0/16 and over the socket; the
# admin is `postgres` by peer over the socket (runuser -u postgres -- psql -h PG_SOCKET_DIR).
#
# Environment: PG_DATA_DIR (/var/tmp/code-runner-postgres), PG_PORT (55432), PG_LISTEN_EXTRA
# (empty), PG_SOCKET_DIR ($PG_DATA_DIR-socket), PG_WAIT (30), PG_BIN (/usr/lib/postgresql/15/bin).
# Needs `postgresql` (scripts/setup-host.sh installs it). Works without systemd.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_DATA_DIR="${PG_DATA_DIR:-/var/tmp/code-runner-postgres}"
PG_DATA_DIR="${PG_DATA_DIR%/}"
PG_PORT="${PG_PORT:-55432}"
PG_LISTEN_EXTRA="${PG_LISTEN_EXTRA:-}"
PG_SOCKET_DIR="${PG_SOCKET_DIR:-$PG_DATA_DIR-socket}"
PG_WAIT="${PG_WAIT:-30}"

ROLE=code_runner
PASSWORD=code-runner-test
DATABASE=code_runner
LOG_FILE="$PG_DATA_DIR/server.log"
CONF_FILE="$PG_DATA_DIR/code-runner.conf"

say() { printf 'postgres-server: %s\n' "$*" >&2; }
die() { printf 'postgres-server: error: %s\n' "$*" >&2; exit 1; }
usage() {
    echo "usage: scripts/postgres-server.sh start|stop|status|url|restart-fast|restart-immediate" >&2
    exit 2
}

[ $# -eq 1 ] || usage
command=$1
case "$command" in start | stop | status | url | restart-fast | restart-immediate) ;; *) usage ;; esac

[ "$(id -u)" = 0 ] || die "run as root (the server runs as the user postgres, through runuser)"
[ -x "$PG_BIN/pg_ctl" ] || die "$PG_BIN/pg_ctl not found: install PostgreSQL 15 (bash scripts/setup-host.sh)"
id postgres >/dev/null 2>&1 || die "no user postgres (it comes with Debian's postgresql package)"
[[ "$PG_PORT" =~ ^[0-9]+$ ]] && [ "$PG_PORT" -ge 1 ] && [ "$PG_PORT" -le 65535 ] \
    || die "PG_PORT must be a port number, not '$PG_PORT'"
[[ "$PG_WAIT" =~ ^[0-9]+$ ]] && [ "$PG_WAIT" -ge 1 ] || die "PG_WAIT must be a number of seconds, not '$PG_WAIT'"
[[ "$PG_DATA_DIR" = /* ]] || die "PG_DATA_DIR must be an absolute path, not '$PG_DATA_DIR'"
[[ "$PG_SOCKET_DIR" = /* ]] || die "PG_SOCKET_DIR must be an absolute path, not '$PG_SOCKET_DIR'"
listen=127.0.0.1
if [ -n "$PG_LISTEN_EXTRA" ]; then
    IFS=, read -r -a extra <<<"$PG_LISTEN_EXTRA"
    for address in "${extra[@]}"; do
        address="${address// /}"
        [ -n "$address" ] || continue
        [[ "$address" =~ ^[0-9A-Za-z.:-]+$ ]] || die "PG_LISTEN_EXTRA: '$address' is not an address"
        [ "$address" = 127.0.0.1 ] || listen="$listen,$address"
    done
fi

# The PostgreSQL tools as the user postgres (pg_ctl and initdb refuse root), from a directory it
# may enter, without the lock's descriptor (9): the server would inherit it and hold the lock.
as_pg() { (cd / && runuser -u postgres -- "$@" 9>&-); }
pg_ctl() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" "$@"; }
running() { pg_ctl status >/dev/null 2>&1; }
# postmaster.pid: line 1 pid, 4 port, 5 socket directory (what the running server really uses)
pid_line() { sed -n "${1}p" "$PG_DATA_DIR/postmaster.pid" 2>/dev/null || true; }
running_port() { local p; p=$(pid_line 4); echo "${p:-$PG_PORT}"; }
running_socket_dir() { local d; d=$(pid_line 5); echo "${d:-$PG_SOCKET_DIR}"; }
url_line() { echo "TEST_POSTGRES_URL=postgres://$ROLE:$PASSWORD@127.0.0.1:$1/$DATABASE"; }
log_tail() { [ -f "$LOG_FILE" ] && tail -n 20 "$LOG_FILE" >&2 || true; }

# One start/stop/restart at a time per data directory (two `make` targets starting it at once).
if [ "$command" != status ] && [ "$command" != url ]; then
    mkdir -p "$(dirname "$PG_DATA_DIR")"
    exec 9>"$PG_DATA_DIR.lock"
    flock -w 120 9 || die "another postgres-server.sh holds $PG_DATA_DIR.lock"
fi

settings() {
    local ssl=off
    [ -f "$PG_DATA_DIR/server.crt" ] && [ -f "$PG_DATA_DIR/server.key" ] && ssl=on
    cat <<EOF
# Written by scripts/postgres-server.sh at every start: change the script (or its environment),
# not this file.
listen_addresses = '$listen'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 300
# a session whose client vanished (partition, dead host) ends after 5 + 3 x 2 s of silence
tcp_keepalives_idle = 5
tcp_keepalives_interval = 2
tcp_keepalives_count = 3
# ... and so does one whose answers go unacknowledged (keepalives wait for an idle line)
tcp_user_timeout = 11000
idle_in_transaction_session_timeout = '60s'
password_encryption = 'scram-sha-256'
# TLS with a self-signed server.crt/server.key in the data directory, when openssl made them
ssl = $ssl
# acknowledged commits survive a crash (restart-immediate tests rely on it)
fsync = on
synchronous_commit = on
full_page_writes = on
# stderr goes to server.log in the data directory (pg_ctl -l)
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

hba() {
    cat <<'EOF'
# Written by scripts/postgres-server.sh at every start.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer
local   all       all                      scram-sha-256
host    all       all       127.0.0.1/32   scram-sha-256
# the multi-host test's network namespaces (veth pairs in 10.77.0.0/16)
host    all       all       10.77.0.0/16   scram-sha-256
EOF
}

# pg_isready over TCP on 127.0.0.1, which is what the tests and the service use; bounded.
wait_ready() {
    local port=$1 deadline=$(($(date +%s) + PG_WAIT))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; do
        running || { log_tail; die "the server stopped (log: $LOG_FILE)"; }
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log_tail
            die "the server did not answer on 127.0.0.1:$port within $PG_WAIT s (log: $LOG_FILE)"
        fi
        sleep 0.1 # poll interval
    done
}

# The role and its database (idempotent; the password is set again each time).
ensure_role() {
    local port socket_dir
    port=$(running_port)
    socket_dir=$(running_socket_dir)
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres -d postgres >&2 <<EOF
SET client_min_messages = warning;
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    ELSE
        ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DATABASE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE')
\gexec
EOF
}

init_cluster() {
    if [ -f "$PG_DATA_DIR/PG_VERSION" ]; then
        local version
        version=$(cat "$PG_DATA_DIR/PG_VERSION")
        [ "$version" = 15 ] || die "$PG_DATA_DIR holds a PostgreSQL $version cluster, not 15: remove it or set PG_DATA_DIR"
        return
    fi
    if [ -d "$PG_DATA_DIR" ] && [ -n "$(ls -A "$PG_DATA_DIR")" ]; then
        die "$PG_DATA_DIR is not empty and holds no cluster: remove it or set PG_DATA_DIR"
    fi
    install -d -m 0700 -o postgres -g postgres "$PG_DATA_DIR"
    say "creating a cluster in $PG_DATA_DIR"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA_DIR" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 --no-instructions >&2 || die "initdb failed"
    printf "\n# Code Runner's test settings (scripts/postgres-server.sh)\ninclude_if_exists = 'code-runner.conf'\n" \
        >>"$PG_DATA_DIR/postgresql.conf"
}

# A self-signed certificate, so that sslmode=require and prefer have TLS to use (no client
# verifies it: those modes do not check the certificate). Without openssl, ssl stays off.
ensure_certificate() {
    [ -f "$PG_DATA_DIR/server.crt" ] && [ -f "$PG_DATA_DIR/server.key" ] && return 0
    command -v openssl >/dev/null 2>&1 || { say "no openssl: TLS off (sslmode=require will fail)"; return 1; }
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$PG_DATA_DIR/server.key" -out "$PG_DATA_DIR/server.crt" >/dev/null 2>&1 \
        || { say "openssl could not make a certificate: TLS off"; rm -f "$PG_DATA_DIR"/server.{key,crt}; return 1; }
    chown postgres:postgres "$PG_DATA_DIR/server.key" "$PG_DATA_DIR/server.crt"
    chmod 0600 "$PG_DATA_DIR/server.key"
    say "made a self-signed TLS certificate ($PG_DATA_DIR/server.crt)"
}

write_settings() {
    install -d -m 0755 -o postgres -g postgres "$PG_SOCKET_DIR"
    ensure_certificate || true
    settings >"$CONF_FILE"
    hba >"$PG_DATA_DIR/pg_hba.conf"
    chown postgres:postgres "$CONF_FILE" "$PG_DATA_DIR/pg_hba.conf"
    chmod 0600 "$CONF_FILE" "$PG_DATA_DIR/pg_hba.conf"
}

start() {
    if running; then
        local port
        port=$(running_port)
        say "already running (pid $(pid_line 1), port $port, data $PG_DATA_DIR)"
        [ "$port" = "$PG_PORT" ] || say "note: it listens on port $port, not PG_PORT=$PG_PORT (stop it to change)"
        [ "$(settings)" = "$(cat "$CONF_FILE" 2>/dev/null)" ] \
            || say "note: its settings differ from the requested ones (PG_LISTEN_EXTRA, PG_SOCKET_DIR?): stop + start applies them"
        wait_ready "$port"
        ensure_role || die "could not create the role $ROLE and database $DATABASE"
        url_line "$port"
        return
    fi
    # Not ours on our port: that server would answer the tests' URL instead of ours.
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2; then
        die "another server answers on 127.0.0.1:$PG_PORT: stop it or set PG_PORT"
    fi
    init_cluster
    write_settings
    say "starting PostgreSQL 15 on 127.0.0.1:$PG_PORT${PG_LISTEN_EXTRA:+ and $PG_LISTEN_EXTRA} (data $PG_DATA_DIR, log $LOG_FILE)"
    pg_ctl start -w -t "$PG_WAIT" -l "$LOG_FILE" >&2 || { log_tail; die "the server did not start (log: $LOG_FILE)"; }
    wait_ready "$PG_PORT"
    ensure_role || die "could not create the role $ROLE and database $DATABASE"
    say "ready: pid $(pid_line 1), port $PG_PORT, socket $PG_SOCKET_DIR"
    url_line "$PG_PORT"
}

stop() {
    if ! running; then
        say "not running (data $PG_DATA_DIR)"
        return
    fi
    pg_ctl stop -m fast -w -t 60 >&2 || { log_tail; die "pg_ctl stop failed (log: $LOG_FILE)"; }
    say "stopped"
}

restart() {
    local mode=$1 port
    running || die "not running: use start"
    port=$(running_port)
    say "restarting (-m $mode)"
    pg_ctl restart -m "$mode" -w -t "$PG_WAIT" -l "$LOG_FILE" >&2 \
        || { log_tail; die "pg_ctl restart -m $mode failed (log: $LOG_FILE)"; }
    wait_ready "$port"
    say "ready again: pid $(pid_line 1), port $port"
}

case "$command" in
start) start ;;
stop) stop ;;
status)
    if running; then
        echo "running: pid $(pid_line 1), port $(running_port), socket $(running_socket_dir), data $PG_DATA_DIR, log $LOG_FILE"
    else
        echo "not running (data $PG_DATA_DIR)"
        exit 3
    fi
    ;;
url)
    running || { say "not running: use start"; exit 3; }
    url_line "$(running_port)"
    ;;
restart-fast) restart fast ;;
restart-immediate) restart immediate ;;
esac
