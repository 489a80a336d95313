#!/usr/bin/env python3
"""dockerd-restart: restart the Docker engine under a light load.

Two workers. Six 2 s jobs are submitted; once their programs run, dockerd gets SIGTERM (it stops
its containers). While it is down three more jobs are submitted (POST /jobs must accept them:
the API does not need Docker) and /health must say docker_connected=false. dockerd is started
again (`nohup dockerd >/tmp/dockerd-chaos.log 2>&1 &`, only once the old one has exited), then
ten new jobs are submitted.

Holds when: every in-flight job ends `failed` (a clean error) or `completed` with its program's
real output (a run the engine killed must not be reported as the program's result), none stays
queued/running, the jobs queued during the outage and the ten new ones complete, both workers
stay live in /health throughout (heartbeats do not wait for the engine), no lease is lost, and
no container of the deployment is left once the workers stopped. dockerd is running and
answering at the end, whatever happened.

CAUTION: this restarts the machine's Docker engine; other users of Docker on this host see it.
"""
import os
import signal
import subprocess
import sys

from chaoslib import Context, Sampler, ScenarioFailure, main, now, pid_alive, wait_until

DOCKERD_LOG = "/tmp/dockerd-chaos.log"


def dockerd_pids() -> list[int]:
    """Live dockerd processes (an exited one may linger as a zombie until it is reaped)."""
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split() if pid_alive(int(p))]


def docker_ok() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


def start_dockerd() -> int:
    if dockerd_pids():
        raise ScenarioFailure(f"refusing to start a second dockerd (running: {dockerd_pids()})")
    log = open(DOCKERD_LOG, "ab")
    popen = subprocess.Popen(["nohup", "dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    log.close()
    return popen.pid


def ensure_dockerd() -> None:
    """Cleanup: whatever happened, leave a running, answering dockerd behind."""
    if not dockerd_pids():
        start_dockerd()
    wait_until(docker_ok, 90, "dockerd to answer `docker info`", interval=0.5)


def code(marker: str, seconds: float) -> str:
    return f"import time\ntime.sleep({seconds})\nprint('{marker}')\n"


def run(ctx: Context) -> None:
    pids = dockerd_pids()
    if len(pids) != 1 or not docker_ok():
        raise ScenarioFailure(f"expected exactly one answering dockerd, found {pids}")
    ctx.cleanups.append(ensure_dockerd)  # runs before the services are stopped and containers removed
    svc = ctx.service()
    svc.start_api()
    svc.start_worker("e1")
    svc.start_worker("e2")
    svc.wait_workers(2)

    # /health over time: live workers and docker_connected (transitions only).
    timeline: list = []
    t0 = now()

    def sample_health():
        h = svc.health()
        point = (h["workers"], h["docker_connected"])
        if not timeline or timeline[-1][1:] != point:
            timeline.append((round(now() - t0, 1), *point))
    sampler = Sampler(sample_health, 0.2)
    sampler.start()

    inflight = [svc.submit_ok(code(f"inflight-{i}", 2)) for i in range(6)]
    wait_until(lambda: len(svc.executing()) >= 2, 30, "programs running before the restart")
    old = pids[0]
    os.kill(old, signal.SIGTERM)
    stopped_at = now()
    wait_until(lambda: not pid_alive(old), 60, "dockerd to exit", interval=0.2)
    ctx.metric("dockerd_stop_s", round(now() - stopped_at, 1))
    ctx.metric("dockerd_sigterm_at_s", round(stopped_at - t0, 1))
    try:
        wait_until(lambda: not svc.health()["docker_connected"], 15, "/health to report docker_connected=false")
    except ScenarioFailure as error:
        ctx.check(False, str(error))
    # The API does not need Docker: a job submitted now waits in the queue for the engine.
    during = []
    for i in range(3):
        r = svc.submit(code(f"during-{i}", 1))
        if r.status_code == 202:
            during.append(r.json()["job_id"])
        else:
            ctx.result["sent"] += 1
            ctx.result["failed"] += 1
            ctx.check(False, f"POST /jobs while dockerd was down answered {r.status_code} {r.text[:200]} "
                             f"(expected 202: the job waits for the engine)")
    states_down = {r[0]: r[1] for r in svc.query("SELECT public_id, state FROM jobs WHERE kind = 'run'")}
    ctx.metric("states_while_down", sorted(states_down.values()))

    start_dockerd()
    wait_until(docker_ok, 90, "dockerd to answer again", interval=0.5)
    ctx.metric("dockerd_down_s", round(now() - stopped_at, 1))
    back_at = now()
    wait_until(lambda: svc.health()["docker_connected"], 30, "/health to report docker_connected=true again")
    ctx.metric("workers_reconnected_s", round(now() - back_at, 1))
    ctx.metric("dockerd_back_at_s", round(back_at - t0, 1))

    after = [svc.submit_ok(code(f"after-{i}", 0.2)) for i in range(10)]
    views = svc.wait_final(inflight + during + after, 120)
    ctx.count(views)
    outcomes = {}
    for job_id, view in views.items():
        status = view.get("status")
        group = "inflight" if job_id in inflight else "during" if job_id in during else "after"
        result = view.get("result") or {}
        outcomes.setdefault(group, []).append(
            f"completed(exit {result.get('exit_code')}, attempts {view.get('attempts')})" if status == "completed"
            else f"failed:{(view.get('error') or {}).get('detail', '')[:120]}" if status == "failed" else status)
        if group == "inflight":
            ctx.check(status in ("completed", "failed"), f"in-flight job {job_id} stuck {status}: {view}")
            if status == "failed":
                ctx.note(f"in-flight job failed: {view.get('error')}")
            if status == "completed":
                # "completed" claims the program ran: its output must be there. A run the engine
                # killed or never started has to be retried or failed, not reported as a result.
                result = view.get("result") or {}
                ctx.check(result.get("stdout", "").startswith("inflight-"),
                          f"in-flight job {job_id} reported completed although its program did not run to its end: "
                          f"exit_code={result.get('exit_code')} stdout={result.get('stdout')!r} "
                          f"execution_time={result.get('execution_time')} attempts={view.get('attempts')}")
        else:
            ok = status == "completed" and (view.get("result") or {}).get("stdout", "").startswith(group)
            ctx.check(ok, f"{group} job {job_id} ended {view}")
    ctx.metric("outcomes", outcomes)
    sampler.stop()
    ctx.metric("health_timeline_s_workers_docker", timeline)
    ctx.check(all(point[1] == 2 for point in timeline),
              f"live workers dropped below 2 while dockerd restarted (heartbeats stalled?): {timeline}")
    # Containers of runs the outage interrupted are orphans: the sweep must remove them; what
    # the workers still hold goes when they stop.
    for worker_id in list(svc.workers):
        svc.workers[worker_id].signal(signal.SIGTERM)
    for worker_id, proc in list(svc.workers.items()):
        proc.popen.wait(timeout=40)
        svc.workers.pop(worker_id)
    left = svc.containers()
    ctx.check(not left, f"containers of the deployment remain after the outage and the workers' stop: {left}")
    lost = svc.grep_logs("lease lost", "reaped")
    ctx.metric("lease_lost_or_reaped_lines", lost[:6])
    ctx.check(not lost, f"leases expired while the workers were alive: {lost[:4]}")
    errors = svc.grep_logs("error", "fatal")
    ctx.metric("worker_error_lines", len(errors))
    ctx.metric("first_error_lines", errors[:6])


if __name__ == "__main__":
    sys.exit(main("dockerd-restart", run))
