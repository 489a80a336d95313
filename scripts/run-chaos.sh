#!/usr/bin/env bash
# Chaos and load tests (issue 6): kills workers and the API, freezes workers, drains, restarts
# dockerd, floods /run, scales workers and fills / freezes the database's filesystem — then
# prints one line per scenario (jobs sent / completed / failed / lost, PASS or FAIL) and exits
# non-zero when any scenario failed.
#
#   scripts/run-chaos.sh                      # every scenario (about 10-15 minutes)
#   scripts/run-chaos.sh kill9-workers load   # only these
#   scripts/run-chaos.sh --list
#
# Scenarios: kill9-workers sigstop kill9-api sigterm-drain dockerd-restart load scale disk-full
#   postgres-restart (the service on PostgreSQL: its server restarted fast and immediate, then down
#   8 s; starts the tests' server, scripts/postgres-server.sh, when it does not run)
#   multihost host-kill9 host-partition api-kill hosts-postgres-restart host-engines (several hosts in network namespaces on a
#   PostgreSQL server of their own: Tests/chaos/multihost.py; `make multihost`)
# Needs: root (dockerd-restart restarts the host's dockerd; disk-full mounts a tmpfs and a loop
# device), a running dockerd with the runtime images (`make images`), the release binaries
# (`make build`; they are copied at the start), python3 with `requests`.
# Each scenario starts its own API and workers on a fresh database and port on 127.0.0.1.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if ! python3 -c 'import requests' 2>/dev/null; then
    echo "run-chaos: python3 'requests' is missing (apt-get install python3-requests, or pip install requests)" >&2
    exit 2
fi
for binary in code-runner-api code-runner-worker; do
    [ -x "${CHAOS_BIN_DIR:-$ROOT/.build/release}/$binary" ] || {
        echo "run-chaos: ${CHAOS_BIN_DIR:-$ROOT/.build/release}/$binary is missing: run 'make build'" >&2
        exit 2
    }
done
exec python3 "$ROOT/Tests/chaos/run_chaos.py" "$@"
