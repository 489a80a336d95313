#!/usr/bin/env bash
# The operations suite (Tests/ops: the /metrics names and figures, JSON logs) against a fresh
# service started by scripts/with-service.sh with LOG_FORMAT=json and one API key.
# Usage: scripts/run-ops-tests.sh [pytest args...]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import pytest, requests' 2>/dev/null; then
    echo "run-ops-tests: installing pytest and requests"
    "$PYTHON" -m pip install -q pytest requests || exit 1
fi
export OPS_API_KEY=ops-key SERVICE_API_KEYS=ops-key SERVICE_ENV="LOG_FORMAT=json"
cd "$ROOT" && exec bash scripts/with-service.sh "$PYTHON" -m pytest -q -rfEs -p no:cacheprovider Tests/ops "$@"
