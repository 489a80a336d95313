#!/usr/bin/env python3
"""sigstop: freeze a worker past its lease; another worker reruns the job; the stale attempt's
result is rejected by the lease token.

LEASE_SECONDS=3. Worker s1 (1 slot) claims a job that prints its container's hostname and sleeps
7 s; s1 is SIGSTOPped; s2 starts and must rerun the job once the lease expired. Two rounds:

  A. SIGCONT after the stale attempt's container has exited: s1 wakes with a finished run and
     tries to store it — the write must be refused (old token).
  B. SIGCONT while the stale attempt's container still runs: s1 must notice the lost lease,
     stop its run and store nothing.

Holds when: the job ends `completed`, `attempts` == 2 in GET /jobs/{id}, the stored stdout names
the rerun's container (never the frozen one), and the frozen worker's containers are removed.
"""
import sys
import signal

from chaoslib import Context, ScenarioFailure, main, now, wait_until

CODE = "import os, time\nprint(os.uname().nodename, flush=True)\ntime.sleep(7)\nprint('done')\n"


def running_container(svc, worker_id: str):
    rows = [c for c in svc.containers() if c["worker"] == worker_id and c["state"] == "running"]
    return rows[0]["id"] if rows else None


def container_state(cid: str) -> str:
    import subprocess
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", cid], capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip() if out.returncode == 0 else "gone"


def one_round(ctx: Context, svc, label: str, stale_done_first: bool, results: dict) -> None:
    frozen_id, rescuer_id = f"{label}-frozen", f"{label}-rescuer"
    frozen = svc.start_worker(frozen_id, extra=["--concurrency", "1"])
    job_id = svc.submit_ok(CODE)
    wait_until(lambda: svc.query("SELECT lease_owner FROM jobs WHERE public_id = ? AND state = 'running'",
                                 (job_id,)), 20, "the job to be claimed")
    stale_cid = wait_until(lambda: running_container(svc, frozen_id), 20, "the first attempt's container")
    frozen.signal(signal.SIGSTOP)
    stopped_at = now()
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
    fresh_cid = wait_until(lambda: running_container(svc, rescuer_id), 20, "the second attempt's container")

    if stale_done_first:
        wait_until(lambda: container_state(stale_cid) in ("exited", "gone"), 20,
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
    host = (result.get("stdout") or "").split("\n")[0]
    ctx.check(view.get("status") == "completed", f"round {label}: job ended {view.get('status')}: {view}")
    ctx.check(view.get("attempts") == 2, f"round {label}: attempts {view.get('attempts')} (expected 2)")
    ctx.check(host == fresh_cid[:12],
              f"round {label}: stored result is from container {host!r}, expected the rerun {fresh_cid[:12]!r} "
              f"(stale one {stale_cid[:12]!r})")
    # Nothing overwrites it afterwards: the stale worker has already given up (logged above).
    again = svc.job(job_id)
    ctx.check(again.get("result") == view.get("result") and again.get("attempts") == 2,
              f"round {label}: job changed after completion: {again}")
    ctx.check(frozen.alive(), f"round {label}: the resumed worker exited ({frozen.popen.returncode})")
    try:
        wait_until(lambda: container_state(stale_cid) == "gone", 15, "the stale attempt's container to be removed")
    except ScenarioFailure as error:
        ctx.check(False, f"round {label}: {error}")
    for worker_id in (frozen_id, rescuer_id):
        proc = svc.workers.pop(worker_id)
        proc.signal(signal.SIGTERM)
        proc.popen.wait(timeout=40)


def run(ctx: Context) -> None:
    svc = ctx.service()
    svc.start_api()
    results: dict = {}
    one_round(ctx, svc, "A", stale_done_first=True, results=results)
    one_round(ctx, svc, "B", stale_done_first=False, results=results)


if __name__ == "__main__":
    sys.exit(main("sigstop", run))
