#!/usr/bin/env python3
"""Fair scheduling's benchmark (issue 19), against a running service whose API_KEYS_FILE holds
two keys of priority 1 and no other limits (`make bench` starts one and runs this).

- B alone: on the idle service, key B sends 20 POST /run of `print(1)`, one after the other;
  each request's wall time seen by the client.
- B under A's flood: key A submits 500 POST /jobs of `print(1)` as fast as it can (8 threads);
  as soon as all 500 are accepted, B sends the same 20 sequential POST /run. A fair queue gives
  B's job the next claim however many jobs A has queued, so B waits for a free slot, not
  behind A's backlog. Target: B's p50 under the flood <= 2.0 x B's p50 alone. How many of A's
  jobs were still queued when B's last run answered shows that B really ran beside the backlog
  (code_runner_key_queued_jobs{key="<A's name>"} from GET /metrics; GET /health's
  queue.queued, which is then A's alone, when the metric is missing).
- Then it waits (GET /health, until nothing is queued or running, with a deadline) for A's jobs
  to drain, so the service is left clean, and reports how long that took; and B's queue waits
  (created_at → started_at of its jobs) in both phases: what the order of claims decides, apart
  from the run itself, which A's runs on the same CPUs slow down in any order.
- B under A's flood with A capped (only with --keys-file, the service's API_KEYS_FILE): once A's
  backlog has drained, the file is replaced (atomically: a temporary file in its directory, then
  a rename over it) by the same two keys and names with A given `"max_running": --cap-a` (B no
  limits). Once GET /health's api_keys.loaded_at has changed with no api_keys.error (deadline
  15 s, else the phase fails), the flood, B's 20 runs and the drain are done again as above.
  Then the file's original content is put back the same way, so the service is left as found.

The target (<= 2.0 x alone) is judged, for each flood, on two figures: B's end-to-end p50 and
B's queue-wait p50 (what the order of claims decides). While B runs, the most of A's jobs seen
running (code_runner_key_running_jobs, every 0.2 s) shows whether the cap held.
Prints a Markdown table and writes --json. Keys: --key-a / --key-b (or BENCH_KEY_A / BENCH_KEY_B).
"""

import argparse
import datetime
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HELLO = "print(1)\n"
TARGET = 2.0
RELOAD_SECONDS = 15


def call(url, path, key, body=None, timeout=120):
    """(status, parsed JSON body or None); HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
    request = urllib.request.Request(url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def run_once(url, key):
    """One POST /run of print(1): (its wall time in ms, the job id); exits on anything but a printed 1."""
    started = time.monotonic()
    status, answer = call(url, "/run", key, {"image": "python", "code": HELLO})
    elapsed = (time.monotonic() - started) * 1000
    if status != 200 or answer.get("stdout") != "1\n":
        sys.exit(f"bench-fairness: POST /run answered {status}: {json.dumps(answer)[:300]}")
    return elapsed, answer["job_id"]


def sequential(url, key, count):
    """(wall times in ms, job ids) of `count` POST /run one after the other."""
    runs = [run_once(url, key) for _ in range(count)]
    return [ms for ms, _ in runs], [job_id for _, job_id in runs]


def timestamp(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def queue_waits(url, key, job_ids):
    """Each job's created_at → started_at in ms (GET /jobs/{id}): the wait for a claim, apart
    from the run itself, which CPU contention slows whatever the order of claims."""
    waits = []
    for job_id in job_ids:
        status, job = call(url, f"/jobs/{job_id}", key)
        if status == 200 and job.get("started_at"):
            waits.append((timestamp(job["started_at"]) - timestamp(job["created_at"])) * 1000)
    return waits


def flood(url, key, jobs, threads):
    """Submits `jobs` POST /jobs from `threads` threads; returns (seconds, refused answers)."""
    remaining = [jobs]
    lock = threading.Lock()
    refused = []

    def submitter():
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            try:
                status, answer = call(url, "/jobs", key, {"image": "python", "code": HELLO})
            except OSError as error:
                status, answer = None, str(error)
            if status != 202:
                with lock:
                    refused.append((status, answer))
    workers = [threading.Thread(target=submitter) for _ in range(threads)]
    started = time.monotonic()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return time.monotonic() - started, refused


def health(url):
    status, answer = call(url, "/health", "", timeout=10)
    if status != 200:
        sys.exit(f"bench-fairness: GET /health answered {status}")
    return answer


def key_gauge(url, key, metric, name):
    """The per-key gauge `metric` of GET /metrics for the key named `name`; None when missing."""
    request = urllib.request.Request(url + "/metrics", headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        pattern = r'^' + re.escape(metric) + r'\{key="' + re.escape(name) + r'"\} (\S+)$'
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            return int(float(match.group(1)))
    except (OSError, ValueError):
        pass
    return None


def queued_of(url, key, name):
    """A's queued jobs: the per-key gauge of GET /metrics, else /health's queue (then A's alone)."""
    queued = key_gauge(url, key, "code_runner_key_queued_jobs", name)
    if queued is not None:
        return queued, "code_runner_key_queued_jobs"
    return health(url)["queue"]["queued"], "/health queue.queued"


class RunningWatch:
    """While open, the most of A's jobs seen running (code_runner_key_running_jobs, every 0.2 s):
    whether a cap holds. `most` stays None when the gauge is missing."""

    def __init__(self, url, key, name):
        self.url, self.key, self.name = url, key, name
        self.most = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        while not self.stop.is_set():
            running = key_gauge(self.url, self.key, "code_runner_key_running_jobs", self.name)
            if running is not None:
                self.most = running if self.most is None else max(self.most, running)
            self.stop.wait(0.2)  # the polling interval of a black-box sample

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()


def drain(url, deadline_seconds):
    """Seconds until /health shows nothing queued or running; None past the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        queue = health(url)["queue"]
        if queue["queued"] == 0 and queue["running"] == 0:
            return time.monotonic() - started
        time.sleep(0.2)  # the polling interval of a black-box wait
    return None


def under_flood(args):
    """One flood phase, the same whether A is capped or not: A's POST /jobs, B's sequential
    POST /run (A's running jobs watched meanwhile), A's queued count when B finished, the drain,
    B's queue waits."""
    flood_seconds, refused = flood(args.url, args.key_a, args.flood, args.threads)
    if refused:
        print(f"bench-fairness: {len(refused)} of A's {args.flood} POST /jobs were refused, e.g. {str(refused[0])[:300]}",
              file=sys.stderr)
    queued_after_flood, _ = queued_of(args.url, args.key_a, args.name_a)
    with RunningWatch(args.url, args.key_a, args.name_a) as watch:
        samples, job_ids = sequential(args.url, args.key_b, args.runs)
    a_queued, a_queued_source = queued_of(args.url, args.key_a, args.name_a)
    drained = drain(args.url, args.drain_seconds)
    return {
        "flood_seconds": flood_seconds, "refused": refused, "queued_after_flood": queued_after_flood,
        "samples": samples, "waits": queue_waits(args.url, args.key_b, job_ids), "a_queued": a_queued,
        "a_queued_source": a_queued_source, "a_running_most": watch.most, "drained": drained,
    }


def replace_file(path, content):
    """Writes `content` (bytes) to `path` atomically: a temporary file in its directory, with
    the file's mode, renamed over it (the service reloads a file moved in whole)."""
    mode = os.stat(path).st_mode & 0o7777
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                                             prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def await_reload(url, before):
    """(seconds until GET /health's api_keys.loaded_at differs from `before` with no
    api_keys.error, None past RELOAD_SECONDS; the last api_keys seen)."""
    started = time.monotonic()
    while True:
        keys = health(url)["api_keys"]
        if keys.get("loaded_at") != before and keys.get("error") is None:
            return time.monotonic() - started, keys
        if time.monotonic() - started >= RELOAD_SECONDS:
            return None, keys
        time.sleep(0.1)  # the polling interval of a black-box wait


def capped_keys(args):
    """The keys file's content for phase 3: the same two keys and names, A given max_running."""
    document = {"keys": [
        {"name": args.name_a, "key": args.key_a, "max_running": args.cap_a},
        {"name": args.name_b, "key": args.key_b},
    ]}
    return (json.dumps(document) + "\n").encode()


def capped_phase(args, original):
    """Phase 3: the keys file rewritten with A capped, the flood phase again once the service has
    reloaded it, then the original content put back (whatever happened) and reloaded.
    (the phase's figures or None, why it failed or None, seconds to reload the cap, whether the
    original keys were reloaded)."""
    phase, problem, reload_seconds = None, None, None
    before = health(args.url)["api_keys"].get("loaded_at")
    try:
        replace_file(args.keys_file, capped_keys(args))
        reload_seconds, keys = await_reload(args.url, before)
        if reload_seconds is None:
            problem = f"the keys were not reloaded within {RELOAD_SECONDS} s (api_keys: {json.dumps(keys)[:300]})"
        else:
            phase = under_flood(args)
    finally:
        before = health(args.url)["api_keys"].get("loaded_at")
        replace_file(args.keys_file, original)
        restored, keys = await_reload(args.url, before)
        if restored is None:
            print(f"bench-fairness: the original keys file is back but was not reloaded within {RELOAD_SECONDS} s"
                  f" (api_keys: {json.dumps(keys)[:300]})", file=sys.stderr)
    return phase, problem, reload_seconds, restored is not None


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[int(fraction * (len(ordered) - 1))]


def median_or_none(samples):
    return statistics.median(samples) if samples else None


def ratio_of(measured, alone):
    return measured / alone if measured is not None and alone else None


def verdict(ratio):
    return "PASS" if ratio is not None and ratio <= TARGET else "MISS"


def rounded(value, digits=1):
    return round(value, digits) if value is not None else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key-a", default=os.environ.get("BENCH_KEY_A"), help="the flooding key (BENCH_KEY_A)")
    parser.add_argument("--key-b", default=os.environ.get("BENCH_KEY_B"), help="the measured key (BENCH_KEY_B)")
    parser.add_argument("--name-a", default="tenant-a", help="A's name in API_KEYS_FILE (the metrics' key label)")
    parser.add_argument("--name-b", default="tenant-b", help="B's name in API_KEYS_FILE (kept by phase 3's rewrite)")
    parser.add_argument("--runs", type=int, default=20, help="B's sequential POST /run, each phase")
    parser.add_argument("--flood", type=int, default=500, help="A's POST /jobs")
    parser.add_argument("--threads", type=int, default=8, help="A's submitting threads")
    parser.add_argument("--drain-seconds", type=float, default=600)
    parser.add_argument("--keys-file", help="the service's API_KEYS_FILE: with it, phase 3 (A capped) runs too")
    parser.add_argument("--cap-a", type=int, default=2, help="A's max_running in phase 3")
    parser.add_argument("--json")
    args = parser.parse_args()
    if not args.key_a or not args.key_b:
        sys.exit("bench-fairness: give --key-a and --key-b (or BENCH_KEY_A, BENCH_KEY_B)")
    if args.cap_a < 1:
        sys.exit("bench-fairness: --cap-a must be at least 1")
    original_keys = None
    if args.keys_file:
        with open(args.keys_file, "rb") as f:
            original_keys = f.read()

    if drain(args.url, 60) is None:
        sys.exit("bench-fairness: the service is not idle (jobs queued or running after 60 s)")
    sequential(args.url, args.key_b, 3)  # warm-up: the image, the warm pool
    run_once(args.url, args.key_a)
    alone, alone_ids = sequential(args.url, args.key_b, args.runs)
    flooded = under_flood(args)
    waits_alone = queue_waits(args.url, args.key_b, alone_ids)

    capped, capped_problem, reload_seconds, restored = None, None, None, None
    if args.keys_file and flooded["drained"] is None:
        capped_problem = "not run: A's backlog of phase 2 did not drain"
    elif args.keys_file:
        capped, capped_problem, reload_seconds, restored = capped_phase(args, original_keys)
    if capped_problem:
        print(f"bench-fairness: phase 3 (A capped) failed: {capped_problem}", file=sys.stderr)

    alone_p50, wait_alone_p50 = statistics.median(alone), median_or_none(waits_alone)

    def figures(phase):
        """A flood phase's end-to-end p50, p95 and ratio, and queue-wait p50 and ratio."""
        p50, wait_p50 = statistics.median(phase["samples"]), median_or_none(phase["waits"])
        return {"p50": p50, "p95": percentile(phase["samples"], 0.95), "ratio": ratio_of(p50, alone_p50),
                "wait_p50": wait_p50, "wait_ratio": ratio_of(wait_p50, wait_alone_p50)}

    def phase_json(phase, f):
        return {
            "b_under_flood_ms_p50": round(f["p50"], 1),
            "b_under_flood_ms_p95": round(f["p95"], 1),
            "ratio_p50": rounded(f["ratio"], 3),
            "verdict_p50": verdict(f["ratio"]),
            "a_jobs_refused": len(phase["refused"]),
            "a_submit_seconds": round(phase["flood_seconds"], 2),
            "a_queued_when_b_started": phase["queued_after_flood"],
            "a_queued_when_b_finished": phase["a_queued"],
            "a_queued_source": phase["a_queued_source"],
            "a_running_most_while_b_ran": phase["a_running_most"],
            "a_drain_seconds": rounded(phase["drained"]),
            "b_queue_wait_under_flood_ms_p50": rounded(f["wait_p50"]),
            "ratio_queue_wait_p50": rounded(f["wait_ratio"], 3),
            "verdict_queue_wait_p50": verdict(f["wait_ratio"]),
            "b_under_flood_ms_samples": [round(x, 1) for x in phase["samples"]],
        }

    flood_figures = figures(flooded)
    results = {
        "b_alone_ms_p50": round(alone_p50, 1),
        "b_alone_ms_p95": round(percentile(alone, 0.95), 1),
        "target_ratio_p50": TARGET,
        "a_jobs_submitted": args.flood,
        "b_queue_wait_alone_ms_p50": rounded(wait_alone_p50),
        "b_alone_ms_samples": [round(x, 1) for x in alone],
        **phase_json(flooded, flood_figures),
    }
    if args.keys_file:
        results["capped"] = {"a_max_running": args.cap_a, "keys_reload_seconds": rounded(reload_seconds, 2),
                             "keys_restored": restored, "failed": capped_problem}
        if capped:
            capped_figures = figures(capped)
            results["capped"].update(phase_json(capped, capped_figures))

    def ratio_text(ratio):
        return f"{ratio:.2f}" if ratio is not None else "n/a"

    def ms_text(ms):
        return f"{ms:.1f} ms" if ms is not None else "n/a"

    def phase_rows(label, detail, phase, f):
        print(f"| {label} ({detail}{args.flood} POST /jobs accepted in {phase['flood_seconds']:.1f} s, {phase['queued_after_flood']}"
              f" still queued when B began), p50 / p95 | {f['p50']:.1f} ms / {f['p95']:.1f} ms | | |")
        print(f"| {label}: ratio to alone, p50, end to end | {ratio_text(f['ratio'])} | <= {TARGET} | {verdict(f['ratio'])} |")
        print(f"| {label}: B's queue wait p50 (ratio to alone: what the order of claims decides)"
              f" | {ms_text(f['wait_p50'])} ({ratio_text(f['wait_ratio'])}) | <= {TARGET} | {verdict(f['wait_ratio'])} |")
        print(f"| {label}: A's jobs still queued when B finished ({phase['a_queued_source']}) | {phase['a_queued']} | | |")
        running = phase["a_running_most"] if phase["a_running_most"] is not None else "n/a (no code_runner_key_running_jobs)"
        print(f"| {label}: A's jobs running while B ran, most seen | {running} | | |")
        drained = f"{phase['drained']:.1f} s" if phase["drained"] is not None else f"not within {args.drain_seconds:.0f} s"
        print(f"| {label}: A's backlog drained (nothing queued or running) | {drained} | | |")

    print("| figure | measured | target | |")
    print("|---|---|---|---|")
    print(f"| B alone: {args.runs} sequential POST /run, p50 / p95 | {results['b_alone_ms_p50']} ms / {results['b_alone_ms_p95']} ms | | |")
    print(f"| B alone: B's queue wait (created_at → started_at), p50 | {ms_text(wait_alone_p50)} | | |")
    phase_rows("B under A's flood", "", flooded, flood_figures)
    if capped:
        phase_rows("B under A's flood, A capped", f"A's max_running {args.cap_a}, keys reloaded in {reload_seconds:.2f} s; ",
                   capped, capped_figures)
    elif args.keys_file:
        print(f"| B under A's flood, A capped (A's max_running {args.cap_a}) | failed: {capped_problem} | <= {TARGET} | MISS |")
    print()
    print("End to end, B's run shares 2 vCPUs with A's container churn; with A capped, workers keep free slots for B.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    clean = flooded["drained"] is not None and not flooded["refused"]
    if args.keys_file:
        clean = clean and capped is not None and capped["drained"] is not None and not capped["refused"] and restored
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
