#!/usr/bin/env python3
"""host-kill9: every process of a worker host killed with -9 mid-run, on PostgreSQL.

Hosts (multihost.py): api1, api2, wk1 with two workers, wk2 with one (2 slots each), lease 4 s.
JOBS jobs of 2 s (each printing its own marker and its container's hostname) are submitted
through both APIs, each under its own Idempotency-Key. Once wk1 runs some of them, both of
wk1's workers are killed with -9 at once (the host's processes die; the host's containers live
on, as they would on a host whose agent crashed). Later wk1's workers start again, as a
supervisor would start them, with the same worker ids.

Holds when: every job ends `completed` with its own output (lost = 0, failed = 0: a job whose
worker died is rerun elsewhere after its lease, within max_attempts = 2); no job stored twice
and no output in two jobs (double = 0); each rerun job's result came from a wk2 container or from
wk1's restarted workers, never from the killed ones (they cannot write: they are dead); the
containers wk1's killed workers left are gone within 30 s of wk1's workers starting again (their
start-up sweep), and wk2's workers never removed them meanwhile (the sweep is per host).
"""
import sys

from chaoslib import main, now, wait_until
from multihost import Cluster, ContainerHosts, http_session

JOBS = 16
LEASE_S = 4
CODE = "import socket, time\ntime.sleep(2)\nprint('{marker}', socket.gethostname())\n"
AUTH = {"X-API-Key": "chaos-key"}


def run(ctx) -> None:
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, lease=LEASE_S)
    cluster.start({"wk1": ["wk1-a", "wk1-b"], "wk2": ["wk2-a"]})
    hosts = ContainerHosts(cluster)
    jobs: dict[str, str] = {}  # marker -> job id
    for i in range(JOBS):
        marker = f"k9-{i}"
        jobs[marker] = cluster.submit("api1" if i % 2 == 0 else "api2", marker, CODE.format(marker=marker), AUTH)

    def wk1_running() -> list[str]:
        rows = cluster.rows("SELECT public_id FROM jobs WHERE state = 'running' AND lease_owner LIKE 'wk1-%'")
        return [r[0] for r in rows] if len(rows) >= 2 else []
    victims = wait_until(wk1_running, 60, "wk1 to run jobs")
    orphans = {c["id"] for c in cluster.containers() if c["host"] == "wk1"}
    killed = cluster.kill9_host("wk1")
    killed_at = now()
    ctx.note(f"killed {killed} holding {victims}; wk1 containers left: {len(orphans)}")
    ctx.metric("killed_processes", killed)
    ctx.metric("jobs_of_killed_host", len(victims))

    # The jobs come back after their lease, on wk2. Meanwhile wk2 starts a second worker, whose
    # start-up sweep must leave wk1's containers alone.
    cluster.start_worker("wk2", "wk2-b")
    left_alone = {c["id"] for c in cluster.containers()} & orphans
    ctx.metric("wk1_containers_after_wk2_sweep", f"{len(left_alone)} of {len(orphans)}")

    def rerun() -> bool:
        return cluster.count_jobs("attempts >= 2 AND state IN ('running', 'completed')") >= len(victims)
    wait_until(rerun, LEASE_S * 4 + 30, "the killed host's jobs to run again")
    ctx.metric("rerun_after_kill_s", round(now() - killed_at, 2))

    # Nothing removes a run's container but a worker (no AutoRemove): wk2's sweeps (at wk2-b's
    # start and every lease on wk2-a) must have left every one of wk1's alone.
    ctx.check(left_alone == orphans and bool(orphans),
              f"wk2's sweep removed {len(orphans - left_alone)} of wk1's {len(orphans)} containers")
    still = {c["id"] for c in cluster.containers()} & orphans
    ctx.check(still == orphans, f"{len(orphans - still)} of wk1's containers vanished before wk1 came back")

    restarted = now()
    cluster.start_worker("wk1", "wk1-a")
    cluster.start_worker("wk1", "wk1-b")
    wait_until(lambda: not ({c["id"] for c in cluster.containers()} & orphans), 30,
               "wk1's restarted workers to remove the containers their predecessors left")
    ctx.metric("orphans_gone_after_restart_s", round(now() - restarted, 2))

    http2 = http_session()
    views = {}
    for marker, job_id in jobs.items():
        views[job_id] = http2.get(f"{cluster.api_url('api2')}/jobs/{job_id}", params={"wait": 30}, headers=AUTH,
                                  timeout=60).json()
    hosts.stop()
    ctx.count(views, sent=JOBS)
    outputs = []
    for marker, job_id in jobs.items():
        view = views[job_id]
        stdout = ((view.get("result") or {}).get("stdout") or "").split()
        outputs.append(" ".join(stdout))
        ok = view.get("status") == "completed" and len(stdout) == 2 and stdout[0] == marker
        ctx.check(ok, f"{marker} ({job_id}) ended with {str(view)[:300]}")
        if ok and job_id in victims:
            host = hosts.host_of(stdout[1])
            ctx.check(host in ("wk2", "wk1"), f"{marker}'s result came from a container of host {host}")
            ctx.check(stdout[1] not in {cid[:12] for cid in orphans},
                      f"{marker}'s result came from a container of the killed processes")
    stored = cluster.count_jobs("kind = 'run'")
    ctx.metric("stored_jobs", stored)
    repeated = len(outputs) - len(set(outputs))
    ctx.result["double"] = max(0, stored - JOBS) + repeated
    ctx.check(stored == JOBS, f"{stored} jobs stored for {JOBS} submissions")
    ctx.check(repeated == 0, f"{repeated} outputs appear in more than one job")
    attempts = cluster.rows("SELECT public_id, attempts FROM jobs WHERE attempts > 1")
    ctx.metric("reruns", len(attempts))
    ctx.check({a[0] for a in attempts} <= set(victims), f"jobs rerun that the killed host did not hold: {attempts}")


if __name__ == "__main__":
    sys.exit(main("host-kill9", run))
