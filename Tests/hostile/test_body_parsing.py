"""Request bodies cannot pin a core (security review, issue 22): credentials are checked before
the body is read, and the JSON parser is strict, linear in the body's size and refuses nesting
deeper than 64 levels. Before the fix a 1 KB body nested 450 deep cost about a second of CPU
for a 401, and a 1.6 MB one kept the API busy for over half an hour."""

import json
import threading
import time

import requests

# refused before anything runs, except the duplicate-key run: /health after each test, one
# normal run after the module
NORMAL_RUN_PER_MODULE = True

DEPTH_LIMIT = 64


def deep_body(depth: int) -> bytes:
    """A /run body whose `files` is `depth` arrays and objects nested in one another."""
    opening, closing = "", ""
    for level in range(depth):
        if level % 2:
            opening, closing = opening + '{"a":', "}" + closing
        else:
            opening, closing = opening + "[", "]" + closing
    return ('{"code": "print(1)", "files": ' + opening + "1" + closing + "}").encode()


HUGE_DEEP = b"[" * 800_000 + b"]" * 800_000  # 1.6 MB


class HealthProbe(threading.Thread):
    """GETs /health in a loop until stopped; keeps (start, latency) of every answer."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, float]] = []
        self.failures: list[str] = []
        self.first_answer = threading.Event()
        self.stop = threading.Event()

    def run(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                t0 = time.monotonic()
                try:
                    r = session.get(self.url + "/health", timeout=10)
                    if r.status_code != 200:
                        self.failures.append(f"{r.status_code} {r.text[:100]}")
                except requests.RequestException as error:
                    self.failures.append(repr(error))
                self.samples.append((t0, time.monotonic() - t0))
                self.first_answer.set()


def test_anonymous_deep_bodies_are_401_at_once_and_health_stays_fast(service, record):
    bodies = [deep_body(450 + i) for i in range(100)] + [HUGE_DEEP]
    probe = HealthProbe(service.url)
    probe.start()
    assert probe.first_answer.wait(10), "no /health answer before the flood"
    statuses = []
    with requests.Session() as session:
        flood_start = time.monotonic()
        for index, body in enumerate(bodies):
            path = "/run" if index % 2 == 0 else "/jobs"
            r = session.post(service.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            statuses.append(r.status_code)
        flood_end = time.monotonic()
    probe.stop.set()
    probe.join(15)
    flood_seconds = flood_end - flood_start
    during = [latency for start, latency in probe.samples if start < flood_end and start + latency > flood_start]
    worst = max(during, default=None)
    record(f"{len(bodies)} anonymous deep bodies (450-549 levels, one 1.6 MB)", {"statuses": sorted(set(statuses))},
           flood_seconds, health_samples_during=len(during), worst_health_seconds=worst)
    assert statuses == [401] * len(bodies), statuses
    assert flood_seconds < 1.0, f"{len(bodies)} anonymous bodies took {flood_seconds:.2f}s"
    assert not probe.failures, probe.failures[:5]
    assert during, "no /health request overlapped the flood"
    assert worst < 0.5, f"/health took {worst:.2f}s during the flood"


def test_authenticated_huge_deep_body_is_422_naming_the_limit_at_once(service, record):
    t0 = time.monotonic()
    r = service.post("/run", data=HUGE_DEEP, headers={**service_headers(), "Content-Type": "application/json"})
    seconds = time.monotonic() - t0
    record("1.6 MB nested body with a valid key", r, seconds)
    assert r.status_code == 422, (r.status_code, r.text[:300])
    issue = r.json()["detail"][0]
    assert issue["type"] == "json_invalid", issue
    assert issue["ctx"]["error"] == f"JSON nesting deeper than {DEPTH_LIMIT} levels", issue
    assert issue["loc"] == ["body", DEPTH_LIMIT], issue
    assert seconds < 1.0, f"took {seconds:.2f}s"


def test_depth_limit_boundary(service, record):
    # `files` at depth 2..: 63 levels below the body's object is 64 in all (valid JSON, wrong
    # type for `files`), one more is refused by the parser
    at_limit = service.post("/run", data=deep_body(DEPTH_LIMIT - 1), headers=service_headers())
    over = service.post("/run", data=deep_body(DEPTH_LIMIT), headers=service_headers())
    record("body nested 64 / 65 levels", over, None, at_limit=at_limit.status_code)
    assert at_limit.status_code == 422, at_limit.text[:300]
    assert all(issue["type"] != "json_invalid" for issue in at_limit.json()["detail"]), at_limit.text[:300]
    assert over.status_code == 422, over.text[:300]
    assert over.json()["detail"][0]["ctx"]["error"] == f"JSON nesting deeper than {DEPTH_LIMIT} levels"


def test_trailing_comma_is_422(service, record):
    for path in ("/run", "/jobs"):
        r = service.post(path, data=b'{"code": "print(\'must not run\')",}', headers=service_headers())
        record(f"trailing comma on {path}", r, None)
        assert r.status_code == 422, (r.status_code, r.text[:300])
        issue = r.json()["detail"][0]
        assert issue["type"] == "json_invalid", issue
        assert issue["ctx"]["error"] == "Illegal trailing comma before end of object", issue


def test_strict_json_is_422(service, record):
    cases = [b'{"code": "print(1)", "timeout": NaN}', b'{"code": "print(1)"} // comment',
             b"{'code': 'print(1)'}", b'{"code": "print(1)", "timeout": 05}', b'{"code": "\\ud800"}',
             b'{"code": "\xff"}', b'{"code": "print(1)"}{}']
    for body in cases:
        r = service.post("/run", data=body, headers=service_headers())
        record(f"strict JSON {body[:40]!r}", r, None)
        assert r.status_code == 422, (body, r.status_code, r.text[:300])
        assert r.json()["detail"][0]["type"] == "json_invalid", (body, r.text[:300])


def test_duplicate_keys_last_wins(service, record):
    body = b'{"code": "print(1)", "code": "print(2)", "timeout": 20}'
    t0 = time.monotonic()
    r = service.post("/run", data=body, headers=service_headers(), timeout=90)
    record("duplicate code keys", r, time.monotonic() - t0)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["stdout"] == "2\n", r.json()


def service_headers() -> dict:
    """The key of the instance under test (conftest's API_KEY) and a JSON content type."""
    return {"X-API-Key": "hostile-key", "Content-Type": "application/json"}
