#!/usr/bin/env python3
"""sigstop: freeze a worker past its lease; another worker reruns the job; the stale attempt's
result is rejected by the lease token.

LEASE_SECONDS=3. Worker s1 (1 slot) claims a job that prints its container's hostname and sleeps
7 s; s1 is SIGSTOPped; s2 starts and must rerun the job once the lease expired. Two rounds:

  A. SIGCONT after the stale attempt's container has exited: s1 wakes with a finished run and
     tries to store it — the write must be refused (old token).
  B. SIGCONT while the stale attempt's container still runs: s1 must notice the lost lease,
     stop its run and store nothing.

Holds when: the job ends `completed`, `attempts` == 2 in GET /jobs/{id}, the stored stdout is the
rerun's (the program prints its start time: it must be after the freeze, and its container is
not one of the frozen worker's), and the frozen worker's containers are removed.
"""
import signal
import sys
import time

from chaoslib import Context, ScenarioFailure, main, now, wait_until

# Prints when this attempt started (host and container share the clock) and its container.
CODE = "import os, time\nprint(repr(time.time()), os.uname().nodename, flush=True)\ntime.sleep(7)\nprint('done')\n"


def worker_containers(svc, worker_id: str, state: str | None = None) -> list[dict]:
    return [c for c in svc.containers() if c["worker"] == worker_id and (state is None or c["state"] == state)]


def one_round(ctx: Context, svc, label: str, stale_done_first: bool, results: dict) -> None:
    frozen_id, rescuer_id = f"{label}-frozen", f"{label}-rescuer"
    frozen = svc.start_worker(frozen_id, extra=["--concurrency", "1"])
    job_id = svc.submit_ok(CODE)
    wait_until(lambda: svc.query("SELECT lease_owner FROM jobs WHERE public_id = ? AND state = 'running'",
                                 (job_id,)), 20, "the job to be claimed")
    # The first attempt's program runs (a warm pool's idle containers only wait for input).
    stale_cid = wait_until(lambda: svc.executing(frozen_id), 20, "the first attempt's program to run")[0]["id"]
    before_freeze = {c["id"] for c in worker_containers(svc, frozen_id)}
    frozen.signal(signal.SIGSTOP)
    stopped_at = now()
    stopped_wall = time.time()
    svc.start_worker(rescuer_id, extra=["--concurrency", "1"])

    def reclaimed():
        rows = svc.query("SELECT attempts, lease_owner, state FROM jobs WHERE public_id = ?", (job_id,))
        return rows and rows[0]["lease_owner"] == rescuer_id and rows[0]["attempts"] == 2
    try:
        wait_until(reclaimed, 20, "the job to be re-claimed by the second worker")
    except ScenarioFailure:
        frozen.signal(signal.SIGCONT)
        raise
    ctx.metric(f"{label}_reclaim_after_stop_s", round(now() - stopped_at, 2))
    reclaimed_at = time.time()

    if stale_done_first:
        # The stale attempt's program ends after 7 s: its container (one of those that existed
        # before the freeze) exits; idle warm containers keep running.
        wait_until(lambda: stale_cid not in {c["id"] for c in worker_containers(svc, frozen_id, "running")}, 20,
                   "the frozen attempt's program to end")
        state = svc.query("SELECT state, lease_owner FROM jobs WHERE public_id = ?", (job_id,))[0]
        ctx.check(state["state"] == "running" and state["lease_owner"] == rescuer_id,
                  f"round {label}: second attempt no longer running when the stale worker woke ({dict(state)})")
    frozen.signal(signal.SIGCONT)
    woke_at = now()

    # The stale worker must log that its run was stopped / its write refused.
    markers = ("lease lost", "run stopped", '"stored": "false"', "stored: false", "stored=false")
    try:
        hit = wait_until(lambda: [l for l in frozen.log().splitlines() if any(m in l for m in markers)
                                  and (job_id in l or "lease lost" in l)], 15,
                         "the stale worker to notice its lost lease")
        ctx.metric(f"{label}_stale_worker_log", hit[0][-300:])
    except ScenarioFailure as error:
        ctx.check(False, f"round {label}: {error}; its log tail:\n{frozen.log()[-1500:]}")
    ctx.metric(f"{label}_stale_noticed_after_cont_s", round(now() - woke_at, 2))

    view = svc.wait_final([job_id], 30)[job_id]
    results[label] = view
    ctx.count({job_id: view})
    result = view.get("result") or {}
    first = (result.get("stdout") or "").split("\n")[0].split()
    ctx.check(view.get("status") == "completed", f"round {label}: job ended {view.get('status')}: {view}")
    ctx.check(view.get("attempts") == 2, f"round {label}: attempts {view.get('attempts')} (expected 2)")
    try:
        attempt_started = float(first[0])
    except (IndexError, ValueError):
        attempt_started = None
    ctx.check(attempt_started is not None and attempt_started >= stopped_wall,
              f"round {label}: the stored result is from the attempt that started at {attempt_started} "
              f"(worker frozen at {stopped_wall:.3f}, job re-claimed at {reclaimed_at:.3f}): the stale attempt's "
              f"result was stored; stdout {result.get('stdout')!r}")
    ctx.check(not first[1:] or first[1] not in {cid[:12] for cid in before_freeze},
              f"round {label}: the stored result comes from a container of the frozen worker ({first}; the stale "
              f"attempt ran in {stale_cid[:12]})")
    # Nothing overwrites it afterwards: the stale worker has already given up (logged above).
    again = svc.job(job_id)
    ctx.check(again.get("result") == view.get("result") and again.get("attempts") == 2,
              f"round {label}: job changed after completion: {again}")
    ctx.check(frozen.alive(), f"round {label}: the resumed worker exited ({frozen.popen.returncode})")
    try:
        wait_until(lambda: stale_cid not in {c["id"] for c in worker_containers(svc, frozen_id)}, 15,
                   "the stale attempt's container to be removed")
    except ScenarioFailure as error:
        ctx.check(False, f"round {label}: {error}: {worker_containers(svc, frozen_id)}")
    for worker_id in (frozen_id, rescuer_id):
        proc = svc.workers.pop(worker_id)
        proc.signal(signal.SIGTERM)
        proc.popen.wait(timeout=40)
        left = worker_containers(svc, worker_id)
        ctx.check(not left, f"round {label}: containers of {worker_id} remain after it stopped: {left}")


def run(ctx: Context) -> None:
    svc = ctx.service()
    svc.start_api()
    results: dict = {}
    one_round(ctx, svc, "A", stale_done_first=True, results=results)
    one_round(ctx, svc, "B", stale_done_first=False, results=results)


if __name__ == "__main__":
    sys.exit(main("sigstop", run))
