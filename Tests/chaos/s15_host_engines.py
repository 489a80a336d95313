#!/usr/bin/env python3
"""host-engines: worker hosts with Docker engines of their own, and a prebuilt image one lacks.

Hosts (multihost.py): api1, api2, and wk1, wk2 each with a dockerd of its own inside its
namespace (the python runtime image copied in), lease 6 s. A prebuilt image is built through
api1 while only wk1 runs, so it exists in wk1's engine alone. Then wk1's worker stops (SIGTERM)
and wk2's starts; a run of that image through api2 must find wk2 rebuilding it from the spec
stored in the database, then running on it. Finally wk1's worker starts again and both hosts
run a burst of jobs, each host's orphan sweep looking only at its own engine.

Holds when: the image is in wk1's engine and not in wk2's after the build; the run through api2
answers the setup script's file (the rebuild happened on wk2, whose engine then has the image
too); `GET /prebuilds/{tag}` says `ready`; the burst completes on both hosts (each host's
containers in its own engine); nothing of the deployment is left in either engine once the
workers are gone.
"""
import sys

from chaoslib import ScenarioFailure, main, now, wait_until
from multihost import Cluster, http_session

LEASE_S = 6
TAG = "mh-tools"
AUTH = {"X-API-Key": "chaos-key"}
BURST = 8


def run(ctx) -> None:
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, lease=LEASE_S, own_engines=("wk1", "wk2"))
    cluster.start_api("api1")
    cluster.start_api("api2")
    cluster.start_worker("wk1", "wk1-a")
    cluster.wait_hosts("api1", {"wk1": 1})
    http = http_session()

    def images(host: str) -> list[str]:
        out = cluster.docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}")
        return [line for line in out.stdout.split() if line.startswith(f"prebuilt-{TAG}")]

    started = now()
    r = http.post(cluster.api_url("api1") + "/prebuild", headers=AUTH, timeout=600,
                  json={"tag": TAG, "base_image": "python", "setup_script": "echo built-here > /opt/mh-marker"})
    if r.status_code != 200:
        raise ScenarioFailure(f"POST /prebuild on api1 answered {r.status_code}: {r.text[:500]}")
    ctx.metric("build_on_wk1_s", round(now() - started, 1))
    ctx.check(bool(images("wk1")) and not images("wk2"),
              f"after the build: wk1's engine has {images('wk1')}, wk2's {images('wk2')}")

    wk1 = cluster.procs["wk1-a"]
    wk1.signal(15)
    wk1.popen.wait(timeout=60)
    cluster.start_worker("wk2", "wk2-a")
    cluster.wait_hosts("api2", {"wk2": 1})
    started = now()
    r = http.post(cluster.api_url("api2") + "/run", headers=AUTH, timeout=600,
                  json={"image": TAG, "code": "print(open('/opt/mh-marker').read().strip())"})
    ctx.metric("run_with_rebuild_on_wk2_s", round(now() - started, 1))
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    r_run_ok = r.status_code == 200 and body.get("stdout", "").strip() == "built-here"
    ctx.check(r_run_ok, f"the run of {TAG} on wk2 answered {r.status_code}: {r.text[:500]}")
    ctx.check(bool(images("wk2")), f"wk2's engine lacks {TAG} after running it: {images('wk2')}")
    shown = http.get(f"{cluster.api_url('api1')}/prebuilds/prebuilt-{TAG}", headers=AUTH, timeout=30)
    if shown.status_code == 404:
        shown = http.get(f"{cluster.api_url('api1')}/prebuilds/{TAG}", headers=AUTH, timeout=30)
    ctx.metric("prebuild_status", shown.json().get("status") if shown.status_code == 200 else shown.status_code)
    ctx.check(shown.status_code == 200 and shown.json().get("status") == "ready",
              f"GET /prebuilds answered {shown.status_code}: {shown.text[:300]}")

    cluster.start_worker("wk1", "wk1-a")
    cluster.wait_hosts("api1", {"wk1": 1, "wk2": 1})
    hosts_seen: dict[str, int] = {}
    jobs = {}
    for i in range(BURST):
        marker = f"eng-{i}"
        jobs[marker] = cluster.submit("api1" if i % 2 == 0 else "api2", marker,
                                      f"import time\ntime.sleep(1.5)\nprint('{marker}')", AUTH)

    def sample() -> bool:
        for host in ("wk1", "wk2"):
            running = cluster.docker(host, "ps", "-q", "--filter", "label=code-runner.job").stdout.split()
            hosts_seen[host] = max(hosts_seen.get(host, 0), len(running))
        return cluster.count_jobs("kind = 'run' AND state IN ('queued', 'running')") == 0
    wait_until(sample, 90, "the burst to end", interval=0.2)
    ctx.metric("containers_seen_per_engine", hosts_seen)
    views = {job_id: http.get(f"{cluster.api_url('api2')}/jobs/{job_id}", headers=AUTH, timeout=30).json()
             for job_id in jobs.values()}
    # The run that needed the rebuild counts too.
    ctx.count({**views, "run-with-rebuild": {"status": "completed" if r_run_ok else "unanswered"}})
    for marker, job_id in jobs.items():
        stdout = ((views[job_id].get("result") or {}).get("stdout") or "").strip()
        ctx.check(views[job_id].get("status") == "completed" and stdout == marker, f"{marker} ended with {views[job_id]}")
    ctx.check(all(hosts_seen.get(h, 0) >= 1 for h in ("wk1", "wk2")),
              f"the burst did not run on both engines: {hosts_seen}")

    cluster.stop_all()
    for host in ("wk1", "wk2"):
        left = cluster.docker(host, "ps", "-aq", "--filter", "label=code-runner.deployment").stdout.split()
        ctx.check(not left, f"{len(left)} containers of the deployment left in {host}'s engine after its worker stopped")


if __name__ == "__main__":
    sys.exit(main("host-engines", run))
