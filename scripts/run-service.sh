#!/usr/bin/env bash
# Runs the whole service in the foreground: the API on $PORT and $WORKERS worker processes,
# all configured by the environment (and ./.env). Used by `make run` and as the acceptance
# suite's CODE_RUNNER_START. Binaries: $BIN_DIR (default .build/release).
#
# It supervises them as systemd's Restart=always does: a process that dies (kill -9, the OOM
# killer, a crash) is started again, with a log line each time and a back-off of 1 s doubling to
# 30 s while it keeps dying (reset once it has stayed up 60 s). A restarted worker keeps its id;
# it hands the runs its predecessor left to the reaper as it starts. Only a process that cannot
# start at all makes the script give up: one that ends by itself (not by a signal) within
# $START_GRACE seconds of its first start, e.g. on an invalid setting; then the others are
# stopped and its exit status is returned. Ctrl-C or SIGTERM stops everything cleanly (workers
# drain their running jobs first) with status 0.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR="${BIN_DIR:-$ROOT/.build/release}"
WORKERS="${WORKERS:-2}"
START_GRACE="${START_GRACE:-5}"
# Prebuild scripts trust what this host trusts (e.g. a TLS-intercepting proxy's CA).
if [ -z "${PREBUILD_CA_BUNDLE:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    export PREBUILD_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi

for binary in code-runner-api code-runner-worker; do
    [ -x "$BIN_DIR/$binary" ] || { echo "run-service: $BIN_DIR/$binary is missing: run 'make build'" >&2; exit 1; }
done

declare -A slot_of=()     # pid → slot (api, worker-1, …)
declare -A started_at=()  # slot → $SECONDS at its last start
declare -A stayed_up=()   # slot → 1 once it outlived START_GRACE
declare -A delay_of=()    # slot → the next back-off in seconds
sleeper=""

start() {
    local slot=$1
    case "$slot" in
    api) "$BIN_DIR/code-runner-api" & ;;
    worker-*) "$BIN_DIR/code-runner-worker" --worker-id "worker-$(hostname -s)-$$-${slot#worker-}" & ;;
    esac
    slot_of[$!]=$slot
    started_at[$slot]=$SECONDS
}

stop_all() {
    trap - TERM INT
    [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
    for pid in "${!slot_of[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    wait "${!slot_of[@]}" 2>/dev/null
}
trap 'stop_all; exit 0' TERM INT

start api
for ((i = 1; i <= WORKERS; i++)); do start "worker-$i"; done

while :; do
    ended=""
    wait -n -p ended "${!slot_of[@]}"
    status=$?
    [ -n "$ended" ] || continue  # woken without a child ending
    slot=${slot_of[$ended]}
    unset "slot_of[$ended]"
    up=$((SECONDS - started_at[$slot]))
    [ "$up" -ge "$START_GRACE" ] && stayed_up[$slot]=1
    if [ -z "${stayed_up[$slot]:-}" ] && [ "$status" -lt 128 ]; then
        echo "run-service: $slot could not start (status $status after ${up}s); stopping the others" >&2
        stop_all
        exit "$status"
    fi
    delay=${delay_of[$slot]:-1}
    [ "$up" -ge 60 ] && delay=1
    echo "run-service: $slot (pid $ended) ended with status $status after ${up}s; starting it again in ${delay}s" >&2
    delay_of[$slot]=$((delay * 2 > 30 ? 30 : delay * 2))
    # the back-off itself (not a synchronisation); SIGTERM ends it at once through the trap
    sleep "$delay" &
    sleeper=$!
    wait "$sleeper"
    sleeper=""
    start "$slot"
done
