#!/usr/bin/env bash
# Checks that the service answers what its OpenAPI document (GET /openapi.json) says:
#   1. the acceptance suite runs (scripts/run-acceptance.sh) with Tests/openapi/openapi_check_plugin.py
#      loaded, which validates every real response against the document, plus Tests/openapi
#      (the document is valid OpenAPI 3.1, names every route, error answers conform, and the
#      checker rejects broken answers);
#   2. schemathesis fuzzes every operation but POST /prebuild against a fresh service
#      (Tests/openapi/fuzz.sh): no 5xx, and every status, media type, header and body as documented.
# Usage: scripts/run-openapi.sh [path-to-acceptance-suite]
# The Python tools (pinned) go to a virtualenv in .build/openapi-venv, made on first use.
# OPENAPI_SKIP_ACCEPTANCE=1 or OPENAPI_SKIP_FUZZ=1 runs one phase only.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE="${1:-$ROOT/../shared/acceptance}"
VENV="$ROOT/.build/openapi-venv"
REQUIREMENTS="schemathesis==4.32.5 openapi-spec-validator==0.9.0 jsonschema==4.26.0 referencing==0.37.0 pytest==9.2.0 requests==2.34.2"
started=$(date +%s)

if [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$REQUIREMENTS" ]; then
    echo "run-openapi: installing $REQUIREMENTS into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || exit 1
    # shellcheck disable=SC2086
    "$VENV/bin/pip" install -q --disable-pip-version-check $REQUIREMENTS || exit 1
    echo "$REQUIREMENTS" >"$VENV/.requirements"
fi

failed=0
if [ "${OPENAPI_SKIP_ACCEPTANCE:-}" != 1 ]; then
    echo "== run-openapi: acceptance flows validated against /openapi.json"
    PYTHON="$VENV/bin/python" PYTHONPATH="$ROOT/Tests/openapi${PYTHONPATH:+:$PYTHONPATH}" OPENAPI_API_KEY=test-key-1 \
        bash "$ROOT/scripts/run-acceptance.sh" "$SUITE" -p openapi_check_plugin "$ROOT/Tests/openapi" || failed=1
fi
if [ "${OPENAPI_SKIP_FUZZ:-}" != 1 ]; then
    echo "== run-openapi: schemathesis"
    # MAX_TIMEOUT=20: every generated run answers within 20 s + RUN_WAIT_SLACK, well inside
    # fuzz.sh's 90 s request timeout, whatever timeout and code hypothesis draws.
    SERVICE_ENV="DEFAULT_TIMEOUT=10 MAX_TIMEOUT=20 ${SERVICE_ENV:-}" \
    SERVICE_API_KEYS=fuzz-key OPENAPI_API_KEY=fuzz-key ST="$VENV/bin/st" \
        bash "$ROOT/scripts/with-service.sh" bash "$ROOT/Tests/openapi/fuzz.sh" || failed=1
fi
echo "run-openapi: $([ $failed = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started ))s"
exit $failed
