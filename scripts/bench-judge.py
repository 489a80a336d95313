#!/usr/bin/env python3
"""Judge mode's benchmark (issue 17), against a running service: `make bench` runs it.

- 100 cases of a Go program that reads a number and prints its double, in one POST /run with
  `tests` (the compile included), against 100 separate POST /run calls of the same program, one
  after the other (each compiles it: that is what a client without judge mode does). Target: the
  judge run >= 20x faster.
- The per-case overhead beyond the program's own run time: ((T(101 cases) - T(1 case)) / 100)
  minus the median case `time` of the 101-case run, where T is the request's wall time seen by
  the client. Repeated --rounds times; the p50 is judged. Targets: <= 3 ms for the compiled Go
  binary, <= 25 ms for Python (`print(2 * int(input()))`).

Prints a Markdown table and writes --json.
"""

import argparse
import json
import statistics
import sys
import time
import urllib.request

GO = """package main

import "fmt"

func main() {
	var n int
	fmt.Scan(&n)
	fmt.Println(2 * n)
}
"""
PYTHON = "print(2 * int(input()))\n"


def post(url, body, timeout=600):
    request = urllib.request.Request(url + "/run", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    return answer, time.monotonic() - started


def cases(count):
    return [{"stdin": f"{i}\n", "expected_output": f"{2 * i}\n"} for i in range(count)]


def judged(url, image, code, count):
    answer, seconds = post(url, {"image": image, "code": code, "timeout": 120, "tests": cases(count)})
    if answer.get("verdict") != "accepted":
        sys.exit(f"bench-judge: {image} judge run not accepted: {json.dumps(answer)[:500]}")
    return answer, seconds


def overhead_ms(url, image, code, rounds):
    """Per-case overhead samples (ms), one per round."""
    samples = []
    for _ in range(rounds):
        _, one = judged(url, image, code, 1)
        answer, many = judged(url, image, code, 101)
        own = statistics.median(case["time"] for case in answer["tests"])
        samples.append(((many - one) / 100 - own) * 1000)
    return samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()

    judged(args.url, "go", GO, 3)  # warm-up: images, the build cache, the pool
    judge_seconds = []
    for _ in range(3):
        judge_seconds.append(judged(args.url, "go", GO, 100)[1])
    separate = 0.0
    for i in range(100):
        answer, seconds = post(args.url, {"image": "go", "code": GO, "stdin": f"{i}\n", "timeout": 120})
        if answer.get("stdout") != f"{2 * i}\n":
            sys.exit(f"bench-judge: separate run {i} answered {json.dumps(answer)[:300]}")
        separate += seconds
    judge_p50 = statistics.median(judge_seconds)
    ratio = separate / judge_p50
    go_overhead = overhead_ms(args.url, "go", GO, args.rounds)
    python_overhead = overhead_ms(args.url, "python", PYTHON, args.rounds)
    results = {
        "go_100_cases_judge_seconds_p50": round(judge_p50, 3),
        "go_100_separate_runs_seconds": round(separate, 3),
        "speedup": round(ratio, 1),
        "go_case_overhead_ms_p50": round(statistics.median(go_overhead), 2),
        "python_case_overhead_ms_p50": round(statistics.median(python_overhead), 2),
        "go_case_overhead_ms_samples": [round(x, 2) for x in go_overhead],
        "python_case_overhead_ms_samples": [round(x, 2) for x in python_overhead],
    }
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    print("| figure | measured | target | |")
    print("|---|---|---|---|")
    print(f"| Go, 100 cases in one judge run (compile included), p50 of 3 | {judge_p50:.3f} s | | |")
    print(f"| Go, 100 separate POST /run | {separate:.3f} s | | |")
    print(f"| speed-up | {ratio:.1f}x | >= 20x | {verdict(ratio >= 20)} |")
    print(f"| per-case overhead, compiled Go binary (p50 of {args.rounds}) | {results['go_case_overhead_ms_p50']} ms | <= 3 ms | {verdict(results['go_case_overhead_ms_p50'] <= 3)} |")
    print(f"| per-case overhead beyond the program, Python (p50 of {args.rounds}) | {results['python_case_overhead_ms_p50']} ms | <= 25 ms | {verdict(results['python_case_overhead_ms_p50'] <= 25)} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
