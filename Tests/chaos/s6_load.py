#!/usr/bin/env python3
"""load: 500 POST /run from 50 concurrent clients against 2 workers (2 slots each).

  A. default MAX_QUEUE_DEPTH: every request answered 200 with stdout "1\\n" and exit code 0;
     no 5xx, no SQLITE_BUSY / "database is locked" in any answer or log; the WAL file stays
     bounded (max size sampled every 100 ms, must stay under the 64 MiB journal_size_limit).
     Reports throughput and p50/p95/max latency.
  B. MAX_QUEUE_DEPTH=20, 200 requests from 50 clients: answers are 200 (correct) or 429 with a
     Retry-After header, at least one 429, never a 5xx; a refused request leaves no job behind
     (jobs in the database == 200 answers).

Environment: CHAOS_LOAD_REQUESTS (500), CHAOS_LOAD_CLIENTS (50).
"""
import os
import sys
import threading
from collections import Counter

import requests

from chaoslib import HEADERS, Context, Sampler, main, now, percentile

REQUESTS = int(os.environ.get("CHAOS_LOAD_REQUESTS", "500"))
CLIENTS = int(os.environ.get("CHAOS_LOAD_CLIENTS", "50"))
WAL_BOUND = 64 * 1024 * 1024


def hammer(svc, total: int, clients: int) -> dict:
    lock = threading.Lock()
    counter = iter(range(total))
    answers: list[dict] = []

    def client() -> None:
        session = requests.Session()
        session.headers.update(HEADERS)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            started = now()
            try:
                r = session.post(svc.url + "/run", json={"code": "print(1)", "image": "python"}, timeout=120)
                entry = {"status": r.status_code, "latency": now() - started, "retry_after": r.headers.get("Retry-After"),
                         "text": r.text[:400]}
                if r.status_code == 200:
                    body = r.json()
                    entry["correct"] = body.get("stdout") == "1\n" and body.get("exit_code") == 0
            except requests.RequestException as error:
                entry = {"status": "error", "latency": now() - started, "text": repr(error)[:300]}
            with lock:
                answers.append(entry)

    wal_max = [0]

    def sample_wal():
        wal_max[0] = max(wal_max[0], svc.wal_size())
    sampler = Sampler(sample_wal, 0.1)
    sampler.start()
    started = now()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    wall = now() - started
    sampler.stop()
    sample_wal()
    return {"answers": answers, "wall": wall, "wal_max": wal_max[0]}


def summarise(ctx: Context, label: str, outcome: dict) -> Counter:
    answers = outcome["answers"]
    codes = Counter(a["status"] for a in answers)
    ok = [a for a in answers if a["status"] == 200]
    lat = [a["latency"] for a in ok]
    ctx.metric(f"{label}_status_counts", {str(k): v for k, v in codes.items()})
    ctx.metric(f"{label}_throughput_runs_per_s", round(len(ok) / outcome["wall"], 2))
    ctx.metric(f"{label}_latency_s", {"p50": round(percentile(lat, 50), 3), "p95": round(percentile(lat, 95), 3),
                                      "max": round(max(lat), 3) if lat else None})
    ctx.metric(f"{label}_wall_s", round(outcome["wall"], 1))
    ctx.metric(f"{label}_wal_max_bytes", outcome["wal_max"])
    bad = [a for a in ok if not a.get("correct")]
    ctx.check(not bad, f"{label}: {len(bad)} answers with a wrong result, e.g. {bad[:2]}")
    fivexx = [a for a in answers if isinstance(a["status"], int) and a["status"] >= 500]
    ctx.check(not fivexx, f"{label}: {len(fivexx)} 5xx answers, e.g. {fivexx[:3]}")
    errors = [a for a in answers if a["status"] == "error"]
    ctx.check(not errors, f"{label}: {len(errors)} requests without an answer, e.g. {errors[:3]}")
    busy = [a for a in answers if "locked" in a["text"].lower() or "sqlite_busy" in a["text"].lower()]
    ctx.check(not busy, f"{label}: SQLITE_BUSY reached clients: {busy[:3]}")
    ctx.check(outcome["wal_max"] < WAL_BOUND, f"{label}: WAL grew to {outcome['wal_max']} bytes")
    return codes


def run(ctx: Context) -> None:
    # A: plain load
    svc = ctx.service("load")
    svc.start_api()
    svc.start_worker("l1")
    svc.start_worker("l2")
    svc.wait_workers(2)
    outcome = hammer(svc, REQUESTS, CLIENTS)
    codes = summarise(ctx, "A", outcome)
    ctx.result["sent"] += REQUESTS
    ctx.result["completed"] += sum(1 for a in outcome["answers"] if a["status"] == 200 and a.get("correct"))
    ctx.result["failed"] += sum(1 for a in outcome["answers"] if a["status"] != 200 or not a.get("correct"))
    ctx.result["lost"] += REQUESTS - len(outcome["answers"]) + codes.get("error", 0)
    ctx.check(codes.get(200, 0) == REQUESTS, f"A: only {codes.get(200, 0)} of {REQUESTS} answered 200 ({dict(codes)})")
    rows = svc.query("SELECT state, count(*) FROM jobs WHERE kind = 'run' GROUP BY state")
    ctx.metric("A_job_states", {r[0]: r[1] for r in rows})
    logs = svc.grep_logs("database is locked", "SQLITE_BUSY", "error")
    ctx.metric("A_log_error_lines", logs[:5])
    ctx.check(not [l for l in logs if "locked" in l.lower() or "busy" in l.lower()], f"A: busy errors in logs: {logs[:5]}")
    svc.stop_all()

    # B: a small MAX_QUEUE_DEPTH → 429 with Retry-After, never 5xx, nothing stored for a 429
    svc = ctx.service("load-depth", env={"MAX_QUEUE_DEPTH": "20"})
    svc.start_api()
    svc.start_worker("q1")
    svc.start_worker("q2")
    svc.wait_workers(2)
    total = max(200, REQUESTS // 2 - 50)
    outcome = hammer(svc, total, CLIENTS)
    codes = summarise(ctx, "B", outcome)
    answers = outcome["answers"]
    ctx.result["sent"] += total
    ctx.result["completed"] += sum(1 for a in answers if a["status"] == 200 and a.get("correct"))
    ctx.result["failed"] += sum(1 for a in answers if a["status"] == 200 and not a.get("correct"))
    ctx.result["lost"] += total - len(answers) + codes.get("error", 0)
    ctx.metric("B_refused_429", codes.get(429, 0))
    ctx.check(codes.get(429, 0) > 0, f"B: no 429 with MAX_QUEUE_DEPTH=20 and {CLIENTS} clients ({dict(codes)})")
    no_header = [a for a in answers if a["status"] == 429 and not a.get("retry_after")]
    ctx.check(not no_header, f"B: 429 without Retry-After: {no_header[:2]}")
    other = {k: v for k, v in codes.items() if k not in (200, 429)}
    ctx.check(not other, f"B: unexpected answers {other}: {[a for a in answers if a['status'] not in (200, 429)][:3]}")
    stored = svc.query("SELECT count(*) FROM jobs WHERE kind = 'run'")[0][0]
    ctx.metric("B_jobs_stored", stored)
    ctx.check(stored == codes.get(200, 0) + codes.get(202, 0),
              f"B: {stored} jobs stored for {codes.get(200, 0)} accepted requests")
    svc.stop_all()


if __name__ == "__main__":
    sys.exit(main("load", run))
