"""A kill -9 of the workers leaves running containers behind (the job's and the idle warm-pool
ones); a fresh instance on the same database removes them (orphan sweep) and the job still ends
(completed or failed, not running). A graceful stop then leaves nothing of the deployment."""

import os
import signal
import time
import uuid
from pathlib import Path

SWEEP_WITHIN = 40  # lease (10 s) + sweep interval, generous


def worker_id_of(pid: int) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return args[args.index(b"--worker-id") + 1].decode()


def test_killed_workers_leave_nothing_behind(instance_factory, record, tools):
    first = instance_factory()
    deployment = first.deployment_id()
    marker = f"orphan-{uuid.uuid4().hex[:10]}"
    # sleeps far past its own timeout: a retry ends as a timeout after 20 s, not after 60 s
    job = first.submit({"code": "import time\ntime.sleep(60)\nprint('slept')",
                        "entrypoint": f"python3 main.py {marker}", "timeout": 20})
    # kill only once the program really runs (a container found by its label may still be "created")
    pid = tools.poll(lambda: tools.host_processes_with(marker), 30, 0.1, "the job's program to run")[0][0]
    old = tools.container_of_pid(pid)
    assert old, f"no container found for pid {pid}"
    workers = first.worker_pids()
    assert workers, "no worker processes found under run-service.sh"
    dead_ids = [worker_id_of(pid) for pid in workers]
    t_kill = time.monotonic()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    first.stop()  # before run-service.sh starts the workers again (1 s back-off): stop the group
    assert tools.container_exists(old), "the container vanished with its worker: nothing to sweep"
    assert ((tools.inspect(old) or {}).get("State") or {}).get("Running") is True
    left_by_dead = {w: tools.containers(f"code-runner.worker={w}") for w in dead_ids}

    second = instance_factory(database=first.database)
    assert second.deployment_id() == deployment
    t_restart = time.monotonic()

    def dead_workers_containers():
        return [c for w in dead_ids for c in tools.containers(f"code-runner.worker={w}")]
    try:
        tools.poll(lambda: not dead_workers_containers(), SWEEP_WITHIN, 0.25,
                   "the killed workers' containers to be removed")
        removed_after = time.monotonic() - t_kill
    except AssertionError:
        removed_after = None
    still_there = dead_workers_containers()
    final = second.wait_job(job, 90)
    ended_after = time.monotonic() - t_kill
    second.stop()
    t_stop = time.monotonic()
    try:
        tools.poll(lambda: not tools.containers(f"code-runner.deployment={deployment}"), 20, 0.25,
                   "the deployment's containers to go after a graceful stop")
        after_stop = []
    except AssertionError:
        after_stop = tools.docker("ps", "-a", "--filter", f"label=code-runner.deployment={deployment}", "--format",
                                  '{{.ID}} {{.State}} {{.Label "code-runner.job"}} {{.Label "code-runner.worker"}}'
                                  ).splitlines()
    record("kill -9 workers, restart on same database",
           {"left_by_killed_workers": {w: len(c) for w, c in left_by_dead.items()},
            "orphans_removed_after_s": removed_after and round(removed_after, 2),
            "restart_after_kill_s": round(t_restart - t_kill, 2),
            "job_status": final["status"], "error": final.get("error"),
            "result": {k: (final.get("result") or {}).get(k) for k in ("exit_code", "timed_out", "stdout")},
            "left_after_graceful_stop": after_stop, "stop_took_s": round(t_stop - (t_kill + ended_after), 2)},
           ended_after)
    assert removed_after is not None, (f"containers of the killed workers still exist {SWEEP_WITHIN}s after a "
                                       f"fresh instance started: {[c[:12] for c in still_there]}")
    assert final["status"] in ("completed", "failed"), final
    assert after_stop == [], f"a graceful stop left containers behind: {after_stop}"
