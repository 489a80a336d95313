#!/usr/bin/env bash
# The Swift client library and the code-runner CLI against a fresh service:
#   scripts/run-client-tests.sh
# Builds the release service (API, worker), the debug CLI and the test bundle, starts the service
# through scripts/with-service.sh with one API key, then runs Tests/ClientTests (swift test) and
# Tests/cli/test_cli.sh. Both suites run even when the first fails; the exit status says whether
# both passed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)

swift build -c release --product code-runner-api || exit 1
swift build -c release --product code-runner-worker || exit 1
swift build --product code-runner || exit 1
swift build --build-tests || exit 1

key="client-test-key"
SERVICE_API_KEYS="$key" bash scripts/with-service.sh bash -c '
    export CODE_RUNNER_URL="$SERVICE_URL" CODE_RUNNER_API_KEY="$1" CODE_RUNNER_BIN="$2"
    status=0
    echo "== Swift client tests (Tests/ClientTests) =="
    swift test --skip-build --filter ClientTests || status=1
    echo "== CLI tests (Tests/cli/test_cli.sh) =="
    bash Tests/cli/test_cli.sh || status=1
    exit $status
' client-tests "$key" "$ROOT/.build/debug/code-runner"
status=$?
echo "client tests: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
