#!/usr/bin/env bash
# Runs a command against a fresh instance of the service, then stops the service:
#   scripts/with-service.sh <command> [args...]
# The service (scripts/run-service.sh: the API and $WORKERS workers, release binaries) starts in
# a new temporary directory on a free loopback port with its own database, every configuration
# variable unset (defaults, no ./.env) except those given through SERVICE_ENV, and the API keys
# in SERVICE_API_KEYS (comma-separated; empty = no authentication). Once /health says a worker
# reaches Docker, the command runs with these in its environment:
#   SERVICE_URL       http://127.0.0.1:<port>
#   SERVICE_PID       the service's process group leader (run-service.sh)
#   SERVICE_DATABASE  the SQLite file
#   SERVICE_LOG       the service's log (API and workers)
#   SERVICE_WORKDIR   the temporary directory
# Exits with the command's status; on failure the last 40 lines of the service log are printed.
# SERVICE_ENV="LOG_FORMAT=json POOL_SIZE=0" sets extra variables for the service.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON="${PYTHON:-python3}"
[ $# -gt 0 ] || { echo "usage: scripts/with-service.sh <command> [args...]" >&2; exit 2; }

workdir=$(mktemp -d /tmp/code-runner-service.XXXXXX)
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$workdir/service.log"

# Every setting at its default unless SERVICE_ENV says otherwise; the service starts in the empty
# workdir, so no .env file applies either.
unset_config=()
for var in HOST PORT LOG_LEVEL LOG_FORMAT DEFAULT_TIMEOUT MAX_TIMEOUT DEFAULT_MEMORY MAX_MEMORY_MB \
    DEFAULT_CPU_SHARES MAX_CPU_CORES DEFAULT_DISK MAX_DISK_MB AUTH_TOKEN CODE_RUNNER_API_KEYS \
    CLEANUP_INTERVAL_HOURS CLEANUP_MAX_AGE_DAYS DATABASE_PATH DEFAULT_CPUS MAX_OUTPUT_BYTES \
    MAX_METADATA_BYTES DEFAULT_PIDS_LIMIT RUN_WAIT_SLACK JOB_RETENTION_HOURS WORKER_CONCURRENCY \
    LEASE_SECONDS PREBUILD_TIMEOUT WORKERS SANDBOX_RUNTIME DOCKER_SOCKET RUNTIME_DIR BIN_DIR \
    POOL_SIZE MAX_QUEUE_DEPTH PREBUILD_MEMORY_MB PREBUILD_CPUS PREBUILD_PIDS_LIMIT PREBUILD_MAX_LAYER_MB \
    METRICS_TOKEN PREBUILD_CA_BUNDLE EGRESS_ALLOW_CIDRS EGRESS_DENY_CIDRS WORKER_HOST DATABASE_URL \
    DATABASE_POOL_SIZE WEBHOOK_SECRET WEBHOOK_ALLOW_CIDRS API_KEYS_FILE LIVE_OUTPUT MAX_OUTPUT_FILES MAX_OUTPUT_FILE_BYTES \
    POOL_PRESTART; do
    unset_config+=(-u "$var")
done
read -r -a extra_env <<<"${SERVICE_ENV:-}"
(cd "$workdir" && exec env "${unset_config[@]}" HOST=127.0.0.1 PORT="$port" \
    DATABASE_PATH="$workdir/code-runner.sqlite" CODE_RUNNER_API_KEYS="${SERVICE_API_KEYS:-}" \
    RUNTIME_DIR="$ROOT/runtimes" "${extra_env[@]}" \
    setsid bash "$ROOT/scripts/run-service.sh") >"$log" 2>&1 &
service=$!
stopped_cleanly=false
cleanup() {
    kill -TERM -- "-$service" 2>/dev/null
    for _ in $(seq 1 200); do kill -0 "$service" 2>/dev/null || { stopped_cleanly=true; break; }; sleep 0.1; done
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
    echo "with-service: the service did not become healthy; its log:" >&2
    tail -50 "$log" >&2
    exit 1
fi

export SERVICE_URL="http://127.0.0.1:$port" SERVICE_PID="$service" SERVICE_DATABASE="$workdir/code-runner.sqlite"
export SERVICE_LOG="$log" SERVICE_WORKDIR="$workdir"
"$@"
status=$?
if [ "$status" -ne 0 ]; then
    echo "--- service log (last 40 lines) ---"
    tail -40 "$log"
fi
# A stopped service leaves no sandbox network behind (the last worker removes it, and its
# egress rules with it): the engine has room for about 30 networks, and leaked ones would end
# networked runs on this machine.
deployment=$(python3 - "$workdir/code-runner.sqlite" 2>/dev/null <<'PY' || true
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT value FROM deployment WHERE key = 'id'").fetchone()[0])
PY
)
trap - EXIT
cleanup
for network in "code-runner-$deployment" "code-runner-$deployment-allowlist"; do
    if [ -n "$deployment" ] && docker network inspect "$network" >/dev/null 2>&1; then
        docker network rm "$network" >/dev/null 2>&1 || true
        if $stopped_cleanly; then
            echo "with-service: the stopped service left its network $network behind" >&2
            [ "$status" -ne 0 ] || status=1
        fi
    fi
done
# ... nor its allowlist proxy (Sources/Worker/Egress/Allowlist/AllowlistProxy.swift: squid -n cr<deployment>)
if [ -n "$deployment" ] && pgrep -f -- "-n cr$deployment " >/dev/null 2>&1; then
    if $stopped_cleanly; then
        echo "with-service: the stopped service left its allowlist proxy (squid -n cr$deployment) running" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    pkill -KILL -f -- "-n cr$deployment " 2>/dev/null
fi
[ -n "$deployment" ] && rm -rf "/run/code-runner-proxy/$deployment"
# ... nor its egress rules (Sources/Worker/Egress/EgressPolicy.swift names the chains)
if [ -n "$deployment" ] && iptables -S "CR-$deployment" >/dev/null 2>&1; then
    if $stopped_cleanly; then
        echo "with-service: the stopped service left its egress chain CR-$deployment behind" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    iptables -D DOCKER-USER -i "cr-$deployment" -j "CR-$deployment" 2>/dev/null
    iptables -D INPUT -i "cr-$deployment" -j "CR-$deployment-in" 2>/dev/null
    iptables -D DOCKER-USER -i "ca-$deployment" -j "CR-$deployment-no" 2>/dev/null
    iptables -D INPUT -i "ca-$deployment" -j "CR-$deployment-al" 2>/dev/null
    for chain in "CR-$deployment" "CR-$deployment-in" "CR-$deployment-al" "CR-$deployment-no"; do iptables -F "$chain" 2>/dev/null; done
    for chain in "CR-$deployment" "CR-$deployment-in" "CR-$deployment-al" "CR-$deployment-no"; do iptables -X "$chain" 2>/dev/null; done
fi
exit "$status"
