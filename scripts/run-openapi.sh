#!/usr/bin/env bash
# Checks that the service answers what its OpenAPI document (GET /openapi.json) says:
#   1. the acceptance suite runs (scripts/run-acceptance.sh) with Tests/openapi/openapi_check_plugin.py
#      loaded, which validates every real response against the document, plus Tests/openapi
#      (the document is valid OpenAPI 3.1, names every route, error answers conform, and the
#      checker rejects broken answers);
#   2. schemathesis fuzzes every operation but POST /prebuild against a fresh service
#      (Tests/openapi/fuzz.sh): no 5xx, and every status, media type, header and body as documented.
# Both start with the lint below, which `scripts/run-openapi.sh --lint` runs alone (no service,
# no virtualenv, under a second): the document, Sources/API/Resources/openapi.json, is strict
# JSON (UTF-8, no NaN/Infinity, no duplicate keys) in its canonical formatting, the output of
# `python3 -m json.tool --indent 2` (2-space indent, keys in document order, final newline).
# Usage: scripts/run-openapi.sh [path-to-acceptance-suite] | scripts/run-openapi.sh --lint
# The Python tools (pinned) go to a virtualenv in .build/openapi-venv, made on first use.
# OPENAPI_SKIP_ACCEPTANCE=1 or OPENAPI_SKIP_FUZZ=1 runs one phase only.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOCUMENT="$ROOT/Sources/API/Resources/openapi.json"

lint_document() {
    python3 - "$DOCUMENT" <<'PY'
import json, sys

path = sys.argv[1]

def no_duplicates(pairs):
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"duplicate keys {repeated} in one object")
    return dict(pairs)

def no_constant(name):
    raise ValueError(f"{name} is not JSON")

try:
    with open(path, encoding="utf-8", errors="strict") as file:
        text = file.read()
    document = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
except (OSError, UnicodeDecodeError, ValueError) as error:
    sys.exit(f"run-openapi: lint: {path}: {error}")
if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1."):
    sys.exit(f"run-openapi: lint: {path}: not an OpenAPI 3.1 document")
if text != json.dumps(document, indent=2) + "\n":
    sys.exit(f"run-openapi: lint: {path}: not in canonical formatting; rewrite it with\n"
             f"  python3 -m json.tool --indent 2 {path} > {path}.new && mv {path}.new {path}")
print(f"run-openapi: lint: {path} is canonical JSON")
PY
}

if [ "${1:-}" = --lint ]; then
    lint_document
    exit
fi
lint_document || exit 1
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
