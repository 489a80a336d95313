#!/usr/bin/env python3
"""Warm `POST /run` latency of python, node, bun and deno with pre-started interpreters (issue 20),
against the old warm path: two services set up alike but for POOL_PRESTART (on: --url, off:
--off-url), measured in one run, rounds interleaved (every round runs each runtime once on each
service, the order rotating). Each runtime's first runs warm its pool up and are not counted.

A warm run's latency is that of an interactive user on a quiet service: before every measured
run the bench waits until the machine's warm containers (label code-runner.job=pool, asked of the
engine's socket) are as many as after the warm-up, i.e. the previous runs' refills are done and
the engine is idle again. Without that wait each run would share the 2 vCPUs with the refill of
the one before (a container created and started, an interpreter started), which is the pool's
cost under load, measured by the throughput figures instead.

Targets (issue 20): python p50 <= 20 ms and <= 0.6 x the old warm path; node, bun, deno p50 <= 30 ms.
Prints a Markdown table; --json writes the samples and the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import time
import urllib.parse
import urllib.request

PROGRAMS = {
    "python": "print(sum(range(1, 101)))",
    "node": "console.log([...Array(101).keys()].reduce((a, b) => a + b))",
    "bun": "console.log([...Array(101).keys()].reduce((a, b) => a + b))",
    "deno": "console.log([...Array(101).keys()].reduce((a, b) => a + b))",
}
TARGET_MS = {"python": 20.0, "node": 30.0, "bun": 30.0, "deno": 30.0}
PYTHON_RATIO_TARGET = 0.6


class EngineSocket(http.client.HTTPConnection):
    """HTTP over the Docker engine's unix socket."""

    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def warm_containers(docker_socket: str) -> int:
    """How many warm containers run on this engine now (any service's)."""
    filters = urllib.parse.quote(json.dumps({"label": ["code-runner.job=pool"], "status": ["running"]}))
    connection = EngineSocket(docker_socket)
    try:
        connection.request("GET", f"/containers/json?filters={filters}")
        return len(json.load(connection.getresponse()))
    finally:
        connection.close()


def wait_for_full_pools(docker_socket: str, full: int, limit: float = 30.0) -> None:
    """Until `full` warm containers run again (at most `limit` seconds: then on, noted)."""
    deadline = time.monotonic() + limit
    while warm_containers(docker_socket) < full:
        if time.monotonic() > deadline:
            print(f"(bench-prestart: the pools did not refill to {full} within {limit:.0f} s)")
            return


def post_run(base: str, key: str | None, runtime: str) -> float:
    body = json.dumps({"image": runtime, "code": PROGRAMS[runtime]}).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["X-API-Key"] = key
    request = urllib.request.Request(base + "/run", data=body, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.load(response)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.get("stdout") != "5050\n":
        raise SystemExit(f"bench-prestart: {runtime} on {base} answered {answer}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="service with POOL_PRESTART=on (the default)")
    parser.add_argument("--off-url", required=True, help="the same service with POOL_PRESTART=off")
    parser.add_argument("--api-key")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--docker-socket", default="/var/run/docker.sock")
    parser.add_argument("--json")
    args = parser.parse_args()
    services = [("on", args.url), ("off", args.off_url)]
    cells = [(runtime, name, url) for runtime in PROGRAMS for name, url in services]
    samples: dict[str, dict[str, list[float]]] = {runtime: {"on": [], "off": []} for runtime in PROGRAMS}
    full = 0
    for round_number in range(args.warmup + args.runs):
        if round_number == args.warmup:
            # the pools of every runtime on both services are in use now: their size when refilled
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                count = warm_containers(args.docker_socket)
                if count == full and count > 0:
                    break
                full = max(full, count)
                time.sleep(0.5)  # pacing: a count that holds for half a second is the full one
        for offset in range(len(cells)):
            runtime, name, url = cells[(round_number + offset) % len(cells)]
            if round_number >= args.warmup:
                wait_for_full_pools(args.docker_socket, full)
            milliseconds = post_run(url, args.api_key, runtime)
            if round_number >= args.warmup:
                samples[runtime][name].append(milliseconds)

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q))]

    figures = {}
    print("| warm POST /run | prestart on p50 ms | p95 ms | prestart off (old warm path) p50 ms | p95 ms | on / off | target | PASS/MISS |")
    print("|---|---|---|---|---|---|---|---|")
    for runtime in PROGRAMS:
        on, off = samples[runtime]["on"], samples[runtime]["off"]
        on50, off50 = statistics.median(on), statistics.median(off)
        ratio = on50 / off50 if off50 else 0
        passed = on50 <= TARGET_MS[runtime] and (runtime != "python" or ratio <= PYTHON_RATIO_TARGET)
        target = f"≤ {TARGET_MS[runtime]:.0f} ms" + (f" and ≤ {PYTHON_RATIO_TARGET} ×" if runtime == "python" else "")
        print(f"| {runtime} | {on50:.1f} | {p(on, 0.95):.1f} | {off50:.1f} | {p(off, 0.95):.1f} | {ratio:.2f} | {target} | {'PASS' if passed else 'MISS'} |")
        figures[runtime] = {"on_p50": on50, "on_p95": p(on, 0.95), "off_p50": off50, "off_p95": p(off, 0.95), "ratio": ratio, "pass": passed}
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"figures": figures, "samples": samples}, out, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
