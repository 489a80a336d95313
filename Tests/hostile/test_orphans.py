"""A kill -9 of the workers leaves a running container behind; a fresh instance on the same
database removes it (orphan sweep) and the job still ends (completed or failed, not running)."""

import os
import signal
import time

LEASE_SECONDS = 10
SWEEP_WITHIN = 40  # lease + sweep time, generous


def test_killed_workers_leave_nothing_behind(instance_factory, record, tools):
    first = instance_factory()
    deployment = first.deployment_id()
    # sleeps far past its own timeout: the retry (if any) ends as a timeout, not after 60 s
    job = first.submit({"code": "import time\ntime.sleep(60)\nprint('slept')", "timeout": 20})
    old = tools.poll(lambda: tools.containers(f"code-runner.job={job}", all_states=False), 30, 0.1,
                     "the job's container to run")[0]
    workers = first.worker_pids()
    assert workers, "no worker processes found under run-service.sh"
    t_kill = time.monotonic()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    # run-service.sh notices a dead child and stops the rest; make sure the group is gone
    first.stop()
    assert tools.container_exists(old), "the container vanished with its worker: nothing to sweep"
    assert (tools.inspect(old) or {}).get("State", {}).get("Running") is True

    second = instance_factory(database=first.database)
    assert second.deployment_id() == deployment
    t_restart = time.monotonic()
    try:
        tools.poll(lambda: not tools.container_exists(old), SWEEP_WITHIN, 0.25,
                   f"orphaned container {old[:12]} to be removed")
        removed_after = time.monotonic() - t_kill
        gone = True
    except AssertionError:
        removed_after = None
        gone = False
    final = second.wait_job(job, 90)
    ended_after = time.monotonic() - t_kill
    record("kill -9 workers, restart on same database",
           {"orphan_removed_after_s": removed_after and round(removed_after, 2),
            "restart_after_kill_s": round(t_restart - t_kill, 2),
            "job_status": final["status"], "error": final.get("error"),
            "result": {k: (final.get("result") or {}).get(k) for k in ("exit_code", "timed_out", "stdout")}},
           ended_after)
    assert gone, (f"orphaned container {old[:12]} of the killed worker still exists "
                  f"{SWEEP_WITHIN}s after a fresh instance started")
    assert final["status"] in ("completed", "failed"), final
    # nothing of this deployment remains once the job has ended
    tools.poll(lambda: not tools.containers(f"code-runner.deployment={deployment}"), 20, 0.25,
               "the deployment's containers to go")
