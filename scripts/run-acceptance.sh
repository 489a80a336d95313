#!/usr/bin/env bash
# Runs the black-box acceptance suite (pytest) against a fresh instance of the service started by
# scripts/with-service.sh with the suite's two API keys, and exits with pytest's status.
# Usage: scripts/run-acceptance.sh [path-to-acceptance-suite] [pytest args...]
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
SUITE=$(cd "$SUITE" && pwd)

# `make images` built all six runtimes: a missing one is a failure, not a skip.
export REQUIRE_ALL_RUNTIMES="${REQUIRE_ALL_RUNTIMES-1}"
export CODE_RUNNER_START="RUNTIME_DIR='$ROOT/runtimes' exec bash '$ROOT/scripts/run-service.sh'"
export SERVICE_API_KEYS=test-key-1,test-key-2
cd "$ROOT" && exec bash scripts/with-service.sh bash -c \
    'CODE_RUNNER_URL="$SERVICE_URL" exec "$0" -m pytest -q -rs -p no:cacheprovider "$@"' "$PYTHON" "$SUITE" "$@"
