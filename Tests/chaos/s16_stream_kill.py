#!/usr/bin/env python3
"""stream-kill: a worker killed with -9 while a client watches its job's event stream.

One API, one worker (LEASE_SECONDS=3). The job prints `tick <n> <unix time>` every 0.1 s, 40
times. A client reads GET /jobs/{id}/events. After the first stdout events of attempt 1 the
worker is killed -9 and a fresh one started; the job reruns when its lease expires. A second
client opens the stream from the start after the job ended, and a third resumes it with the
Last-Event-ID of an event in the middle of attempt 2's output.

Holds when: the live stream shows queued/running 1, stdout of attempt 1, then `running` with
attempt 2 and retry true, attempt 2's stdout from offset 0 with offsets adding up and ids that
are the cursors after each event, `finished` completed and a `result` whose stdout is exactly
attempt 2's streamed stdout; the replay gives the same attempt-2 stdout; the resumed stream
gives exactly the rest, nothing repeated. Reports the live latency of the lines it timed (the
time printed by the program to the time the client read it: p50 and p95).
"""
import json
import sys
import threading
import time

from chaoslib import Context, main, now, percentile, wait_until

LINES = 40


def code() -> str:
    return ("import time\n"
            f"for i in range({LINES}):\n"
            "    print('tick', i, repr(time.time()), flush=True)\n"
            "    time.sleep(0.1)\n")


def read_events(svc, job_id: str, last_event_id: str | None = None, on_event=None) -> list[dict]:
    """Every event of the stream until it ends: name, id, data (parsed) and when it was read."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict] = []
    with svc.http.get(f"{svc.url}/jobs/{job_id}/events", headers=headers, stream=True, timeout=(5, 120)) as response:
        response.raise_for_status()
        current: dict = {}
        for raw in response.iter_lines(decode_unicode=True):
            if raw is None:
                continue
            if raw == "":
                if current:
                    current["at"] = now()
                    current["wall"] = time.time()
                    current["data"] = json.loads(current.get("data", "null"))
                    events.append(current)
                    if on_event:
                        on_event(current)
                current = {}
                continue
            if raw.startswith(":"):
                continue
            field, _, value = raw.partition(":")
            current[field] = value[1:] if value.startswith(" ") else value
    return events


def check_offsets(ctx: Context, events: list[dict], attempt: int, what: str) -> str:
    """The stdout of `attempt` in `events`, checking that offsets add up and ids are cursors."""
    text = ""
    for event in events:
        if event.get("event") != "stdout" or event["data"].get("attempt") != attempt:
            continue
        ctx.check(event["data"]["offset"] == len(text.encode()), f"{what}: offset {event['data']['offset']} after {len(text.encode())} bytes")
        text += event["data"]["text"]
        cursor = event["id"].split(":")
        ctx.check(cursor[0] == str(attempt) and cursor[1] == str(len(text.encode())), f"{what}: id {event['id']} after {len(text.encode())} bytes")
    return text


def run(ctx: Context) -> None:
    svc = ctx.service(lease=3)
    svc.start_api()
    svc.start_worker("s1")
    svc.wait_workers(1)

    job_id = svc.submit_ok(code(), timeout_s=30)
    seen_attempt_1 = threading.Event()

    def on_event(event: dict) -> None:
        if event.get("event") == "stdout" and event["data"].get("attempt") == 1 and event["data"]["text"].count("tick") >= 1:
            seen_attempt_1.set()

    live: list[dict] = []
    reader = threading.Thread(target=lambda: live.extend(read_events(svc, job_id, on_event=on_event)), daemon=True)
    reader.start()
    wait_until(seen_attempt_1.is_set, 60, "the first stdout event of attempt 1")
    svc.kill9_worker("s1")
    killed_at = now()
    svc.start_worker("s2")
    reader.join(timeout=120)
    ctx.check(not reader.is_alive(), "the live stream did not end within 120 s")
    ctx.metric("rerun_after_kill_s", round(next((e["at"] for e in live if e.get("event") == "status"
                                                 and e["data"].get("attempt") == 2), now()) - killed_at, 2))

    names = [(e.get("event"), e["data"].get("status") if e.get("event") == "status" else None) for e in live]
    statuses = [e["data"] for e in live if e.get("event") == "status"]
    ctx.check(names[0] in (("status", "queued"), ("status", "running")), f"first event {names[:1]}")
    ctx.check(any(s.get("status") == "running" and s.get("attempt") == 1 for s in statuses), f"no running attempt 1 in {statuses}")
    retry = [s for s in statuses if s.get("attempt") == 2]
    ctx.check(bool(retry) and retry[0].get("retry") is True, f"attempt 2 not marked as a retry: {statuses}")
    ctx.check(statuses[-1].get("status") == "finished" and statuses[-1].get("state") == "completed", f"last status {statuses[-1:]}")
    ctx.check(live[-1].get("event") == "result", f"last event {live[-1:]}")
    first_text = check_offsets(ctx, live, 1, "live attempt 1")
    ctx.check(first_text.startswith("tick 0 "), f"attempt 1 output {first_text[:80]!r}")
    second_text = check_offsets(ctx, live, 2, "live attempt 2")
    result = live[-1]["data"].get("result") or {}
    ctx.check(result.get("stdout") == second_text, "the result's stdout differs from attempt 2's streamed stdout")
    ctx.check(second_text.count("tick") == LINES, f"attempt 2 streamed {second_text.count('tick')} lines, not {LINES}")
    ctx.check(live[-1]["data"].get("attempts") == 2, f"job attempts {live[-1]['data'].get('attempts')}")

    # latency: the program's own clock at print time to the client's at read time (same machine)
    delays = []
    for event in live:
        if event.get("event") != "stdout" or event["data"].get("attempt") != 2:
            continue
        for line in event["data"]["text"].splitlines():
            parts = line.split()
            if len(parts) == 3:
                delays.append((event["wall"] - float(parts[2])) * 1000)
    if delays:
        ctx.metric("live_line_latency_p50_ms", round(percentile(delays, 50), 1))
        ctx.metric("live_line_latency_p95_ms", round(percentile(delays, 95), 1))

    replay = read_events(svc, job_id)
    ctx.check(check_offsets(ctx, replay, 2, "replay") == second_text, "the replay's stdout differs from the live one")
    ctx.check(replay[-1].get("event") == "result", "the replay did not end with the result")

    middle = [e for e in live if e.get("event") == "stdout" and e["data"].get("attempt") == 2]
    if len(middle) >= 2:
        cut = middle[len(middle) // 2]
        sent = int(cut["id"].split(":")[1])
        resumed = read_events(svc, job_id, last_event_id=cut["id"])
        rest = "".join(e["data"]["text"] for e in resumed if e.get("event") == "stdout")
        ctx.check(rest == second_text.encode()[sent:].decode(), "the resumed stream is not exactly the rest of the output")
        ctx.check(not any(e.get("event") == "status" and e["data"].get("status") == "running" for e in resumed),
                  "the resumed stream repeated a running status")
        ctx.check(resumed[-1].get("event") == "result", "the resumed stream did not end with the result")
    else:
        ctx.check(False, f"attempt 2 came in {len(middle)} stdout events: nothing to resume in the middle of")
    ctx.count({job_id: svc.job(job_id)})


if __name__ == "__main__":
    sys.exit(main("stream-kill", run))
