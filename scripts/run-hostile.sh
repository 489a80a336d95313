#!/usr/bin/env bash
# Runs the hostile-code suite (Tests/hostile) against a fresh instance of the service: starts it
# on a free loopback port with its own database and the API key `hostile-key`, waits until it is
# healthy with a worker and Docker, runs pytest against it (HOSTILE_URL & co.), stops it, and
# exits with pytest's status. Some tests start further instances of their own (orphan sweep,
# gVisor) through scripts/run-service.sh.
# Usage: scripts/run-hostile.sh [test paths] [pytest args...]   (default: all of Tests/hostile)
# HOSTILE_REPORT=<file> collects one JSON line per attack (what was sent, answered, how long);
# by default it is written next to the service log; both paths are printed before pytest starts.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON="${PYTHON:-python3}"

command -v docker >/dev/null || { echo "run-hostile: the docker CLI is needed for the assertions" >&2; exit 1; }
if ! "$PYTHON" -c 'import pytest, requests' 2>/dev/null; then
    echo "run-hostile: installing pytest and requests"
    "$PYTHON" -m pip install -q pytest requests || exit 1
fi

workdir=$(mktemp -d /tmp/code-runner-hostile.XXXXXX)
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$workdir/service.log"
export HOSTILE_REPORT="${HOSTILE_REPORT:-$workdir/report.jsonl}"
: >"$HOSTILE_REPORT"

# Only the variables the suite expects; every other setting stays at its default (the suite
# checks the default limits), also against a .env file: the service starts in the empty workdir.
unset_config=()
for var in HOST PORT LOG_LEVEL DEFAULT_TIMEOUT MAX_TIMEOUT DEFAULT_MEMORY MAX_MEMORY_MB DEFAULT_CPU_SHARES \
    MAX_CPU_CORES DEFAULT_DISK MAX_DISK_MB AUTH_TOKEN CODE_RUNNER_API_KEYS CLEANUP_INTERVAL_HOURS \
    CLEANUP_MAX_AGE_DAYS DATABASE_PATH DEFAULT_CPUS MAX_OUTPUT_BYTES MAX_METADATA_BYTES DEFAULT_PIDS_LIMIT \
    RUN_WAIT_SLACK JOB_RETENTION_HOURS WORKER_CONCURRENCY LEASE_SECONDS PREBUILD_TIMEOUT WORKERS \
    SANDBOX_RUNTIME DOCKER_SOCKET RUNTIME_DIR BIN_DIR; do
    unset_config+=(-u "$var")
done
(cd "$workdir" && exec env "${unset_config[@]}" HOST=127.0.0.1 PORT="$port" \
    DATABASE_PATH="$workdir/code-runner.sqlite" CODE_RUNNER_API_KEYS=hostile-key RUNTIME_DIR="$ROOT/runtimes" \
    setsid bash "$ROOT/scripts/run-service.sh") >"$log" 2>&1 &
service=$!
cleanup() {
    kill -TERM -- "-$service" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$service" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$service" 2>/dev/null
}
trap cleanup EXIT

healthy=false
for _ in $(seq 1 600); do
    if curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"docker_connected":true'; then healthy=true; break; fi
    kill -0 "$service" 2>/dev/null || break
    sleep 0.2
done
if ! $healthy; then
    echo "run-hostile: the service did not become healthy; its log:" >&2
    tail -50 "$log" >&2
    exit 1
fi

export HOSTILE_URL="http://127.0.0.1:$port"
export HOSTILE_SERVICE_PID="$service"
export HOSTILE_DATABASE_PATH="$workdir/code-runner.sqlite"
export HOSTILE_SERVICE_LOG="$log"
export HOSTILE_ROOT="$ROOT"
export HOSTILE_WORKDIR="$workdir"
echo "run-hostile: service on $HOSTILE_URL (log $log), attack report in $HOSTILE_REPORT"
# the whole suite unless the first argument names test files/folders (e.g. Tests/hostile/test_auth.py)
targets=("$ROOT/Tests/hostile")
if [ $# -gt 0 ] && [ -e "${1%%::*}" ]; then targets=(); fi
cd "$ROOT" && "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider "${targets[@]}" "$@"
status=$?
if [ "$status" -ne 0 ]; then
    echo "--- service log (last 40 lines) ---"
    tail -40 "$log"
fi
exit "$status"
