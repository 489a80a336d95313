#!/bin/sh
# code-runner-healthcheck api|worker [worker-id]
#
#   api     GET /health on 127.0.0.1:$PORT answers 200. The API is healthy when it serves and
#           reads its database; "degraded" (no worker reaches Docker) is still 200 on purpose:
#           workers are judged by their own check.
#   worker  The worker has no HTTP port. Its heartbeat row in the shared database (table
#           `workers`, written every LEASE_SECONDS/3 by the live process) must be younger than
#           LEASE_SECONDS and say docker_connected = 1: the process is alive, writes the
#           database and reaches its engine. The id defaults to the container's hostname, which
#           deploy/compose.yaml passes as --worker-id.
#
# Uses only sh, bash (for /dev/tcp) and the sqlite3 CLI, all in the image.
set -eu

case "${1:-}" in
api)
    exec bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/${PORT:-8000}" || exit 1
        printf "GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
        IFS= read -r -t 5 status <&3 || exit 1
        case "$status" in "HTTP/1."?" 200"*) exit 0 ;; *) echo "health: $status" >&2; exit 1 ;; esac'
    ;;
worker)
    id="${2:-$(cat /etc/hostname)}"
    case "$id" in *"'"*) echo "bad worker id" >&2; exit 1 ;; esac
    lease="${LEASE_SECONDS:-10}"
    case "$lease" in ''|*[!0-9.]*) lease=10 ;; esac
    # The same clock expression as the service (DatabaseClock): Unix seconds from SQLite.
    alive=$(sqlite3 -readonly -cmd '.timeout 3000' "${DATABASE_PATH:?}" \
        "SELECT count(*) FROM workers WHERE id = '$id' AND docker_connected = 1
           AND heartbeat_at > (julianday('now') - 2440587.5) * 86400.0 - $lease;") || exit 1
    [ "$alive" = 1 ] || { echo "worker $id: no fresh heartbeat with docker_connected" >&2; exit 1; }
    ;;
*)
    echo "usage: code-runner-healthcheck api|worker [worker-id]" >&2
    exit 2
    ;;
esac
