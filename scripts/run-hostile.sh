#!/usr/bin/env bash
# Runs the hostile-code suite (Tests/hostile) against a fresh instance of the service, started by
# scripts/with-service.sh with default settings and the API keys `hostile-key` and `hostile-key-2`
# (two tenants), and exits with
# pytest's status. Some tests start further instances of their own (orphan sweep, gVisor) through
# scripts/run-service.sh.
# Usage: scripts/run-hostile.sh [test paths] [pytest args...]   (default: all of Tests/hostile)
# HOSTILE_REPORT=<file> collects one JSON line per attack (what was sent, answered, how long);
# by default a new file in /tmp; its path and the service log's are printed before pytest starts.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON="${PYTHON:-python3}"

command -v docker >/dev/null || { echo "run-hostile: the docker CLI is needed for the assertions" >&2; exit 1; }
if ! "$PYTHON" -c 'import pytest, requests' 2>/dev/null; then
    echo "run-hostile: installing pytest and requests"
    "$PYTHON" -m pip install -q pytest requests || exit 1
fi

export HOSTILE_REPORT="${HOSTILE_REPORT:-$(mktemp /tmp/code-runner-hostile-report.XXXXXX.jsonl)}"
: >"$HOSTILE_REPORT"
export SERVICE_API_KEYS=hostile-key,hostile-key-2

# The suite checks the default limits: with-service.sh starts the service with every setting at
# its default. The rest runs inside it, with the service's facts in SERVICE_*.
[ "${1:-}" = "--inside-service" ] || exec bash "$ROOT/scripts/with-service.sh" bash "$0" --inside-service "$@"
shift

export HOSTILE_URL="$SERVICE_URL"
export HOSTILE_SERVICE_PID="$SERVICE_PID"
export HOSTILE_DATABASE_PATH="$SERVICE_DATABASE"
export HOSTILE_SERVICE_LOG="$SERVICE_LOG"
export HOSTILE_ROOT="$ROOT"
export HOSTILE_WORKDIR="$SERVICE_WORKDIR"
echo "run-hostile: service on $HOSTILE_URL (log $SERVICE_LOG), attack report in $HOSTILE_REPORT"
# the whole suite unless the first argument names test files/folders (e.g. Tests/hostile/test_auth.py)
targets=("$ROOT/Tests/hostile")
if [ $# -gt 0 ] && [ -e "${1%%::*}" ]; then targets=(); fi
cd "$ROOT" && exec "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider "${targets[@]}" "$@"
