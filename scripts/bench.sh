#!/usr/bin/env bash
# `make bench`: every figure in one run, on this machine, with the release binaries and the
# code-runner-python image (`make bench` builds them all; by hand: `make images build`, then
# `swift build -c release --product code-runner-bench`).
#   - latency and throughput: two services side by side, the warm pool on (POOL_SIZE=2) and off
#     (POOL_SIZE=0), against the raw Engine API lifecycle, `docker run --rm` and the seed's
#     engine calls (code-runner-bench latency);
#   - the queue alone, once the services are stopped: its wake-ups (enqueue → claim, complete →
#     waiting API; queue-hops) and no-op claim+complete jobs/s with 1 and 4 worker processes;
#   - peak RSS of the API and the workers, and the API's RSS with 1,000 waiting POST /run.
# Prints Markdown tables and writes bench/results/bench.json. RUNS (30) sets the latency rounds.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/.build/release"
RUNS=${RUNS:-30}
# Slots per worker of the measured services: 2 workers × 4 run as many containers at once as the
# 8 raw lifecycles of the churn ceiling they are compared with (the default is 2 per worker).
BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-4}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
out="$ROOT/bench/results"; mkdir -p "$out"
work=$(mktemp -d /tmp/code-runner-bench.XXXXXX)
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

services=()
started_port=""
start_service() {  # name pool_size -> sets started_port
    local port; port=$(free_port)
    HOST=127.0.0.1 PORT=$port DATABASE_PATH="$work/$1.sqlite" POOL_SIZE=$2 RUNTIME_DIR="$ROOT/runtimes" \
        WORKERS=2 WORKER_CONCURRENCY="$BENCH_CONCURRENCY" \
        setsid bash "$ROOT/scripts/run-service.sh" >"$work/$1.log" 2>&1 &
    services+=($!)
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"docker_connected":true' && break
        sleep 0.2
    done
    started_port=$port
}
trap 'for s in "${services[@]}"; do kill -TERM -- -$s 2>/dev/null; done; wait 2>/dev/null' EXIT

start_service warm 2; warm=$started_port
start_service cold 0; cold=$started_port
echo "## POST /run and the raw lifecycle (python hello world; same image and flags; services: 2 workers × WORKER_CONCURRENCY=$BENCH_CONCURRENCY)"
"$BIN/code-runner-bench" latency --url "http://127.0.0.1:$warm" --cold-url "http://127.0.0.1:$cold" \
    --runs "$RUNS" --json "$out/bench.json" || exit 1

echo
echo "## Peak RSS (VmHWM)"
for s in "${services[@]}"; do
    for pid in $(pgrep -g "$s" -f 'code-runner-(api|worker)'); do
        name=$(tr '\0' ' ' </proc/$pid/cmdline | awk '{print $1}' | xargs basename)
        echo "- $name (pid $pid): $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$pid/status)"
    done
done

# The queue alone is alone: the services and their containers go first.
for s in "${services[@]}"; do kill -TERM -- -"$s" 2>/dev/null; done
wait "${services[@]}" 2>/dev/null
services=()

echo
echo "## The queue alone: wake-ups between three connections (code-runner-bench queue-hops)"
"$BIN/code-runner-bench" queue-hops --database "$work/hops.sqlite" --json "$out/queue-hops.json" || exit 1

echo
echo "## The queue alone (no-op executor, claim + complete)"
for procs in 1 4; do
    db="$work/queue-$procs.sqlite"
    enqueue_start=$(date +%s.%N)
    "$BIN/code-runner-bench" queue-probe --database "$db" --enqueue 20000 >/dev/null
    enqueue_end=$(date +%s.%N)
    start=$(date +%s.%N)
    probes=()
    for i in $(seq 1 "$procs"); do "$BIN/code-runner-bench" queue-probe --database "$db" --batch 8 >/dev/null & probes+=($!); done
    wait "${probes[@]}"
    end=$(date +%s.%N)
    left=$(sqlite3 "$db" "SELECT count(*) FROM jobs WHERE state != 'completed'" 2>/dev/null || echo "?")
    $PY -c "print(f'- {$procs} process(es): {20000/($end-$start):.0f} jobs/s claimed + completed (20000 jobs, {$end-$start:.2f} s, not completed: $left); enqueued before at {20000/($enqueue_end-$enqueue_start):.0f} jobs/s by 1 process')"
done

echo
echo "## API memory with 1,000 waiting POST /run (an API alone; its only worker never claims)"
port=$(free_port)
(cd "$work" && exec env HOST=127.0.0.1 PORT=$port DATABASE_PATH="$work/waiting.sqlite" MAX_QUEUE_DEPTH=5000 \
    RUNTIME_DIR="$ROOT/runtimes" "$BIN/code-runner-api" >"$work/waiting.log" 2>&1) &
waiting_api=$!
$PY "$ROOT/scripts/bench-waiting.py" --url "http://127.0.0.1:$port" --api-pid "$waiting_api" \
    --database "$work/waiting.sqlite" --requests 1000 --json "$out/waiting.json"
kill -TERM "$waiting_api" 2>/dev/null; wait "$waiting_api" 2>/dev/null
