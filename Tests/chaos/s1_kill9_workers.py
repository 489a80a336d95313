#!/usr/bin/env python3
"""kill9-workers: kill -9 a worker 20 times in a row across a stream of jobs.

Two workers (2 slots each, LEASE_SECONDS=3). Jobs sleep 0.5–2 s and print their index. Before
each kill two more jobs join the stream (4 + 2×20 = 44 jobs); the victim is a live worker that
holds a lease right now, and a fresh worker replaces it at once.

Holds when: every job ends `completed` with its own output, or `failed` with "worker lost"
(both attempts hit a kill); none stays queued/running; no job has more than 2 attempts; every
container labelled with a dead worker's id is gone within lease + the 60 s orphan sweep.
"""
import random
import signal
import sys

from chaoslib import (SWEEP_INTERVAL, Context, Sampler, ScenarioFailure, main, now, wait_until)

KILLS = 20
INITIAL = 4
PER_KILL = 2


def job_code(index: int, seconds: float) -> str:
    return f"import os, time\ntime.sleep({seconds:.2f})\nprint('job-{index}', os.uname().nodename)\n"


def run(ctx: Context) -> None:
    rng = random.Random(6)
    svc = ctx.service()
    svc.start_api()
    serial = 0

    def new_worker() -> str:
        nonlocal serial
        serial += 1
        worker_id = f"k{serial}"
        svc.start_worker(worker_id)
        return worker_id

    new_worker()
    new_worker()
    svc.wait_workers(2)

    # Watch this deployment's containers: first and last time each worker's were seen.
    seen: dict[str, float] = {}

    def sample():
        t = now()
        for c in svc.containers():
            seen[c["worker"]] = t
    watcher = Sampler(sample, 0.25)
    watcher.start()

    ids: list[str] = []
    expected: dict[str, int] = {}

    def submit(n: int) -> None:
        for _ in range(n):
            index = len(ids)
            job_id = svc.submit_ok(job_code(index, rng.uniform(0.5, 2.0)))
            ids.append(job_id)
            expected[job_id] = index

    submit(INITIAL)
    kills = []
    for k in range(KILLS):
        submit(PER_KILL)

        def victim():
            rows = svc.query("SELECT DISTINCT lease_owner FROM jobs WHERE kind = 'run' AND state = 'running'")
            owners = [r[0] for r in rows if r[0] in svc.workers]
            return owners[0] if owners else None
        try:
            worker_id = wait_until(victim, 30, "a live worker holding a lease")
        except ScenarioFailure:
            ctx.note(f"kill {k + 1}: no worker was running a job (stream drained); submitting more")
            submit(PER_KILL)
            worker_id = wait_until(victim, 30, "a live worker holding a lease")
        held = [r[0] for r in svc.query(
            "SELECT public_id FROM jobs WHERE kind = 'run' AND state = 'running' AND lease_owner = ?", (worker_id,))]
        svc.kill9_worker(worker_id)
        kills.append({"worker": worker_id, "jobs": held})
        new_worker()
    ctx.note(f"{len(kills)} kills done; {sum(len(k['jobs']) for k in kills)} leases were held by killed workers")
    last_kill = max(svc.dead_workers.values())

    views = svc.wait_final(ids, timeout=90)
    ctx.count(views)
    for job_id, view in views.items():
        status = view.get("status")
        attempts = view.get("attempts")
        if status == "completed":
            stdout = (view.get("result") or {}).get("stdout", "")
            ctx.check(stdout.startswith(f"job-{expected[job_id]} "),
                      f"job {job_id} (#{expected[job_id]}) completed with wrong stdout {stdout!r}")
        elif status == "failed":
            detail = (view.get("error") or {}).get("detail", "")
            ctx.check("worker lost" in detail, f"job {job_id} failed with {view.get('error')!r}, not 'worker lost'")
        else:
            ctx.check(False, f"job {job_id} is still {status} ({view})")
        ctx.check(attempts is None or attempts <= 2, f"job {job_id} ran {attempts} times")
    attempts = [v.get("attempts") or 0 for v in views.values()]
    ctx.metric("jobs_rerun", sum(1 for a in attempts if a > 1))
    ctx.metric("failed_worker_lost", sum(1 for v in views.values() if v.get("status") == "failed"))

    # No container of a dead worker survives past the lease + one orphan sweep.
    dead = set(svc.dead_workers)
    limit = svc.lease + SWEEP_INTERVAL + 10
    try:
        wait_until(lambda: not any(c["worker"] in dead for c in svc.containers()),
                   max(1.0, last_kill + limit - now()), "dead workers' containers to be removed", interval=0.5)
    except ScenarioFailure as error:
        left = [c for c in svc.containers() if c["worker"] in dead]
        ctx.check(False, f"{error}: still there {left}")
    sample()
    watcher.stop()
    survival = {w: round(seen[w] - svc.dead_workers[w], 1) for w in dead if w in seen}
    ctx.metric("dead_worker_container_survival_s", survival)
    if survival:
        worst = max(survival.values())
        ctx.metric("max_dead_container_survival_s", worst)
        if worst > svc.lease + 3:
            ctx.note(f"a dead worker's container survived {worst}s after the kill (lease {svc.lease}s; removed only "
                     f"by the {SWEEP_INTERVAL}s orphan sweep)")
    # Once everything is final, stopped workers leave nothing behind either (warm pool included).
    for worker_id in list(svc.workers):
        svc.workers[worker_id].signal(signal.SIGTERM)
    for worker_id, proc in list(svc.workers.items()):
        proc.popen.wait(timeout=40)
        svc.workers.pop(worker_id)
    left = svc.containers()
    ctx.check(not left, f"containers remain after every worker stopped: {left}")
    ctx.metric("kills", len(kills))


if __name__ == "__main__":
    sys.exit(main("kill9-workers", run))
