#!/usr/bin/env bash
# Runs the whole service in the foreground: the API on $PORT and $WORKERS worker processes,
# all configured by the environment (and ./.env). Ctrl-C or SIGTERM stops them all cleanly
# (workers drain their running jobs first); if any process exits, the others are stopped and
# its exit status is returned. Used by `make run` and as the acceptance suite's
# CODE_RUNNER_START. Binaries: $BIN_DIR (default .build/release).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR="${BIN_DIR:-$ROOT/.build/release}"
WORKERS="${WORKERS:-2}"
# Prebuild scripts trust what this host trusts (e.g. a TLS-intercepting proxy's CA).
if [ -z "${PREBUILD_CA_BUNDLE:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export PREBUILD_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi

for binary in code-runner-api code-runner-worker; do
    [ -x "$BIN_DIR/$binary" ] || { echo "run-service: $BIN_DIR/$binary is missing: run 'make build'" >&2; exit 1; }
done

pids=()
stop_all() {
    trap - TERM INT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    wait "${pids[@]}" 2>/dev/null
}
trap 'stop_all; exit 0' TERM INT

"$BIN_DIR/code-runner-api" &
pids+=($!)
for ((i = 1; i <= WORKERS; i++)); do
    "$BIN_DIR/code-runner-worker" --worker-id "worker-$(hostname -s)-$$-$i" &
    pids+=($!)
done

wait -n "${pids[@]}"
status=$?
echo "run-service: a process ended with status $status; stopping the others" >&2
stop_all
exit "$status"
