#!/usr/bin/env python3
"""Streaming's benchmark (issue 18), against running services: `make bench` runs it.

- Live latency: a job prints a line with its own clock (`time.time()`) every 50 ms, 30 lines,
  while a client reads GET /jobs/{id}/events; each line's delay is the client's clock when the
  event was read minus the time printed (same machine). Three jobs per service, SQLite and
  PostgreSQL. Target: p50 <= 50 ms.
- Throughput cost: hello-world POST /run (no streaming client) from 8 concurrent clients against
  the service with live output on and the same service with LIVE_OUTPUT=off, rounds alternating,
  requests per second compared. Target: on >= 0.95 x off. A second workload prints 5 lines
  40 ms apart (so live output is written while it runs) for the cost where it is paid.

Prints a Markdown table and writes --json.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request

TIMED = ("import time\n"
         "for i in range(30):\n"
         "    print('line', i, repr(time.time()), flush=True)\n"
         "    time.sleep(0.05)\n")
HELLO = "print('hello')\n"
CHATTY = ("import time\n"
          "for i in range(5):\n"
          "    print('step', i, flush=True)\n"
          "    time.sleep(0.04)\n")


def request(url, path, body=None, headers=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return urllib.request.urlopen(urllib.request.Request(url + path, data=data, headers=all_headers), timeout=timeout)


def events(response):
    """(event name, data, wall clock when read) for each event of an SSE response."""
    name, data = None, None
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if name is not None:
                yield name, json.loads(data or "null"), time.time()
            name, data = None, None
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()


def live_delays(url):
    with request(url, "/jobs", {"image": "python", "code": TIMED}) as answer:
        job_id = json.loads(answer.read())["job_id"]
    delays = []
    with request(url, f"/jobs/{job_id}/events", headers={"Accept": "text/event-stream"}) as stream:
        for name, data, read_at in events(stream):
            if name == "stdout":
                for line in data["text"].splitlines():
                    parts = line.split()
                    if len(parts) == 3:
                        delays.append((read_at - float(parts[2])) * 1000)
            if name == "result":
                break
    return delays


def throughput(url, code, clients, per_client):
    failures = []

    def client():
        for _ in range(per_client):
            try:
                with request(url, "/run", {"image": "python", "code": code}) as answer:
                    if answer.status != 200:
                        failures.append(answer.status)
            except Exception as error:  # a failed request counts against the figure, and is reported
                failures.append(str(error))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return (clients * per_client - len(failures)) / elapsed, failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="a service with live output on (SQLite)")
    parser.add_argument("--off-url", required=True, help="the same service with LIVE_OUTPUT=off")
    parser.add_argument("--postgres-url", help="a service with live output on, on PostgreSQL")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=15, help="per client and round")
    parser.add_argument("--json")
    args = parser.parse_args()

    report = {"latency": {}, "throughput": {}}
    print("| measure | service | p50 | p95 | n | target |")
    print("|---|---|---|---|---|---|")
    for label, url in [("sqlite", args.url), ("postgres", args.postgres_url)]:
        if not url:
            continue
        delays = []
        for _ in range(3):
            delays += live_delays(url)
        delays.sort()
        p50 = statistics.median(delays)
        p95 = delays[int(0.95 * (len(delays) - 1))]
        report["latency"][label] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "lines": len(delays)}
        print(f"| print → SSE client | {label} | {p50:.1f} ms | {p95:.1f} ms | {len(delays)} | p50 ≤ 50 ms: {'met' if p50 <= 50 else 'MISSED'} |")

    print()
    print("| workload | live on (runs/s) | LIVE_OUTPUT=off (runs/s) | on/off | target |")
    print("|---|---|---|---|---|")
    for name, code in [("hello world", HELLO), ("5 lines, 40 ms apart", CHATTY)]:
        rates = {"on": [], "off": []}
        failed = []
        throughput(args.url, code, 2, 2)  # warm both up
        throughput(args.off_url, code, 2, 2)
        for _ in range(args.rounds):
            for key, url in [("on", args.url), ("off", args.off_url)]:
                rate, failures = throughput(url, code, args.clients, args.requests)
                rates[key].append(rate)
                failed += failures
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        ratio = on / off if off else 0
        report["throughput"][name] = {"on": round(on, 2), "off": round(off, 2), "ratio": round(ratio, 3), "failures": failed[:5]}
        verdict = "met" if ratio >= 0.95 else "MISSED"
        print(f"| {name} | {on:.2f} | {off:.2f} | {ratio:.3f} | ≥ 0.95: {verdict} |" + (f" ({len(failed)} failed)" if failed else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
