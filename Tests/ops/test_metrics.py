"""GET /metrics against a running service: every name the README lists is there, with the
documented type, and the figures move with real runs (workers write them to the database,
the API renders them)."""
import re
import time

import pytest

# The README's metrics table: name -> type. Keep the two in step.
DOCUMENTED = {
    "code_runner_http_requests_total": "counter",
    "code_runner_http_request_duration_seconds": "histogram",
    "code_runner_http_requests_in_flight": "gauge",
    "code_runner_runs_total": "counter",
    "code_runner_run_duration_seconds": "histogram",
    "code_runner_queue_wait_seconds": "histogram",
    "code_runner_queue_depth": "gauge",
    "code_runner_queue_jobs": "gauge",
    "code_runner_workers": "gauge",
    "code_runner_worker_slots": "gauge",
    "code_runner_host_workers": "gauge",
    "code_runner_host_slots": "gauge",
    "code_runner_docker_connected_workers": "gauge",
    "code_runner_pool_ready_containers": "gauge",
    "code_runner_prebuild_builds_total": "counter",
    "code_runner_prebuilt_images": "gauge",
    "code_runner_worker_errors_total": "counter",
    "code_runner_last_cleanup_timestamp_seconds": "gauge",
    "code_runner_last_cleanup_removed": "gauge",
    "code_runner_key_runs_total": "counter",
    "code_runner_key_rejections_total": "counter",
    "code_runner_key_queued_jobs": "gauge",
    "code_runner_key_running_jobs": "gauge",
}
# The clean-up gauges appear once a clean-up ran (the first fires 10 s after a worker starts);
# the per-key rejections once a key's limit refused a request (this suite's key has none:
# Tests/ops/test_tenancy.py checks them).
APPEAR_LATER = {"code_runner_last_cleanup_timestamp_seconds", "code_runner_last_cleanup_removed",
                "code_runner_key_rejections_total"}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """{family: type}, and [(name, labels dict, value)] — failing on any malformed line."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in types, f"family {name} declared twice"
            types[name] = kind
        elif line.startswith("#") or not line:
            continue
        else:
            m = SAMPLE.match(line)
            assert m, f"malformed sample line: {line!r}"
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def scrape(session, url):
    r = session.get(url + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def value(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items()))


def run(session, url, code, **extra):
    r = session.post(url + "/run", json={"image": "python", "code": code, **extra}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def scrape_until(session, url, condition, seconds=10):
    """Workers add their figures to the database about once a second: scrape until they show."""
    deadline = time.monotonic() + seconds
    while True:
        types, samples = scrape(session, url)
        if condition(samples) or time.monotonic() > deadline:
            return types, samples
        time.sleep(0.2)


def test_metrics_need_the_api_key(url):
    import requests
    assert requests.get(url + "/metrics", timeout=10).status_code == 401


def test_every_documented_name_has_its_type(session, url):
    run(session, url, "print('hello')")
    types, samples = scrape_until(session, url, lambda s: value(s, "code_runner_runs_total") > 0)
    for name, kind in DOCUMENTED.items():
        if name in APPEAR_LATER and name not in types:
            continue
        assert types.get(name) == kind, f"{name}: declared {types.get(name)!r}, documented {kind!r}"
    # Nothing undocumented: a new metric needs a README line.
    undocumented = set(types) - set(DOCUMENTED) - {"code_runner_http_request_errors_total"}
    assert not undocumented, f"metrics missing from the README table: {sorted(undocumented)}"


def settled(session, url):
    """A scrape once every run finished so far is counted (the suite's only key made them all)."""
    jobs = session.get(url + "/jobs", params={"status": "completed", "limit": 500}, timeout=10).json()["jobs"]
    _, samples = scrape_until(session, url, lambda s: value(s, "code_runner_runs_total") >= len(jobs))
    assert value(samples, "code_runner_runs_total") == len(jobs)
    return samples


def test_runs_are_counted_by_runtime_and_outcome(session, url):
    before = settled(session, url)
    assert run(session, url, "print('ok')")["exit_code"] == 0
    assert run(session, url, "import sys; sys.exit(4)")["exit_code"] == 4
    timed_out = run(session, url, "while True: pass", timeout=1)
    assert timed_out["timed_out"] is True
    oom = run(session, url, "b = bytearray(200 * 1024 * 1024); print(len(b))", mem_limit="64m")
    assert oom["oom_killed"] is True, oom

    def grew(samples):
        return all(value(samples, "code_runner_runs_total", runtime="python", outcome=o)
                   > value(before, "code_runner_runs_total", runtime="python", outcome=o)
                   for o in ("ok", "nonzero", "timeout", "oom"))
    _, after = scrape_until(session, url, grew)
    for outcome in ("ok", "nonzero", "timeout", "oom"):
        assert (value(after, "code_runner_runs_total", runtime="python", outcome=outcome)
                == value(before, "code_runner_runs_total", runtime="python", outcome=outcome) + 1), outcome
    # The histograms saw the same four runs, and their buckets are cumulative up to +Inf == count.
    for family in ("code_runner_run_duration_seconds", "code_runner_queue_wait_seconds"):
        count = value(after, family + "_count", runtime="python")
        assert count - value(before, family + "_count", runtime="python") == 4
        buckets = sorted(((float(l["le"]), v) for n, l, v in after
                          if n == family + "_bucket" and l.get("runtime") == "python"))
        assert buckets[-1] == (float("inf"), count)
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    # The timed-out run took at least its 1 s limit.
    assert value(after, "code_runner_run_duration_seconds_sum", runtime="python") >= 1


def test_requests_are_counted_by_route_and_status(session, url):
    _, before = scrape(session, url)
    assert session.get(url + "/jobs/not-a-job", timeout=10).status_code == 404
    assert session.post(url + "/run", json={"image": "cobol", "code": "x"}, timeout=10).status_code == 404
    _, after = scrape_until(session, url, lambda s: value(s, "code_runner_http_requests_total", route="/jobs/{id}", status="404")
                            > value(before, "code_runner_http_requests_total", route="/jobs/{id}", status="404"))
    assert (value(after, "code_runner_http_requests_total", route="/jobs/{id}", method="GET", status="404")
            == value(before, "code_runner_http_requests_total", route="/jobs/{id}", method="GET", status="404") + 1)
    assert (value(after, "code_runner_http_requests_total", route="/run", method="POST", status="404")
            == value(before, "code_runner_http_requests_total", route="/run", method="POST", status="404") + 1)


def test_worker_figures_come_through_the_database(session, url):
    _, samples = scrape(session, url)
    assert value(samples, "code_runner_workers") >= 1
    assert value(samples, "code_runner_worker_slots", state="total") >= value(samples, "code_runner_workers")
    assert value(samples, "code_runner_docker_connected_workers") >= 1
