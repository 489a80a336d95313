#!/usr/bin/env python3
"""scale: 1, 2 and 4 worker processes (WORKER_CONCURRENCY=2 each) on one database.

For each configuration a fresh deployment gets 100 `print(1)` jobs through POST /jobs (from 10
client threads); runs/s = 100 / (last finished_at − first created_at), read from the database.
Holds when every job of every configuration completes with the right output, at most once
(attempts == 1). The curve is reported (the machine has few cores; throughput is expected to
grow from 1 to 2 workers and flatten once the cores are saturated).

Environment: CHAOS_SCALE_JOBS (100), CHAOS_SCALE_WORKERS ("1,2,4").
"""
import os
import sys
import threading

from chaoslib import Context, main

JOBS = int(os.environ.get("CHAOS_SCALE_JOBS", "100"))
CONFIGS = [int(x) for x in os.environ.get("CHAOS_SCALE_WORKERS", "1,2,4").split(",")]


def run(ctx: Context) -> None:
    curve = {}
    try:
        ctx.metric("loadavg_start", os.getloadavg())
    except OSError:
        pass
    for n in CONFIGS:
        svc = ctx.service(f"scale-{n}", env={"WORKER_CONCURRENCY": "2"})
        svc.start_api()
        for i in range(n):
            svc.start_worker(f"s{n}-{i + 1}")
        svc.wait_workers(n)
        ids: list[str] = []
        lock = threading.Lock()
        errors: list[str] = []

        def client(count: int) -> None:
            for _ in range(count):
                try:
                    job_id = svc.submit_ok("print(1)")
                    with lock:
                        ids.append(job_id)
                except Exception as error:  # recorded, checked below
                    with lock:
                        errors.append(repr(error)[:300])
        threads = [threading.Thread(target=client, args=(JOBS // 10 + (1 if i < JOBS % 10 else 0),)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        ctx.check(not errors, f"{n} workers: submissions failed: {errors[:3]}")
        views = svc.wait_final(ids, 240)
        ctx.count(views, sent=JOBS)
        bad = [v for v in views.values() if v.get("status") != "completed"
               or (v.get("result") or {}).get("stdout") != "1\n" or v.get("attempts") != 1]
        ctx.check(not bad, f"{n} workers: {len(bad)} jobs not completed exactly once with stdout 1, e.g. {bad[:2]}")
        row = svc.query("SELECT min(created_at), max(finished_at) FROM jobs WHERE kind = 'run'")[0]
        span = row[1] - row[0]
        per_worker = {r[0]: r[1] for r in svc.query(
            "SELECT lease_owner, count(*) FROM jobs WHERE kind = 'run' GROUP BY lease_owner")}
        curve[n] = {"slots": 2 * n, "seconds": round(span, 2), "runs_per_s": round(JOBS / span, 2),
                    "jobs_per_worker": per_worker}
        ctx.note(f"{n} worker(s) × 2 slots: {JOBS} jobs in {span:.1f}s = {JOBS / span:.2f} runs/s {per_worker}")
        svc.stop_all()
    ctx.metric("curve", curve)
    ctx.metric("cpu_count", os.cpu_count())
    try:
        ctx.metric("loadavg_end", os.getloadavg())
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main("scale", run))
