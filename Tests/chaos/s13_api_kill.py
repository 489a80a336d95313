#!/usr/bin/env python3
"""api-kill: an API host killed with -9 while clients long-poll it, on PostgreSQL.

Hosts (multihost.py): api1, api2, wk1 and wk2 with one worker each (2 slots), lease 6 s.
CLIENTS clients each submit a 3 s job with `POST /jobs` under their own Idempotency-Key to
api1 and then long-poll it (`GET /jobs/{id}?wait=30`). While they wait (the jobs running or
queued), LATE more clients start submitting to api1, and api1 is killed with -9 at once: their
submissions may or may not have been stored. A client whose request fails does what a careful client behind a
load balancer does: it sends its submission again, with the same key, to the other API (api2),
and long-polls there. Later api1 starts again.

Holds when: every client gets its job's result (lost = 0, failed = 0); the repeated submission
answers the job the client already had (the same id: the key is unique across API hosts), so no
job is stored twice (double = 0); every client saw api1 fail (the kill landed during the long
polls); api1, started again, reads the jobs; the workers never noticed (no rerun).
"""
import sys
import threading

import requests

from chaoslib import ScenarioFailure, main, now, wait_until
from multihost import Cluster, http_session

CLIENTS = 10
LATE = 5  # clients whose submission is on its way to api1 when it dies
LEASE_S = 6
CODE = "import time\ntime.sleep(3)\nprint('{marker}')\n"
AUTH = {"X-API-Key": "chaos-key"}


def run(ctx) -> None:
    cluster = Cluster(ctx, api_hosts=2, worker_hosts=2, lease=LEASE_S)
    cluster.start({"wk1": ["wk1-a"], "wk2": ["wk2-a"]})

    lock = threading.Lock()
    first_ids: dict[str, str] = {}
    outcomes: dict[str, dict] = {}

    def client(index: int) -> None:
        marker = f"api-kill-{index}"
        http = http_session()
        body = {"image": "python", "code": CODE.format(marker=marker)}
        headers = {**AUTH, "Idempotency-Key": marker}
        outcome = {"api1_failed": False, "same_id": None}
        try:
            r = http.post(cluster.api_url("api1") + "/jobs", json=body, headers=headers, timeout=30)
            job_id = r.json()["job_id"]
            with lock:
                first_ids[marker] = job_id
            view = http.get(f"{cluster.api_url('api1')}/jobs/{job_id}", params={"wait": 30}, headers=AUTH,
                            timeout=60).json()
        except (requests.RequestException, ValueError, KeyError) as error:
            outcome["api1_failed"] = True
            outcome["api1_error"] = type(error).__name__
            deadline = now() + 60
            view = {}
            while now() < deadline:
                try:
                    r = http.post(cluster.api_url("api2") + "/jobs", json=body, headers=headers, timeout=30)
                    if r.status_code not in (200, 202):
                        outcome["retry_status"] = r.status_code
                        threading.Event().wait(0.5)  # a client's pause before it retries; the deadline bounds it
                        continue
                    job_id = r.json()["job_id"]
                    with lock:
                        outcome["same_id"] = first_ids.get(marker) in (None, job_id)
                        outcome["had_id"] = marker in first_ids
                    view = http.get(f"{cluster.api_url('api2')}/jobs/{job_id}", params={"wait": 30}, headers=AUTH,
                                    timeout=60).json()
                    break
                except (requests.RequestException, ValueError, KeyError) as retry_error:
                    outcome["retry_error"] = repr(retry_error)[:200]
                    threading.Event().wait(0.5)
        outcome["view"] = view
        with lock:
            outcomes[marker] = outcome

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    wait_until(lambda: len(first_ids) == CLIENTS, 60, "every client to have its job id from api1")
    wait_until(lambda: cluster.count_jobs("state = 'running'") >= 2, 30, "jobs to be running")
    waiting = CLIENTS - len(outcomes)
    late = [threading.Thread(target=client, args=(CLIENTS + i,), daemon=True) for i in range(LATE)]
    for t in late:
        t.start()
    threads += late
    cluster.procs["api1"].kill9()
    killed_at = now()
    ctx.note(f"api1 killed with {waiting} clients long-polling it")
    ctx.metric("clients_waiting_at_kill", waiting)
    for t in threads:
        t.join(timeout=120)
    ctx.metric("clients_answered_after_kill_s", round(now() - killed_at, 1))

    restarted = now()
    cluster.start_api("api1")
    ctx.metric("api1_back_s", round(now() - restarted, 1))

    views = {}
    total = CLIENTS + LATE
    ctx.metric("late_submissions_stored_by_api1", sum(1 for i in range(CLIENTS, total) if f"api-kill-{i}" in first_ids))
    for marker in (f"api-kill-{i}" for i in range(total)):
        outcome = outcomes.get(marker, {})
        view = outcome.get("view") or {}
        job_id = view.get("job_id") or first_ids.get(marker, marker)
        views[job_id] = view
        stdout = ((view.get("result") or {}).get("stdout") or "").strip()
        ctx.check(view.get("status") == "completed" and stdout == marker, f"{marker} ended with {str(outcome)[:400]}")
        ctx.check(outcome.get("api1_failed") is True, f"{marker} was answered by api1 before the kill: {str(outcome)[:300]}")
        ctx.check(outcome.get("same_id") is True, f"{marker}'s repeat got another job: {str(outcome)[:300]}")
        again = http_session().get(f"{cluster.api_url('api1')}/jobs/{job_id}", headers=AUTH, timeout=30)
        ctx.check(again.status_code == 200 and again.json().get("status") == "completed",
                  f"the restarted api1 answered {again.status_code} for {job_id}")
    ctx.count(views, sent=total)
    stored = cluster.count_jobs("kind = 'run'")
    ctx.metric("stored_jobs", stored)
    ctx.result["double"] = max(0, stored - total)
    ctx.check(stored == total, f"{stored} jobs stored for {total} clients")
    reruns = cluster.count_jobs("attempts > 1")
    ctx.metric("reruns", reruns)
    ctx.check(reruns == 0, f"{reruns} jobs ran twice though only an API died")
    if not all(o.get("api1_failed") for o in outcomes.values()):
        raise ScenarioFailure("the kill did not land during the long polls")


if __name__ == "__main__":
    sys.exit(main("api-kill", run))
