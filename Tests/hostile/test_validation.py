"""Limits are validated before anything runs: out-of-range values are a 422 naming the field."""

import time

import pytest

# refused before anything runs: /health after each test, one normal run after the module
NORMAL_RUN_PER_MODULE = True

CASES = [
    ("timeout", 0),
    ("timeout", -5),
    ("timeout", 301),
    ("timeout", 10**9),
    ("mem_limit", "5m"),
    ("mem_limit", "3g"),
    ("mem_limit", "0"),
    ("mem_limit", ""),
    ("mem_limit", "-1"),
    ("mem_limit", "256m,foo"),
    ("disk_limit", "10m,mode=777"),
    ("disk_limit", "0"),
    ("disk_limit", "10m,suid,dev"),
    ("disk_limit", ""),
    ("disk_limit", "6g"),
    ("cpus", 0),
    ("cpus", 5),
    ("cpus", -1),
    ("cpu_shares", 1),
    ("cpu_shares", 262145),
]


@pytest.mark.parametrize("field, value", CASES, ids=[f"{f}={v!r}" for f, v in CASES])
@pytest.mark.parametrize("path", ["/run", "/jobs"])
def test_out_of_range_limits_are_422_naming_the_field(service, record, field, value, path):
    body = {"code": "print('must not run')", field: value}
    t0 = time.monotonic()
    r = service.post(path, body)
    seconds = time.monotonic() - t0
    if path == "/run":
        record(f"{field}={value!r}", r, seconds)
    assert r.status_code == 422, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    assert any(field in [str(part) for part in issue.get("loc", [])] for issue in detail), detail
    assert all(isinstance(issue.get("msg"), str) and issue["msg"] for issue in detail), detail


def test_limits_at_the_edges_are_accepted(service, record):
    body = {"code": "print('edge')", "timeout": 300, "mem_limit": "6m", "disk_limit": "1m",
            "cpus": 0.01, "cpu_shares": 2}
    r, seconds = service.run(body)
    record("edge values (6m memory, 1m disk, 0.01 cpus, 300 s)", r, seconds)
    assert r.status_code == 200, r.text
    # 6 MiB is too little for CPython to start reliably; what matters is that it was accepted and ran
    assert r.json()["timed_out"] is False
