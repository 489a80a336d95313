#!/usr/bin/env python3
"""kill9-api: kill -9 the API while clients wait; restart it on the same port and database.

Two workers (4 slots). Five jobs (~3 s each) are submitted with POST /jobs and long-polled with
GET /jobs/{id}?wait=; five more clients wait on POST /run with the same kind of job. Once
the jobs are running the API is killed with SIGKILL and started again at once.

Holds when: the API is back on the same port, every one of the ten jobs ends `completed` with its
own output and is readable through GET /jobs/{id} (the POST /run jobs are found through GET /jobs
because their answers were lost with the connection), and a waiting client sees an error,
never a wrong answer.
"""
import sys
import threading

import requests

from chaoslib import HEADERS, Context, ScenarioFailure, main, now, wait_until

CLIENTS = 5
CODE = "import time\ntime.sleep(3)\nprint('{marker}')\n"


def run(ctx: Context) -> None:
    svc = ctx.service()
    svc.start_api()
    svc.start_worker("a1")
    svc.start_worker("a2")
    svc.wait_workers(2)

    job_ids = {svc.submit_ok(CODE.format(marker=f"jobs-{i}")): f"jobs-{i}" for i in range(CLIENTS)}
    run_answers: dict[int, object] = {}

    def run_client(i: int) -> None:
        try:
            r = requests.post(svc.url + "/run", headers=HEADERS,
                              json={"code": CODE.format(marker=f"run-{i}"), "image": "python"}, timeout=70)
            run_answers[i] = (r.status_code, r.text[:300])
        except requests.RequestException as error:
            run_answers[i] = f"{type(error).__name__}"
    threads = [threading.Thread(target=run_client, args=(i,), daemon=True) for i in range(CLIENTS)]
    # Long-polling clients of the POST /jobs jobs: they keep polling through the restart.
    polled: dict[str, dict] = {}

    def poll_client(job_id: str) -> None:
        polled.update(svc.wait_final([job_id], 60))
    pollers = [threading.Thread(target=poll_client, args=(j,), daemon=True) for j in job_ids]
    for t in threads + pollers:
        t.start()
    wait_until(lambda: svc.query("SELECT count(*) FROM jobs WHERE kind = 'run'")[0][0] == 2 * CLIENTS, 20,
               "all ten jobs to be stored")
    wait_until(lambda: svc.query("SELECT count(*) FROM jobs WHERE kind = 'run' AND state = 'running'")[0][0] >= 2,
               20, "jobs to be running")

    svc.api.kill9()
    killed_at = now()
    for t in threads:
        t.join(timeout=10)
    ctx.metric("run_client_answers_after_kill", {str(k): v for k, v in sorted(run_answers.items())})
    for i, answer in run_answers.items():
        if isinstance(answer, tuple):
            status, text = answer
            ctx.check(status == 200 and f"run-{i}" in text,
                      f"POST /run client {i} got {status} {text!r} while the API was killed")
    svc.start_api()
    ctx.metric("api_restart_s", round(now() - killed_at, 2))
    for t in pollers:
        t.join(timeout=70)
    for job_id, marker in job_ids.items():
        view = polled.get(job_id, {})
        stdout = ((view.get("result") or {}).get("stdout") or "").strip()
        ctx.check(view.get("status") == "completed" and stdout == marker,
                  f"long-polling client of {job_id} ended with {view}")
    ctx.metric("long_poll_clients_completed", sum(1 for v in polled.values() if v.get("status") == "completed"))

    # Ids of the POST /run jobs, from the job list (the answers were lost).
    listing = svc.http.get(svc.url + "/jobs", params={"limit": 500}, timeout=30)
    if listing.status_code != 200:
        raise ScenarioFailure(f"GET /jobs answered {listing.status_code}: {listing.text[:300]}")
    listed = [j["job_id"] for j in listing.json()["jobs"]]
    ctx.check(len(listed) == 2 * CLIENTS, f"GET /jobs lists {len(listed)} jobs, expected {2 * CLIENTS}")
    views = svc.wait_final(listed, 60)
    ctx.count(views, sent=2 * CLIENTS)
    markers = []
    for job_id, view in views.items():
        stdout = ((view.get("result") or {}).get("stdout") or "").strip()
        markers.append(stdout)
        ctx.check(view.get("status") == "completed", f"job {job_id} ended {view.get('status')}: {view}")
        if job_id in job_ids:
            ctx.check(stdout == job_ids[job_id], f"job {job_id}: stdout {stdout!r}, expected {job_ids[job_id]!r}")
    expected = sorted([f"jobs-{i}" for i in range(CLIENTS)] + [f"run-{i}" for i in range(CLIENTS)])
    ctx.check(sorted(markers) == expected, f"outputs {sorted(markers)} != {expected}")
    ctx.metric("attempts", sorted(v.get("attempts") for v in views.values()))


if __name__ == "__main__":
    sys.exit(main("kill9-api", run))
