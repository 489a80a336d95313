"""Logs with LOG_FORMAT=json (scripts/run-ops-tests.sh starts the service so): every line of
the API's and the workers' output is one JSON object, and each finished job has exactly one
line with its id, runtime, outcome and timings."""
import json
import time


def read_log(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().splitlines() if line.strip()]


def finished_lines(path, job_id):
    return [e for e in map(json.loads, read_log(path)) if e.get("msg") == "job finished" and e.get("job") == job_id]


def test_every_line_is_a_json_object(session, url, service_log):
    session.post(url + "/run", json={"image": "python", "code": "print(1)"}, timeout=60)
    lines = read_log(service_log)
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), line


def test_one_line_per_job_with_id_runtime_outcome_and_timings(session, url, service_log):
    r = session.post(url + "/run", json={"image": "python", "code": "import sys; sys.exit(2)"}, timeout=60)
    assert r.status_code == 200
    job_id = r.json()["job_id"]
    # The worker logs right after storing the result; the API may answer a moment earlier.
    deadline = time.monotonic() + 10
    while not finished_lines(service_log, job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = finished_lines(service_log, job_id)
    assert len(lines) == 1, lines
    entry = lines[0]
    assert entry["runtime"] == "python"
    assert entry["outcome"] == "nonzero"
    assert entry["exit_code"] == "2"
    assert int(entry["run_ms"]) > 0
    assert int(entry["queue_wait_ms"]) >= 0
    assert entry["level"] == "info"
