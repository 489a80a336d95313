#!/usr/bin/env python3
"""hosts-postgres-restart: the multi-host deployment while its PostgreSQL server restarts.

Hosts (multihost.py): api1, api2, wk1 and wk2 with one worker each (2 slots), lease 10 s.
JOBS jobs of 1 s are submitted through both APIs, each under its own Idempotency-Key, and each
client long-polls its job on the API it submitted to; a request that fails (an error, a 503) is
sent again, same key, to the same API, as a careful client does. While jobs run and clients
wait, the server is restarted with `pg_ctl restart -m fast`, then `-m immediate` (no shutdown
checkpoint: it recovers from its WAL).

Holds when: every job ends `completed` with its own output (lost = 0, failed = 0); no key is
stored twice and no output appears in two jobs (double = 0); at most 2 jobs needed a second
attempt; every API and worker process stays up; a 503 always came with Retry-After.
"""
import sys
import threading

import requests

from chaoslib import ScenarioFailure, main, now, wait_until
from multihost import Cluster, http_session

JOBS = 40
LEASE_S = 10
CODE = "import time\ntime.sleep(1)\nprint('{marker}')\n"
AUTH = {"X-API-Key": "chaos-key"}


def run(ctx) -> None:
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, lease=LEASE_S)
    cluster.start({"wk1": ["wk1-a"], "wk2": ["wk2-a"]})

    lock = threading.Lock()
    views: dict[str, dict] = {}
    answers: dict[str, int] = {}
    without_retry_after: list[str] = []

    def count(status: str) -> None:
        with lock:
            answers[status] = answers.get(status, 0) + 1

    def client(index: int) -> None:
        marker = f"hpg-{index}"
        api = cluster.api_url("api1" if index % 2 == 0 else "api2")
        http = http_session()
        deadline = now() + 150
        job_id = None
        view: dict = {}
        while now() < deadline:
            try:
                if job_id is None:
                    r = http.post(api + "/jobs", headers={**AUTH, "Idempotency-Key": marker}, timeout=30,
                                  json={"image": "python", "code": CODE.format(marker=marker)})
                    count(str(r.status_code))
                    if r.status_code in (200, 202):
                        job_id = r.json()["job_id"]
                        continue
                else:
                    r = http.get(f"{api}/jobs/{job_id}", params={"wait": 20}, headers=AUTH, timeout=60)
                    count(str(r.status_code))
                    if r.status_code == 200:
                        view = r.json()
                        if view.get("status") in ("completed", "failed", "cancelled"):
                            break
                        continue
                if r.status_code == 503 and not r.headers.get("Retry-After"):
                    with lock:
                        without_retry_after.append(r.text[:200])
            except requests.RequestException as error:
                count(type(error).__name__)
            threading.Event().wait(0.5)  # a client's pause before it retries; the deadline bounds the loop
        with lock:
            views[marker] = view or {"job_id": job_id, "status": "unanswered"}

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(JOBS)]
    for t in threads[: JOBS // 2]:
        t.start()
    wait_until(lambda: cluster.count_jobs("state = 'running'") >= 2, 30, "jobs to be running")
    started = now()
    cluster.server("restart-fast")
    ctx.metric("restart_fast_s", round(now() - started, 2))
    for t in threads[JOBS // 2:]:
        t.start()
    wait_until(lambda: cluster.count_jobs("state = 'running'") >= 1, 30, "jobs to be running again")
    started = now()
    cluster.server("restart-immediate")
    ctx.metric("restart_immediate_s", round(now() - started, 2))
    for t in threads:
        t.join(timeout=180)
    ctx.metric("answers", dict(sorted(answers.items())))

    ctx.count({m: v for m, v in views.items()}, sent=JOBS)
    outputs = []
    for i in range(JOBS):
        marker = f"hpg-{i}"
        view = views.get(marker, {})
        stdout = ((view.get("result") or {}).get("stdout") or "").strip()
        outputs.append(stdout)
        ctx.check(view.get("status") == "completed" and stdout == marker, f"{marker} ended with {str(view)[:300]}")
    stored = cluster.count_jobs("kind = 'run'")
    repeated = len(outputs) - len(set(outputs))
    ctx.metric("stored_jobs", stored)
    ctx.result["double"] = max(0, stored - JOBS) + repeated
    ctx.check(stored == JOBS, f"{stored} jobs stored for {JOBS} submissions")
    ctx.check(repeated == 0, f"{repeated} outputs appear in more than one job")
    reruns = cluster.count_jobs("attempts > 1")
    ctx.metric("reruns", reruns)
    ctx.check(reruns <= 2, f"{reruns} jobs needed a second attempt")
    ctx.check(not without_retry_after, f"503 without Retry-After: {without_retry_after[:2]}")
    for name, proc in cluster.procs.items():
        ctx.check(proc.alive(), f"{name} exited during the restarts:\n{proc.log()[-1500:]}")
    if not views:
        raise ScenarioFailure("no client finished")


if __name__ == "__main__":
    sys.exit(main("hosts-postgres-restart", run))
