#!/usr/bin/env python3
"""multihost: the acceptance suite against a deployment of several hosts on PostgreSQL.

Four hosts in network namespaces (multihost.py): two API hosts (api1, api2) and two worker
hosts (wk1, wk2, one worker of 2 slots each), all on one PostgreSQL server that they reach over
their veth links (10.77.i.1), never over loopback. A round-robin proxy on 127.0.0.1 alternates
the requests between the two APIs, and the visible acceptance suite (../shared/acceptance, the
tests that need no instance of their own) runs against it: a job submitted through one API is
read, cancelled and waited for through the other.

Holds when:
- the acceptance suite passes, with each API having answered at least a quarter of its requests;
- a `POST /run` long-polling on api1 and a `GET /jobs/{id}?wait=` on api1 for a job submitted
  to api2 are answered with the result, though every job runs on a worker host (no worker shares
  a namespace with an API): the completion reaches the waiting API through the database's
  wake-ups;
- both APIs' `/health` list the two worker hosts;
- every session of the deployment on the server comes from a host's own address (10.77.i.2),
  none over loopback or the socket, and each host has sessions;
- every job stored ends in a final state (lost = 0), none stored twice (double = 0).
"""
import os
import subprocess
import sys
import uuid

from chaoslib import REPO, Context, ScenarioFailure, main, now, wait_until
from multihost import Cluster, RoundRobinProxy, http_session

SUITE = os.environ.get("ACCEPTANCE_SUITE", os.path.join(REPO, "..", "shared", "acceptance"))
KEYS = "test-key-1,test-key-2"
AUTH = {"X-API-Key": "test-key-1"}


def cross_host_waits(ctx: Context, cluster: Cluster) -> None:
    http = http_session()
    marker = f"mh-{uuid.uuid4().hex[:8]}"
    started = now()
    r = http.post(cluster.api_url("api1") + "/run", headers=AUTH, timeout=120,
                  json={"image": "python", "code": f"import time\ntime.sleep(1)\nprint('{marker}')"})
    ctx.metric("run_on_api1_s", round(now() - started, 2))
    ctx.check(r.status_code == 200 and r.json().get("stdout", "").strip() == marker,
              f"POST /run on api1 answered {r.status_code}: {r.text[:300]}")

    marker = f"mh-{uuid.uuid4().hex[:8]}"
    r = http.post(cluster.api_url("api2") + "/jobs", headers=AUTH, timeout=30,
                  json={"image": "python", "code": f"import time\ntime.sleep(1)\nprint('{marker}')"})
    if r.status_code != 202:
        raise ScenarioFailure(f"POST /jobs on api2 answered {r.status_code}: {r.text[:300]}")
    job_id = r.json()["job_id"]
    started = now()
    view = http.get(f"{cluster.api_url('api1')}/jobs/{job_id}", params={"wait": 30}, headers=AUTH, timeout=60).json()
    ctx.metric("wait_on_api1_for_api2_job_s", round(now() - started, 2))
    ctx.check(view.get("status") == "completed" and (view.get("result") or {}).get("stdout", "").strip() == marker,
              f"GET /jobs/{job_id}?wait=30 on api1 for a job of api2 answered {view}")


def run(ctx: Context) -> None:
    if not os.path.isdir(SUITE):
        raise ScenarioFailure(f"no acceptance suite at {SUITE}")
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, api_keys=KEYS)
    cluster.start({"wk1": ["wk1-a"], "wk2": ["wk2-a"]})
    cluster.wait_hosts("api2", {"wk1": 1, "wk2": 1})
    ctx.note("hosts up: " + ", ".join(f"{h.name} {h.inside}" for h in cluster.hosts.values()))

    cross_host_waits(ctx, cluster)

    proxy = RoundRobinProxy([cluster.api_url("api1"), cluster.api_url("api2")])
    cluster.proxy = proxy
    log_path = os.path.join(ctx.run_dir, "acceptance.log")
    env = {k: v for k, v in os.environ.items() if k not in ("CODE_RUNNER_START",)}
    env.update({"CODE_RUNNER_URL": proxy.url, "REQUIRE_ALL_RUNTIMES": "1"})
    started = now()
    with open(log_path, "w") as log:
        pytest = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                 "-m", "not own_instance", os.path.abspath(SUITE)],
                                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=900)
    ctx.metric("acceptance_s", round(now() - started, 1))
    with open(log_path) as f:
        summary = [line for line in f.read().splitlines() if " passed" in line or " failed" in line or "error" in line]
    ctx.metric("acceptance", summary[-1] if summary else "no summary")
    ctx.note(f"acceptance: {summary[-1] if summary else 'no summary'} (log {log_path})")
    ctx.check(pytest.returncode == 0, f"the acceptance suite failed (exit {pytest.returncode}); see {log_path}")

    total = sum(proxy.counts.values())
    ctx.metric("requests_by_api", {url: n for url, n in proxy.counts.items()})
    ctx.check(proxy.failures == 0, f"{proxy.failures} requests found no API behind the proxy")
    for url, n in proxy.counts.items():
        ctx.check(total > 0 and n >= total / 4, f"{url} answered only {n} of {total} requests")

    for api in ("api1", "api2"):
        hosts = {h.get("host"): h.get("workers") for h in cluster.health(api).get("hosts", [])}
        ctx.metric(f"health_hosts_{api}", hosts)
        ctx.check(hosts.get("wk1", 0) >= 1 and hosts.get("wk2", 0) >= 1, f"/health on {api} lists hosts {hosts}")

    sessions = cluster.sessions()
    ctx.metric("sessions_by_address", sessions)
    expected = {h.inside for h in cluster.hosts.values()}
    ctx.check(set(sessions) <= expected, f"sessions from outside the hosts' addresses: {sessions}")
    ctx.check(expected <= set(sessions), f"a host has no session on the server: {sessions} (expected {sorted(expected)})")

    def settled() -> bool:
        return not cluster.rows("SELECT 1 FROM jobs WHERE state IN ('queued', 'running') LIMIT 1")
    wait_until(settled, 60, "every stored job to be final")
    states = dict((s, int(n)) for s, n in cluster.rows("SELECT state, count(*) FROM jobs WHERE kind = 'run' GROUP BY 1"))
    ctx.metric("jobs_by_state", states)
    ctx.result["sent"] = sum(states.values())
    ctx.result["completed"] = states.get("completed", 0)
    ctx.result["failed"] = states.get("failed", 0) + states.get("cancelled", 0)
    ctx.result["lost"] = sum(n for s, n in states.items() if s not in ("completed", "failed", "cancelled"))
    reruns = cluster.count_jobs("attempts > 1")
    ctx.metric("reruns", reruns)
    ctx.check(reruns == 0, f"{reruns} jobs ran twice in a quiet deployment")
    ctx.check(ctx.result["lost"] == 0, f"jobs not final: {states}")


if __name__ == "__main__":
    sys.exit(main("multihost", run))
