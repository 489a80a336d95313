#!/usr/bin/env bash
# Starts the service on a free loopback port with a fresh database and the acceptance suite's
# two API keys, waits until it is healthy with a worker and Docker, runs the black-box suite
# (pytest) against it with CODE_RUNNER_START set, stops the service, and exits with pytest's
# status. Usage: scripts/run-acceptance.sh [path-to-acceptance-suite] [pytest args...]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE="${1:-$ROOT/../shared/acceptance}"
shift || true
PYTHON="${PYTHON:-python3}"

[ -d "$SUITE" ] || { echo "run-acceptance: no acceptance suite at $SUITE" >&2; exit 1; }
if ! "$PYTHON" -c 'import pytest, requests' 2>/dev/null; then
    echo "run-acceptance: installing pytest and requests"
    "$PYTHON" -m pip install -q pytest requests || exit 1
fi

workdir=$(mktemp -d /tmp/code-runner-acceptance.XXXXXX)
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$workdir/service.log"

# Only the variables the suite expects; every other setting stays at its default.
env -u AUTH_TOKEN HOST=127.0.0.1 PORT="$port" DATABASE_PATH="$workdir/code-runner.sqlite" \
    CODE_RUNNER_API_KEYS=test-key-1,test-key-2 RUNTIME_DIR="$ROOT/runtimes" \
    setsid bash "$ROOT/scripts/run-service.sh" >"$log" 2>&1 &
service=$!
cleanup() {
    kill -TERM -- "-$service" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$service" 2>/dev/null || break; sleep 0.1; done
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
    echo "run-acceptance: the service did not become healthy; its log:" >&2
    tail -50 "$log" >&2
    exit 1
fi

export CODE_RUNNER_URL="http://127.0.0.1:$port"
# `make images` built all six runtimes: a missing one is a failure, not a skip.
export REQUIRE_ALL_RUNTIMES="${REQUIRE_ALL_RUNTIMES-1}"
export CODE_RUNNER_START="RUNTIME_DIR='$ROOT/runtimes' exec bash '$ROOT/scripts/run-service.sh'"
cd "$ROOT" && "$PYTHON" -m pytest -q -rs -p no:cacheprovider "$SUITE" "$@"
status=$?
if [ "$status" -ne 0 ]; then
    echo "--- service log (last 40 lines) ---"
    tail -40 "$log"
fi
exit "$status"
