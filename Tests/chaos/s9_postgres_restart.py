#!/usr/bin/env python3
"""postgres-restart: the service on PostgreSQL while its server restarts (fast, then
immediate) and then stays down for a while.

The API and two workers (4 slots) run on a fresh database of the tests' server
(scripts/postgres-server.sh; started when it does not run, the database dropped afterwards).
Jobs (~1 s each) are submitted with POST /jobs, each under its own Idempotency-Key; a client
whose request fails (an error or a 503) sends it again with the same key until it gets a 202, as
a careful client does. Submissions go on through three disturbances:
1. `pg_ctl restart -m fast` with jobs running;
2. `pg_ctl restart -m immediate` (no shutdown checkpoint: the server recovers from its WAL);
3. the server stopped for `OUTAGE_S` seconds: requests made meanwhile must be answered 503 with
   `Retry-After` (not a 500, not a hang) — then started again.

Holds when: every accepted job ends `completed` with its own output (lost = 0, failed = 0: the
outage is shorter than the lease, and a completion during a restart is retried, not dropped); as
many jobs are stored as were sent and no output appears in two jobs (double = 0); at most 2 jobs
needed a second attempt; the API and the workers never exited; 503s
came with Retry-After; after the outage the service recovers by itself (a POST /jobs is accepted
within `RECOVERY_S`).
"""
import os
import subprocess
import sys
import threading

import requests

from chaoslib import HEADERS, REPO, Context, ScenarioFailure, main, now, wait_until

JOBS = 24
OUTAGE_S = 8
LEASE_S = 10
RECOVERY_S = 20
CODE = "import time\ntime.sleep(1)\nprint('{marker}')\n"
SERVER = os.path.join(REPO, "scripts", "postgres-server.sh")


def server(command: str) -> str:
    out = subprocess.run(["bash", SERVER, command], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise ScenarioFailure(f"postgres-server.sh {command} failed: {out.stderr.strip()[-500:]}")
    return out.stdout.strip()


def admin(sql: str, database: str = "postgres") -> str:
    socket_dir = os.environ.get("PG_SOCKET_DIR", os.environ.get("PG_DATA_DIR", "/var/tmp/code-runner-postgres") + "-socket")
    port = os.environ.get("PG_PORT", "55432")
    out = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                          "-h", socket_dir, "-p", port, "-d", database, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise ScenarioFailure(f"psql failed: {out.stderr.strip()[-500:]}")
    return out.stdout.strip()


def run(ctx: Context) -> None:
    url = server("start").removeprefix("TEST_POSTGRES_URL=")
    database = f"cr_chaos_{os.getpid()}"
    admin(f"CREATE DATABASE {database} OWNER code_runner")
    ctx.cleanups.append(lambda: admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    # The default lease (10 s): an outage shorter than a lease costs no attempt.
    svc = ctx.service(env={"DATABASE_URL": url.rsplit("/", 1)[0] + "/" + database}, lease=LEASE_S)
    svc.start_api()
    svc.start_worker("p1")
    svc.start_worker("p2")
    svc.wait_workers(2)

    accepted: dict[str, str] = {}  # marker -> job id
    answers: dict[int, int] = {}  # status -> count
    unavailable_without_retry_after = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        marker = f"pg-{index}"
        deadline = now() + OUTAGE_S + RECOVERY_S + 30
        while now() < deadline:
            try:
                r = svc.http.post(svc.url + "/jobs", json={"code": CODE.format(marker=marker), "image": "python"},
                                  headers={**HEADERS, "Idempotency-Key": marker}, timeout=30)
                with lock:
                    answers[r.status_code] = answers.get(r.status_code, 0) + 1
                    if r.status_code == 503 and not r.headers.get("Retry-After"):
                        unavailable_without_retry_after.append(r.text[:200])
                if r.status_code in (200, 202):
                    with lock:
                        accepted[marker] = r.json()["job_id"]
                    return
            except requests.RequestException:
                with lock:
                    answers[-1] = answers.get(-1, 0) + 1
            threading.Event().wait(0.5)  # a client's pause before it retries (the deadline bounds the loop)

    def wave(first: int, count: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=submit, args=(first + i,), daemon=True) for i in range(count)]
        for t in threads:
            t.start()
        return threads

    threads = wave(0, JOBS // 3)
    wait_until(lambda: svc.health()["queue"]["running"] >= 1, 30, "jobs to be running")
    started = now()
    server("restart-fast")
    ctx.metric("restart_fast_s", round(now() - started, 2))
    threads += wave(JOBS // 3, JOBS // 3)
    started = now()
    server("restart-immediate")
    ctx.metric("restart_immediate_s", round(now() - started, 2))
    threads += wave(2 * JOBS // 3, JOBS - 2 * JOBS // 3)

    server("stop")
    stopped = now()
    try:
        r = svc.http.get(svc.url + "/jobs", timeout=30)
        ctx.metric("during_outage_get_jobs", {"status": r.status_code, "retry_after": r.headers.get("Retry-After"),
                                              "answered_s": round(now() - stopped, 2)})
        ctx.check(r.status_code == 503 and r.headers.get("Retry-After"),
                  f"GET /jobs during the outage answered {r.status_code} {r.text[:200]}")
    except requests.RequestException as error:
        ctx.check(False, f"GET /jobs during the outage failed: {error!r}")
    threading.Event().wait(max(0.0, OUTAGE_S - (now() - stopped)))  # the outage's length, not a synchronisation
    server("start")
    restarted = now()

    def accepts() -> bool:
        r = svc.http.get(svc.url + "/jobs", timeout=30)
        return r.status_code == 200
    wait_until(accepts, RECOVERY_S, "the API to read the database again")
    ctx.metric("recovery_after_start_s", round(now() - restarted, 2))
    for t in threads:
        t.join(timeout=OUTAGE_S + RECOVERY_S + 60)

    ctx.check(svc.api is not None and svc.api.alive(), "the API exited during the restarts")
    for worker_id, proc in svc.workers.items():
        ctx.check(proc.alive(), f"worker {worker_id} exited during the restarts:\n{proc.log()[-1500:]}")
    ctx.check(not unavailable_without_retry_after, f"503 without Retry-After: {unavailable_without_retry_after[:2]}")
    ctx.metric("answers_by_status", {str(k): v for k, v in sorted(answers.items())})

    views = svc.wait_final(accepted.values(), 120)
    ctx.count(views, sent=JOBS)
    for marker, job_id in accepted.items():
        view = views.get(job_id, {})
        stdout = ((view.get("result") or {}).get("stdout") or "").strip()
        ctx.check(view.get("status") == "completed" and stdout == marker, f"{marker} ({job_id}) ended with {view}")
    # Double: more jobs stored than sent (a submission stored twice), or one program's output in
    # two jobs' results.
    total = int(admin("SELECT count(*) FROM jobs WHERE kind = 'run'", database))
    ctx.metric("stored_jobs", total)
    outputs = [((v.get("result") or {}).get("stdout") or "").strip() for v in views.values()]
    repeated_outputs = len(outputs) - len(set(outputs))
    ctx.result["double"] = max(0, total - JOBS) + repeated_outputs
    ctx.check(total == JOBS, f"{total} jobs stored for {JOBS} submissions")
    ctx.check(repeated_outputs == 0, f"{repeated_outputs} outputs appear in more than one job")
    # A rerun costs an attempt: the restarts should cost none (a completion is retried, a claim
    # given back); a claim whose answer a dying connection lost may cost one, rarely.
    reruns = int(admin("SELECT count(*) FROM jobs WHERE kind = 'run' AND attempts > 1", database))
    ctx.metric("reruns", reruns)
    ctx.check(reruns <= 2, f"{reruns} jobs needed a second attempt")


if __name__ == "__main__":
    sys.exit(main("postgres-restart", run))
