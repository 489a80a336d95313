#!/usr/bin/env python3
"""The queue-alone table of `make bench`: both stores side by side, with issue 16's targets.

    scripts/bench-queue.py --dir WORK --json bench/results/queue.json

Reads what scripts/bench.sh left in WORK, per store (sqlite, postgres, and postgres_async: a
database with synchronous_commit=off, a diagnostic column; the targets are judged on postgres):
  - claim-<store>-<procs>.timing, enqueue-<store>-<procs>.timing: the `timing <first> <last>
    <jobs>` lines of `code-runner-bench queue-probe --timing`, one per process; the rate is all
    the processes' jobs over the first start to the last end (start-up and connecting excluded);
  - hops-<store>.json: the samples of `code-runner-bench queue-hops` (milliseconds).
Prints one Markdown table (PASS/MISS against the targets) and writes the figures as JSON."""
import argparse
import json
import os
import sys

STORES = [("sqlite", "SQLite"), ("postgres", "PostgreSQL"), ("postgres_async", "PostgreSQL, synchronous_commit=off")]
JUDGED = ["sqlite", "postgres"]  # the wake-up target's stores; postgres_async is shown alongside
# Issue 16, item 7.
CLAIM_TARGET_POSTGRES_4 = 2500.0  # claim + complete jobs/s with 4 processes, on PostgreSQL
WAKE_UP_TARGET_P50_MS = 2.0  # both hops, both stores


def percentile(samples, fraction):
    """Nearest rank, as BenchReport.percentile."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * fraction)))]


def rate(path):
    """Jobs per second over the probes' lines of one measurement; None when it is missing."""
    if not os.path.exists(path):
        return None
    starts, ends, jobs = [], [], 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "timing":
                starts.append(float(parts[1]))
                ends.append(float(parts[2]))
                jobs += int(parts[3])
    if not starts or max(ends) <= min(starts):
        return None
    return {"jobs": jobs, "seconds": round(max(ends) - min(starts), 4), "jobs_per_second": round(jobs / (max(ends) - min(starts)), 1)}


def verdict(value, ok):
    return "—" if value is None else ("PASS" if ok(value) else "MISS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()

    figures = {}
    for store, _ in STORES:
        entry = {}
        for procs in (1, 4):
            entry[f"claim_complete_p{procs}"] = rate(os.path.join(args.dir, f"claim-{store}-{procs}.timing"))
            entry[f"enqueue_p{procs}"] = rate(os.path.join(args.dir, f"enqueue-{store}-{procs}.timing"))
        hops_path = os.path.join(args.dir, f"hops-{store}.json")
        entry["enqueue_to_claim"] = entry["complete_to_waiter"] = None
        if os.path.exists(hops_path):
            with open(hops_path) as f:
                hops = json.load(f)
            for key, name in (("enqueueToClaim", "enqueue_to_claim"), ("completeToWaiter", "complete_to_waiter")):
                samples = hops.get(key, [])
                entry[name] = {
                    "n": len(samples),
                    "p50_ms": round(percentile(samples, 0.5), 3),
                    "p95_ms": round(percentile(samples, 0.95), 3),
                    "p99_ms": round(percentile(samples, 0.99), 3),
                }
        figures[store] = entry

    def jobs(store, key):
        value = figures[store].get(key)
        return None if value is None else value["jobs_per_second"]

    def cell_rate(store, key):
        value = jobs(store, key)
        return "failed" if value is None else f"{value:,.0f}"

    def hop(store, key):
        value = figures[store].get(key)
        return None if value is None else value["p50_ms"]

    def cell_hop(store, key):
        value = figures[store].get(key)
        return "failed" if value is None else f"{value['p50_ms']:.2f} / {value['p95_ms']:.2f} / {value['p99_ms']:.2f}"

    def value(store, key):
        entry = figures[store].get(key)
        if entry is None:
            return None
        return entry["jobs_per_second"] if "jobs_per_second" in entry else entry["p50_ms"]

    def verdicts(key, ok, stores):
        parts = " / ".join(verdict(value(store, key), ok) for store in stores)
        diagnostic = value("postgres_async", key)
        return parts + ("" if diagnostic is None else f" (off: {verdict(diagnostic, ok)})")

    def claim_ok(v):
        return v >= CLAIM_TARGET_POSTGRES_4

    def hop_ok(v):
        return v <= WAKE_UP_TARGET_P50_MS

    header = " | ".join(name for _, name in STORES)
    rows = [
        f"| queue alone (no-op executor; claims of 8) | {header} | target | PASS/MISS |",
        "|---|" + "---|" * len(STORES) + "---|---|",
    ]
    for key, name, target, judge in (
        ("claim_complete_p1", "claim + complete, 1 process, jobs/s", "—", None),
        ("claim_complete_p4", "claim + complete, 4 processes, jobs/s", f"PostgreSQL ≥ {CLAIM_TARGET_POSTGRES_4:,.0f}", ["postgres"]),
        ("enqueue_p1", "enqueue, 1 process, jobs/s", "—", None),
        ("enqueue_p4", "enqueue, 4 processes at once, jobs/s", "—", None),
    ):
        cells = " | ".join(cell_rate(store, key) for store, _ in STORES)
        rows.append(f"| {name} | {cells} | {target} | {'—' if judge is None else verdicts(key, claim_ok, judge)} |")
    for key, name in (("enqueue_to_claim", "enqueue → claim"), ("complete_to_waiter", "complete → waiting API")):
        cells = " | ".join(cell_hop(store, key) for store, _ in STORES)
        rows.append(f"| wake-up {name}, p50 / p95 / p99 ms | {cells} | p50 ≤ {WAKE_UP_TARGET_P50_MS:g} ms | {verdicts(key, hop_ok, JUDGED)} |")
    print("\n".join(rows))

    figures["targets"] = {"claim_complete_p4_postgres_jobs_per_second": CLAIM_TARGET_POSTGRES_4, "wake_up_p50_ms": WAKE_UP_TARGET_P50_MS}
    with open(args.json, "w") as f:
        json.dump(figures, f, indent=2, sort_keys=True)
    missing = [store for store, _ in STORES if any(v is None for v in figures[store].values())]
    if missing:
        print(f"(missing figures for: {', '.join(missing)})")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
