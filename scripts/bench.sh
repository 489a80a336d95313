#!/usr/bin/env bash
# `make bench`: every figure in one run, on this machine, with the release binaries and the
# code-runner-python image (`make bench` builds them all; by hand: `make images build`, then
# `swift build -c release --product code-runner-bench`).
#   - latency and throughput: two services side by side, the warm pool on (POOL_SIZE=2) and off
#     (POOL_SIZE=0), against the raw Engine API lifecycle, `docker run --rm` and the seed's
#     engine calls (code-runner-bench latency); a third service, set up as the warm one but with
#     its queue on PostgreSQL (DATABASE_URL), in the same interleaved latency rounds: its POST /run
#     p50 next to the SQLite deployment's (target ≤ 1.15 ×); and a fourth, the same on a database
#     with synchronous_commit=off (a diagnostic: what the WAL flush per commit costs);
#   - the queue alone, once the services are stopped, on SQLite and on PostgreSQL: its wake-ups
#     (enqueue → claim, complete → waiting API; queue-hops), no-op claim+complete jobs/s with 1
#     and 4 worker processes, enqueue jobs/s by 1 and by 4 processes at once (queue-probe
#     --timing; scripts/bench-queue.py makes the table, with issue 16's targets; PostgreSQL also
#     with synchronous_commit=off, as a diagnostic column — the targets are judged on the default);
#   - the original service, quartermaster-code-runner 0.9.1 (scripts/original-service.sh), in the
#     latency rounds (original_post_run) and at 16 clients (original_c16), for issue 20's ratios;
#   - pre-started interpreters (scripts/bench-prestart.py): warm POST /run of python, node, bun and
#     deno on the warm service against a copy with POOL_PRESTART=off (the old warm path), which
#     also runs in the latency rounds (post_run_pool_on_prestart_off) and at 16 clients;
#   - judge mode (scripts/bench-judge.py, on the warm service): 100 Go cases in one request against
#     100 separate requests, and the per-case overhead of a compiled binary and of Python;
#   - streaming (scripts/bench-stream.py): a printed line to an SSE client on SQLite and
#     PostgreSQL (target p50 <= 50 ms), and POST /run's throughput with live output on against a
#     fifth service, the warm one with LIVE_OUTPUT=off (target on >= 0.95 x off);
#   - fair scheduling (scripts/bench-fairness.py): a sixth service, set up as the warm one with an
#     API_KEYS_FILE of two keys (priority 1, no limits): key B's 20 sequential POST /run alone, and
#     again as soon as key A's 500 POST /jobs are accepted (target: B's p50 under the flood <= 2 x
#     alone, end to end and in queue wait), A's jobs still queued when B finished, then A's backlog
#     drained; then the same flood again with A capped (the keys file rewritten with A's
#     max_running 2, reloaded, then put back);
#   - peak RSS of the API and the workers, and the API's RSS with 1,000 waiting POST /run.
# PostgreSQL is the tests' throw-away server (scripts/postgres-server.sh start: idempotent, port
# 55432); every measurement gets a database or schema of its own, dropped at the end.
# Prints Markdown tables and writes bench/results/bench.json (latency), judge.json, stream.json, fairness.json,
# queue.json (the queue alone; queue-hops-<store>.json its samples) and waiting.json. RUNS (30) sets the latency rounds.
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
QUEUE_JOBS=${QUEUE_JOBS:-20000}
PG_SOCKET_DIR=${PG_SOCKET_DIR:-/var/tmp/code-runner-postgres-socket}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

services=()
pg_databases=()
original_started=false
cleanup() {
    [ "$original_started" = true ] && bash "$ROOT/scripts/original-service.sh" stop >/dev/null 2>&1
    for s in "${services[@]}"; do kill -TERM -- -"$s" 2>/dev/null; done
    wait 2>/dev/null
    for d in "${pg_databases[@]}"; do pg_admin postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)"; done
}
trap cleanup EXIT

# The tests' PostgreSQL server, and databases of this run's own: one for the service on
# PostgreSQL, one whose schemas hold the queue-alone measurements, and the same two with
# synchronous_commit=off (ALTER DATABASE … SET), a diagnostic column: the server's default (on)
# waits for a WAL flush at every commit, where SQLite's synchronous=NORMAL (this queue's setting)
# flushes at checkpoints only; the targets are judged on the default.
postgres_line=$(bash "$ROOT/scripts/postgres-server.sh" start) || { echo "bench: the PostgreSQL server did not start" >&2; exit 1; }
postgres_url=${postgres_line#TEST_POSTGRES_URL=}
pg_port=${postgres_url##*:}; pg_port=${pg_port%%/*}
pg_admin() {  # database, psql arguments…
    local database=$1; shift
    (cd / && PGOPTIONS='-c client_min_messages=warning' runuser -u postgres -- \
        psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$pg_port" -d "$database" "$@")
}
pg_database() {  # name -> a fresh database owned by the tests' role (dropped at the end)
    pg_databases+=("$1")
    pg_admin postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 OWNER code_runner"
}
service_db=code_runner_bench_service_$$
queue_db=code_runner_bench_queue_$$
pg_database "$service_db" && pg_database "$queue_db" && pg_database "${service_db}_async" && pg_database "${queue_db}_async" \
    && pg_admin postgres -c "ALTER DATABASE ${service_db}_async SET synchronous_commit = off" \
        -c "ALTER DATABASE ${queue_db}_async SET synchronous_commit = off" \
    || { echo "bench: could not create the bench databases" >&2; exit 1; }
service_url=${postgres_url%/*}/$service_db

started_port=""
start_service() {  # name pool_size [DATABASE_URL] -> sets started_port
    local port; port=$(free_port)
    HOST=127.0.0.1 PORT=$port DATABASE_PATH="$work/$1.sqlite" DATABASE_URL="${3:-}" POOL_SIZE=$2 RUNTIME_DIR="$ROOT/runtimes" \
        WORKERS=2 WORKER_CONCURRENCY="$BENCH_CONCURRENCY" \
        setsid bash "$ROOT/scripts/run-service.sh" >"$work/$1.log" 2>&1 &
    services+=($!)
    for _ in $(seq 1 300); do
        curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"docker_connected":true' && break
        sleep 0.2
    done
    started_port=$port
}
start_service warm 2; warm=$started_port
start_service cold 0; cold=$started_port
LIVE_OUTPUT=off start_service warm_no_live 2; warm_no_live=$started_port
POOL_PRESTART=off start_service warm_prestart_off 2; warm_prestart_off=$started_port
# The original service (quartermaster-code-runner 0.9.1 from PyPI, its python image renamed
# original-code-runner-python): scripts/original-service.sh; without it the ratios are left out.
original_args=()
if original_line=$(bash "$ROOT/scripts/original-service.sh" start); then
    original_started=true
    original_args=(--original-url "${original_line#ORIGINAL_URL=}")
else
    echo "bench: the original service did not start (scripts/original-service.sh); its figures are left out" >&2
fi
start_service postgres 2 "$service_url"; postgres=$started_port
start_service postgres_async 2 "${service_url}_async"; postgres_async=$started_port
echo "## POST /run and the raw lifecycle (python hello world; same image and flags; services: 2 workers × WORKER_CONCURRENCY=$BENCH_CONCURRENCY; post_run_pool_on_postgres: as post_run_pool_on, the queue on PostgreSQL; …_async_commit: its database with synchronous_commit=off)"
"$BIN/code-runner-bench" latency --url "http://127.0.0.1:$warm" --cold-url "http://127.0.0.1:$cold" \
    --prestart-off-url "http://127.0.0.1:$warm_prestart_off" "${original_args[@]}" \
    --postgres-url "http://127.0.0.1:$postgres" --postgres-async-url "http://127.0.0.1:$postgres_async" \
    --runs "$RUNS" --json "$out/bench.json" || exit 1

echo
echo "## Pre-started interpreters: warm POST /run of python, node, bun and deno, POOL_PRESTART on against off (scripts/bench-prestart.py; warm_prestart_off: the warm service with POOL_PRESTART=off)"
$PY "$ROOT/scripts/bench-prestart.py" --url "http://127.0.0.1:$warm" --off-url "http://127.0.0.1:$warm_prestart_off" \
    --json "$out/prestart.json" || echo "(the pre-start figures are missing)"

echo
echo "## Judge mode: 100 Go cases in one request against 100 requests; per-case overhead (scripts/bench-judge.py, the warm service)"
$PY "$ROOT/scripts/bench-judge.py" --url "http://127.0.0.1:$warm" --json "$out/judge.json" || echo "(the judge figures are missing)"

echo
echo "## Streaming: a printed line to an SSE client, and what live output costs POST /run (scripts/bench-stream.py; warm_no_live: the warm service with LIVE_OUTPUT=off)"
$PY "$ROOT/scripts/bench-stream.py" --url "http://127.0.0.1:$warm" --off-url "http://127.0.0.1:$warm_no_live" \
    --postgres-url "http://127.0.0.1:$postgres" --json "$out/stream.json" || echo "(the streaming figures are missing)"

echo
echo "## Fair scheduling: key B's POST /run alone, while key A has 500 jobs queued, and again with A capped (scripts/bench-fairness.py; a service as the warm one, with API_KEYS_FILE: two keys, priority 1, no limits; for the last phase A gets max_running 2)"
key_a="bench-tenant-a-$$-$RANDOM$RANDOM" key_b="bench-tenant-b-$$-$RANDOM$RANDOM"
printf '{"keys": [{"name": "tenant-a", "key": "%s"}, {"name": "tenant-b", "key": "%s"}]}\n' "$key_a" "$key_b" >"$work/api-keys.json"
API_KEYS_FILE="$work/api-keys.json" start_service fairness 2; fairness=$started_port
BENCH_KEY_A="$key_a" BENCH_KEY_B="$key_b" $PY "$ROOT/scripts/bench-fairness.py" --url "http://127.0.0.1:$fairness" \
    --name-a tenant-a --keys-file "$work/api-keys.json" --json "$out/fairness.json" \
    || echo "(the fairness figures are missing, a backlog did not drain or the capped keys were not reloaded)"

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
echo "## The queue alone, SQLite and PostgreSQL (the server on the same vCPUs; code-runner-bench queue-probe --timing and queue-hops)"
# A fresh database per measurement: a SQLite file, or a schema of $queue_db (postgres) or of
# ${queue_db}_async (postgres_async), dropped after it.
target=()
store_db() { if [ "$1" = postgres ]; then echo "$queue_db"; else echo "${queue_db}_async"; fi; }
queue_target() {  # store name -> sets target (the probes' --database/--schema)
    if [ "$1" = sqlite ]; then
        target=(--database "$work/queue-$2.sqlite")
    else
        pg_admin "$(store_db "$1")" -c "DROP SCHEMA IF EXISTS $2 CASCADE"
        target=(--database "${postgres_url%/*}/$(store_db "$1")" --schema "$2")
    fi
}
queue_done() {  # store name -> prints the jobs not completed, then drops a PostgreSQL schema
    if [ "$1" = sqlite ]; then
        sqlite3 "$work/queue-$2.sqlite" "SELECT count(*) FROM jobs WHERE state != 'completed'" 2>/dev/null || echo "?"
    else
        pg_admin "$(store_db "$1")" -c "SELECT count(*) FROM $2.jobs WHERE state != 'completed'" || echo "?"
        pg_admin "$(store_db "$1")" -c "DROP SCHEMA IF EXISTS $2 CASCADE"
    fi
}
probes() {  # processes timing-file probe-arguments… -> runs the probes at once, their timing lines into the file
    local count=$1 file=$2; shift 2
    local pids=() i
    for i in $(seq 1 "$count"); do "$BIN/code-runner-bench" queue-probe "$@" --timing >/dev/null 2>"$file.$i" & pids+=($!); done
    local failed=0 pid
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    cat "$file".* >"$file"
    return $failed
}
for store in sqlite postgres postgres_async; do
    for procs in 1 4; do
        # claim + complete: QUEUE_JOBS enqueued first (that is the 1-process enqueue figure), then drained by $procs
        queue_target "$store" "claim_$procs"
        if [ "$procs" = 1 ]; then
            probes 1 "$work/enqueue-$store-1.timing" "${target[@]}" --enqueue "$QUEUE_JOBS" || echo "- $store: enqueueing failed"
        else
            "$BIN/code-runner-bench" queue-probe "${target[@]}" --enqueue "$QUEUE_JOBS" >/dev/null || echo "- $store: enqueueing failed"
        fi
        probes "$procs" "$work/claim-$store-$procs.timing" "${target[@]}" --batch 8 || echo "- $store: a probe failed"
        left=$(queue_done "$store" "claim_$procs")
        [ "$left" = 0 ] || echo "- $store, $procs process(es): $left jobs not completed"
    done
    # enqueue by 4 processes at once, QUEUE_JOBS in all
    queue_target "$store" enqueue_4
    probes 4 "$work/enqueue-$store-4.timing" "${target[@]}" --enqueue $((QUEUE_JOBS / 4)) || echo "- $store: enqueueing by 4 failed"
    queue_done "$store" enqueue_4 >/dev/null
    # wake-ups between three stores on one database
    queue_target "$store" hops
    "$BIN/code-runner-bench" queue-hops "${target[@]}" --json "$work/hops-$store.json" >"$work/hops-$store.md" \
        || echo "- $store: queue-hops failed"
    cp "$work/hops-$store.json" "$out/queue-hops-$store.json" 2>/dev/null
    queue_done "$store" hops >/dev/null
done
$PY "$ROOT/scripts/bench-queue.py" --dir "$work" --json "$out/queue.json" || echo "(some queue figures are missing)"

echo
echo "## API memory with 1,000 waiting POST /run (an API alone; its only worker never claims)"
port=$(free_port)
(cd "$work" && exec env HOST=127.0.0.1 PORT=$port DATABASE_PATH="$work/waiting.sqlite" MAX_QUEUE_DEPTH=5000 \
    RUNTIME_DIR="$ROOT/runtimes" "$BIN/code-runner-api" >"$work/waiting.log" 2>&1) &
waiting_api=$!
$PY "$ROOT/scripts/bench-waiting.py" --url "http://127.0.0.1:$port" --api-pid "$waiting_api" \
    --database "$work/waiting.sqlite" --requests 1000 --json "$out/waiting.json"
kill -TERM "$waiting_api" 2>/dev/null; wait "$waiting_api" 2>/dev/null
