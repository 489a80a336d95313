#!/usr/bin/env python3
"""Holds N POST /run requests open against an API whose only worker never claims (so every
request waits), until the queue shows all N, then prints the API's resident memory (VmRSS,
VmHWM) and closes them.

    scripts/bench-waiting.py --url http://127.0.0.1:PORT --api-pid PID --database FILE [--requests 1000]

Start the API alone on its own database with MAX_QUEUE_DEPTH above N; this script registers a
stand-in worker row there (heartbeat an hour ahead, Docker connected, the python image), which
is what the API checks before it accepts a run.

Used by scripts/bench.sh (issue 7: API RSS with 1,000 waiting requests); asyncio raw sockets,
one connection per request, so the client itself stays small."""
import argparse
import asyncio
import json
import sqlite3
import sys
import time
import urllib.request


def rss(pid):
    figures = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                figures[key] = int(value.split()[0]) / 1024
    return figures


def register_idle_worker(database):
    db = sqlite3.connect(database, timeout=10)
    db.execute("""INSERT OR REPLACE INTO workers (id, pid, host, started_at, heartbeat_at, slots, busy,
                  draining, docker_connected, engine_version, images)
                  VALUES ('bench-idle', 0, 'bench', 0, (julianday('now') - 2440587.5) * 86400.0 + 3600,
                          0, 0, 0, 1, 'bench', '["code-runner-python"]')""")
    db.commit()
    db.close()


def queued(url):
    with urllib.request.urlopen(url + "/health", timeout=10) as r:
        return json.load(r)["queue"]["queued"]


async def hold(host, port, body, opened, release):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write((f"POST /run HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    await writer.drain()
    opened.append(1)
    await release.wait()
    writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-pid", type=int, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()
    host, port = args.url.split("//")[1].split(":")
    body = json.dumps({"image": "python", "code": "print('waiting')"}).encode()
    deadline = time.monotonic() + 60
    while True:  # the API has created the database once it answers
        try:
            queued(args.url)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    register_idle_worker(args.database)
    before = rss(args.api_pid)
    release, opened = asyncio.Event(), []
    tasks = [asyncio.create_task(hold(host, int(port), body, opened, release)) for _ in range(args.requests)]
    deadline = time.monotonic() + 120
    while queued(args.url) < args.requests:
        if time.monotonic() > deadline:
            print(f"only {queued(args.url)} of {args.requests} requests queued", file=sys.stderr)
            return 1
        await asyncio.sleep(0.2)
    during = rss(args.api_pid)
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"- API RSS idle {before['VmRSS']:.1f} MB; with {args.requests} waiting POST /run: "
          f"{during['VmRSS']:.1f} MB (peak {during['VmHWM']:.1f} MB)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"requests": args.requests, "idle_rss_mb": before["VmRSS"],
                       "waiting_rss_mb": during["VmRSS"], "peak_rss_mb": during["VmHWM"]}, f)
    return 0


sys.exit(asyncio.run(main()))
