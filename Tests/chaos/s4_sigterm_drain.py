#!/usr/bin/env python3
"""sigterm-drain: SIGTERM a worker with running jobs; stop the whole service with SIGTERM / Ctrl-C.

  A. finish: worker (2 slots, --drain-seconds 10) runs two 3 s jobs, two more are queued.
     SIGTERM → it claims nothing more, finishes both, exits (status 0) before the drain timeout;
     the queued jobs are untouched (attempts 0) and a new worker completes them.
  B. release: worker (--drain-seconds 2) runs two 8 s jobs. SIGTERM → it exits within
     2 s + margin, the jobs are back in the queue with attempts 0 (no attempt consumed), its
     containers are gone, and a new worker completes them (attempts 1).
  C. scripts/run-service.sh stopped by SIGTERM with four jobs running: the script, the API and
     the workers exit, every job completed (drain), and no container of the deployment is left.
  D. the same with Ctrl-C (SIGINT to the whole foreground process group).
"""
import os
import signal
import subprocess
import sys

from chaoslib import REPO, Context, Proc, ScenarioFailure, main, now, wait_until

MARGIN = 3.0


def code(marker: str, seconds: float) -> str:
    return f"import time\ntime.sleep({seconds})\nprint('{marker}')\n"


def held_by(svc, worker_id: str) -> list[str]:
    rows = svc.query("SELECT public_id FROM jobs WHERE kind = 'run' AND state = 'running' AND lease_owner = ?",
                     (worker_id,))
    return [r[0] for r in rows]


def wait_exit(proc: Proc, timeout: float) -> float:
    started = now()
    try:
        proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ScenarioFailure(f"{proc.name} did not exit within {timeout:.0f}s of the signal")
    return now() - started


def job_row(svc, job_id: str):
    return dict(svc.query("SELECT state, attempts, lease_owner, lease_token, lease_expires_at FROM jobs WHERE public_id = ?",
                          (job_id,))[0])


def part_finish(ctx: Context, svc) -> None:
    drain = 10
    worker = svc.start_worker("d1", extra=["--concurrency", "2", "--drain-seconds", str(drain)])
    ids = [svc.submit_ok(code(f"A{i}", 3)) for i in range(4)]
    wait_until(lambda: len(held_by(svc, "d1")) == 2 and len(svc.executing("d1")) == 2, 20,
               "two jobs running on d1")
    held = set(held_by(svc, "d1"))
    worker.signal(signal.SIGTERM)
    took = wait_exit(worker, drain + MARGIN)
    svc.workers.pop("d1")
    ctx.metric("A_exit_after_sigterm_s", round(took, 2))
    ctx.check(worker.popen.returncode == 0, f"A: worker exited with status {worker.popen.returncode}")
    for job_id in ids:
        row = job_row(svc, job_id)
        if job_id in held:
            ctx.check(row["state"] == "completed" and row["lease_owner"] == "d1",
                      f"A: running job {job_id} was not finished by the draining worker: {row}")
        else:
            ctx.check(row["state"] == "queued" and row["attempts"] == 0,
                      f"A: the draining worker claimed queued job {job_id}: {row}")
    ctx.check(not [c for c in svc.containers() if c["worker"] == "d1"],
              f"A: containers of the stopped worker remain: {svc.containers()}")
    svc.start_worker("d2")
    views = svc.wait_final(ids, 30)
    ctx.count(views)
    for job_id, view in views.items():
        ctx.check(view.get("status") == "completed" and view.get("attempts") == 1,
                  f"A: job {job_id} ended {view.get('status')} after {view.get('attempts')} attempts")
    stopper = svc.workers.pop("d2")
    stopper.signal(signal.SIGTERM)
    wait_exit(stopper, 10)


def part_release(ctx: Context, svc) -> None:
    drain = 2
    worker = svc.start_worker("d3", extra=["--concurrency", "2", "--drain-seconds", str(drain)])
    ids = [svc.submit_ok(code(f"B{i}", 8)) for i in range(2)]
    wait_until(lambda: len(held_by(svc, "d3")) == 2 and len(svc.executing("d3")) == 2, 20,
               "two jobs running on d3")
    worker.signal(signal.SIGTERM)
    took = wait_exit(worker, drain + MARGIN)
    svc.workers.pop("d3")
    ctx.metric("B_exit_after_sigterm_s", round(took, 2))
    ctx.check(worker.popen.returncode == 0, f"B: worker exited with status {worker.popen.returncode}")
    for job_id in ids:
        row = job_row(svc, job_id)
        # released: the lease is over (no token, no expiry); lease_owner keeps naming the last
        # worker that claimed the job (Sources/Queue/JobStatements.swift, "Leases and lease_owner")
        ctx.check(row["state"] == "queued" and row["attempts"] == 0 and row["lease_token"] is None
                  and row["lease_expires_at"] is None and row["lease_owner"] == "d3",
                  f"B: job {job_id} not released without consuming an attempt: {row}")
    leftovers = [c for c in svc.containers() if c["worker"] == "d3"]
    ctx.check(not leftovers, f"B: containers of the drained worker remain after it exited: {leftovers}")
    svc.start_worker("d4")
    views = svc.wait_final(ids, 40)
    ctx.count(views)
    for job_id, view in views.items():
        ctx.check(view.get("status") == "completed" and view.get("attempts") == 1
                  and (view.get("result") or {}).get("stdout", "").startswith("B"),
                  f"B: released job {job_id} ended {view}")


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return found


def part_service(ctx: Context, label: str, sig: int, to_group: bool) -> None:
    svc = ctx.service(f"service-{label}")
    env = dict(svc.env, WORKERS="2", BIN_DIR=ctx.bin_dir)
    log = open(os.path.join(svc.dir, "run-service.log"), "ab")
    popen = subprocess.Popen(["bash", os.path.join(REPO, "scripts", "run-service.sh")], cwd=svc.dir, env=env,
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    script = Proc(f"run-service-{label}", popen, os.path.join(svc.dir, "run-service.log"))
    ctx.track(script)
    # The script's processes (API and workers) also belong to this scenario: clean them if needed.
    ctx.cleanups.append(lambda: [os.kill(p, signal.SIGKILL) for p in known if _alive(p)])
    known: list[int] = []
    svc.wait_api()
    svc.wait_workers(2)
    known.extend(children(popen.pid))
    ids = [svc.submit_ok(code(f"{label}{i}", 4)) for i in range(4)]
    wait_until(lambda: len(svc.executing()) == 4, 30, f"{label}: four programs running")
    if to_group:
        os.killpg(popen.pid, sig)
    else:
        popen.send_signal(sig)
    took = wait_exit(script, 45)
    ctx.metric(f"{label}_service_exit_s", round(took, 2))
    ctx.check(popen.returncode == 0, f"{label}: run-service.sh exited with status {popen.returncode}")
    alive = [p for p in known if _alive(p)]
    ctx.check(not alive, f"{label}: processes of the service still alive after the script exited: {alive}")
    leftovers = svc.containers()
    ctx.check(not leftovers, f"{label}: containers of the deployment remain after the service stopped: {leftovers}")
    rows = {job_id: job_row(svc, job_id) for job_id in ids}
    views = {job_id: {"status": row["state"]} for job_id, row in rows.items()}
    ctx.count(views)
    for job_id, row in rows.items():
        ctx.check(row["state"] == "completed", f"{label}: job {job_id} is {row} after the service stopped")
    ctx.check("Traceback" not in script.log() and "Fatal error" not in script.log(),
              f"{label}: crash in the service log:\n{script.log()[-1500:]}")


def _alive(pid: int) -> bool:
    from chaoslib import pid_alive
    return pid_alive(pid)


def run(ctx: Context) -> None:
    svc = ctx.service()
    svc.start_api()
    part_finish(ctx, svc)
    part_release(ctx, svc)
    svc.stop_all()
    part_service(ctx, "C-sigterm", signal.SIGTERM, to_group=False)
    part_service(ctx, "D-ctrl-c", signal.SIGINT, to_group=True)


if __name__ == "__main__":
    sys.exit(main("sigterm-drain", run))
