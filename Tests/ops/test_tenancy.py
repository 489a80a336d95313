"""Named API keys from API_KEYS_FILE (issue 19), black-box, against a service of this module's own
(scripts/with-service.sh, with API_KEYS_FILE set and no other credentials): either header
authenticates a file key, a key's limits answer 422/429 as documented, `priority` is bounded
by the key's and orders its own jobs, the file is reloaded when it is replaced (and a malformed
replacement keeps the last good keys, with /health saying why), /metrics counts by key name and
never shows a key, one key never sees another's jobs, and a malformed file at start stops the
API with one line."""
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("BIN_DIR", ROOT / ".build" / "release"))
SECRETS = {name: f"tenancy-{name}-{secrets.token_hex(12)}"
           for name in ("tenant-a", "tenant-b", "limited", "queue-limited", "rate", "ordered", "added")}
DIGESTS = {name: hashlib.sha256(secret.encode()).hexdigest() for name, secret in SECRETS.items()}
KEYS = [
    {"name": "tenant-a", "key": SECRETS["tenant-a"]},
    {"name": "tenant-b", "sha256": DIGESTS["tenant-b"]},  # a hash, not the key
    {"name": "limited", "key": SECRETS["limited"], "max_timeout": 2, "max_memory_mb": 128, "max_cpus": 0.5,
     "priority": 3},
    {"name": "queue-limited", "key": SECRETS["queue-limited"], "max_running": 1, "max_queued": 1},
    {"name": "rate", "key": SECRETS["rate"], "runs_per_minute": 2},
    {"name": "ordered", "key": SECRETS["ordered"], "max_running": 1},
]
ADDED = {"name": "added", "key": SECRETS["added"]}
SLEEP = "import time; time.sleep(60)"
NO_NETWORK = "This API key may not use the network (allow_network is false in API_KEYS_FILE)"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def write_keys(path, content):
    """Replaces the file as an editor does: a temporary file in the same directory renamed over it."""
    text = content if isinstance(content, str) else json.dumps({"keys": content})
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Service:
    def __init__(self, url, keys_path, log):
        self.url, self.keys_path, self.log = url, keys_path, log

    def call(self, method, path, name=None, bearer=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if name:
            headers["X-API-Key"] = SECRETS[name]
        if bearer:
            headers["Authorization"] = f"Bearer {SECRETS[bearer]}"
        return requests.request(method, self.url + path, headers=headers, timeout=kwargs.pop("timeout", 90), **kwargs)

    def run(self, name, **body):
        return self.call("POST", "/run", name, json={"image": "python", **body})

    def submit(self, name, **body):
        return self.call("POST", "/jobs", name, json={"image": "python", **body})

    def job(self, name, job_id):
        answer = self.call("GET", f"/jobs/{job_id}", name)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def job_ids(self, name):
        answer = self.call("GET", "/jobs", name, params={"limit": 500})
        assert answer.status_code == 200, answer.text
        return {job["job_id"] for job in answer.json()["jobs"]}

    def api_keys(self):
        answer = requests.get(self.url + "/health", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["api_keys"]

    def scrape(self):
        """{family: type} and [(name, labels, value)] of GET /metrics, with the raw text."""
        answer = self.call("GET", "/metrics", "tenant-a", timeout=10)
        assert answer.status_code == 200, answer.text
        types, samples = {}, []
        for line in answer.text.splitlines():
            if line.startswith("# TYPE "):
                _, _, family, kind = line.split(" ", 3)
                types[family] = kind
            elif line and not line.startswith("#"):
                match = SAMPLE.match(line)
                assert match, f"malformed sample line: {line!r}"
                labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
                samples.append((match.group(1), labels, float(match.group(3))))
        return types, samples, answer.text


def value(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items()))


def wait_until(condition, seconds, what):
    """Polls `condition` (a black-box check: there is no event to wait on) until it holds."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.1)


def rejections(service, name, limit):
    return value(service.scrape()[1], "code_runner_key_rejections_total", key=name, limit=limit)


def assert_rejection_counted(service, name, limit, before):
    """The counter rose by exactly one (polled: it may be read from the database at scrape)."""
    wait_until(lambda: rejections(service, name, limit) >= before + 1, 10, f"rejections_total{{{name}, {limit}}}")
    assert rejections(service, name, limit) == before + 1


def issue_at(answer, field):
    """The one 422 issue at ["body", field]."""
    assert answer.status_code == 422, answer.text
    issues = [i for i in answer.json()["detail"] if i.get("loc") == ["body", field]]
    assert len(issues) == 1, answer.text
    return issues[0]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """A service of its own (scripts/with-service.sh: own port, database and work directory) with
    API_KEYS_FILE and no environment keys; stopped, and its leftovers checked, at the end."""
    directory = tmp_path_factory.mktemp("tenancy")
    keys_path = directory / "api-keys.json"
    write_keys(keys_path, KEYS)
    env_file, output = directory / "service.env", directory / "with-service.out"
    env = dict(os.environ, SERVICE_API_KEYS="", SERVICE_ENV=f"API_KEYS_FILE={keys_path}")
    # The command holds the service until its stdin closes, after writing where it is.
    command = ["bash", str(ROOT / "scripts" / "with-service.sh"), "bash", "-c",
               'env | grep "^SERVICE_" >"$0.tmp" && mv "$0.tmp" "$0" && { read -r _ || :; }', str(env_file)]
    with open(output, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: env_file.exists() or process.poll() is not None, 300, "the tenancy service")
        if not env_file.exists():
            pytest.fail(f"the tenancy service did not start:\n{output.read_text()[-4000:]}")
        started = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
        yield Service(started["SERVICE_URL"], keys_path, Path(started["SERVICE_LOG"]))
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.terminate()  # with-service.sh's EXIT trap stops the service
            process.wait(timeout=60)
    # with-service.sh says so when the stopped service left a network, proxy or egress chain behind
    leftovers = [line for line in output.read_text().splitlines() if "the stopped service left" in line]
    assert not leftovers, leftovers


def test_a_file_key_works_with_either_header(service):
    assert service.call("GET", "/jobs").status_code == 401
    by_header = service.run("tenant-a", code="print(1)")
    assert by_header.status_code == 200, by_header.text
    assert by_header.json()["stdout"] == "1\n"
    by_bearer = service.call("POST", "/run", bearer="tenant-a", json={"image": "python", "code": "print(2)"})
    assert by_bearer.status_code == 200, by_bearer.text
    assert by_bearer.json()["stdout"] == "2\n"
    # one owner whichever header: a job made with X-API-Key is the Bearer caller's too
    assert service.call("GET", f"/jobs/{by_header.json()['job_id']}", bearer="tenant-a").status_code == 200
    assert service.call("GET", f"/jobs/{by_bearer.json()['job_id']}", "tenant-a").status_code == 200
    # a key listed by its sha256 works with both headers
    assert service.run("tenant-b", code="print(3)").json()["stdout"] == "3\n"
    assert service.call("GET", "/jobs", bearer="tenant-b").status_code == 200


def test_a_wrong_key_is_refused(service):
    wrong = service.call("GET", "/jobs", headers={"X-API-Key": "not-" + SECRETS["tenant-a"]})
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["detail"] == "Invalid API Key"
    # the hash of a sha256 entry is not itself a key
    assert service.call("GET", "/jobs", headers={"X-API-Key": DIGESTS["tenant-b"]}).status_code == 403
    assert service.call("GET", "/jobs", headers={"Authorization": "Bearer nope"}).status_code in (401, 403)


def test_max_timeout(service):
    before = rejections(service, "limited", "max_timeout")
    issue = issue_at(service.submit("limited", code="print(1)", timeout=3), "timeout")
    assert issue["type"] == "less_than_equal"
    assert issue["msg"] == "Input should be less than or equal to 2 (this API key's max_timeout)"
    assert_rejection_counted(service, "limited", "max_timeout", before)
    assert service.submit("limited", code="print(1)", timeout=2).status_code == 202


def test_max_memory_mb(service):
    before = rejections(service, "limited", "max_memory_mb")
    issue = issue_at(service.submit("limited", code="print(1)", mem_limit="256m"), "mem_limit")
    assert "less than or equal to 128m (this API key's max_memory_mb)" in issue["msg"], issue
    assert_rejection_counted(service, "limited", "max_memory_mb", before)
    assert service.submit("limited", code="print(1)", mem_limit="128m").status_code == 202


def test_max_cpus(service):
    before = rejections(service, "limited", "max_cpus")
    issue = issue_at(service.submit("limited", code="print(1)", cpus=1.0), "cpus")
    assert "less than or equal to 0.5 (this API key's max_cpus)" in issue["msg"], issue
    assert_rejection_counted(service, "limited", "max_cpus", before)
    assert service.submit("limited", code="print(1)", cpus=0.5).status_code == 202


def test_defaults_above_a_keys_maxima_are_lowered(service):
    # the service's defaults (timeout 30 s, 256m, 1.0 CPU) are above the key's maxima: no 422,
    # the run gets the key's maxima
    slept = service.run("limited", code="import time; time.sleep(6); print('woke')")
    assert slept.status_code == 200, slept.text
    assert slept.json()["timed_out"] is True, slept.text
    assert slept.json()["execution_time"] < 5, slept.text
    big = service.run("limited", code="b = bytearray(180 * 1024 * 1024); print(len(b))")
    assert big.status_code == 200, big.text
    assert big.json()["oom_killed"] is True, big.text


def test_allow_network_false(service):
    # tenant-a's entry says nothing about the network: the default is false
    before = rejections(service, "tenant-a", "allow_network")
    issue = issue_at(service.submit("tenant-a", code="print(1)", allow_network=True), "allow_network")
    assert NO_NETWORK in issue["msg"], issue
    issue = issue_at(service.submit("tenant-a", code="print(1)", allowed_hosts=["pypi.org"]), "allowed_hosts")
    assert NO_NETWORK in issue["msg"], issue
    wait_until(lambda: rejections(service, "tenant-a", "allow_network") >= before + 2, 10, "two allow_network rejections")
    assert rejections(service, "tenant-a", "allow_network") == before + 2
    assert service.submit("tenant-a", code="print(1)", allow_network=False).status_code == 202


def test_priority_is_bounded_by_the_keys(service):
    before = rejections(service, "limited", "priority")
    issue = issue_at(service.submit("limited", code="print(1)", priority=4), "priority")
    assert issue["type"] == "less_than_equal"
    assert issue["msg"] == "Input should be less than or equal to 3 (this API key's priority)"
    assert_rejection_counted(service, "limited", "priority", before)
    issue = issue_at(service.submit("tenant-a", code="print(1)", priority=2), "priority")
    assert issue["msg"] == "Input should be less than or equal to 1 (this API key's priority)"
    issue_at(service.submit("tenant-a", code="print(1)", priority=-1), "priority")
    issue_at(service.submit("tenant-a", code="print(1)", priority=11), "priority")
    # the job view shows it; the key's own priority is the default
    for asked, shown in [(3, 3), (0, 0), (None, 3)]:
        body = {"code": "print(1)"} if asked is None else {"code": "print(1)", "priority": asked}
        answer = service.submit("limited", **body)
        assert answer.status_code == 202, answer.text
        assert service.job("limited", answer.json()["job_id"])["priority"] == shown, (asked, shown)
    answer = service.submit("tenant-a", code="print(1)", priority=0)
    assert answer.status_code == 202, answer.text
    assert service.job("tenant-a", answer.json()["job_id"])["priority"] == 0


def test_priority_orders_the_keys_own_jobs(service):
    # max_running 1: while the first job runs the others wait. Three of priority 0, then one of
    # priority 1: fair_time gives the later, higher one a place right after the head of the
    # queue (max(head, its own queued of priority >= 1) + 1), so it runs before the last of them.
    clock = "import time; print(repr(time.time()))"
    first = service.submit("ordered", code=SLEEP, timeout=120)
    assert first.status_code == 202, first.text
    waiting = []
    try:
        wait_until(lambda: service.job("ordered", first.json()["job_id"])["status"] == "running", 60,
                   "the first job running")
        for priority in (0, 0, 0, 1):
            answer = service.submit("ordered", code=clock, priority=priority)
            assert answer.status_code == 202, answer.text
            waiting.append(answer.json()["job_id"])
        assert [service.job("ordered", job_id)["status"] for job_id in waiting] == ["queued"] * 4
    finally:
        service.call("DELETE", f"/jobs/{first.json()['job_id']}", "ordered")

    def finished(job_id):
        job = service.job("ordered", job_id)
        return job if job["status"] in ("completed", "failed", "cancelled") else None
    started = []
    for job_id in waiting:
        job = wait_until(lambda: finished(job_id), 60, "the waiting jobs to finish")
        assert job["status"] == "completed", job
        started.append(float(job["result"]["stdout"]))
    *lows, high = started
    assert high < lows[-1], started
    assert lows == sorted(lows), started  # equal priorities keep their order


def test_max_queued_and_max_running(service):
    before = rejections(service, "queue-limited", "max_queued")
    jobs = []
    try:
        first = service.submit("queue-limited", code=SLEEP, timeout=120)
        assert first.status_code == 202, first.text
        jobs.append(first.json()["job_id"])
        wait_until(lambda: service.job("queue-limited", jobs[0])["status"] == "running", 60, "the first job running")
        second = service.submit("queue-limited", code="print(2)")
        assert second.status_code == 202, second.text
        jobs.append(second.json()["job_id"])
        # max_running 1: free slots run another key's job and pass the second by
        other = service.run("tenant-a", code="print('other')")
        assert other.status_code == 200 and other.json()["stdout"] == "other\n", other.text
        assert service.job("queue-limited", jobs[1])["status"] == "queued"
        _, samples, _ = service.scrape()
        assert value(samples, "code_runner_key_running_jobs", key="queue-limited") == 1
        assert value(samples, "code_runner_key_queued_jobs", key="queue-limited") == 1
        # max_queued 1: the second waits, so a third is refused, and not stored
        third = service.submit("queue-limited", code="print(3)")
        assert third.status_code == 429, third.text
        assert third.headers["Retry-After"] == "5"
        assert third.json()["detail"] == "API key 'queue-limited' has 1 jobs queued (max_queued 1); retry later."
        assert service.job_ids("queue-limited") == set(jobs)
        assert_rejection_counted(service, "queue-limited", "max_queued", before)
    finally:
        for job_id in reversed(jobs):
            service.call("DELETE", f"/jobs/{job_id}", "queue-limited")


def test_runs_per_minute(service):
    before = rejections(service, "rate", "runs_per_minute")
    for _ in range(2):
        answer = service.submit("rate", code="print(1)")
        assert answer.status_code == 202, answer.text
    for third in (service.submit("rate", code="print(1)"), service.run("rate", code="print(1)")):
        assert third.status_code == 429, third.text
        retry = third.headers["Retry-After"]
        assert retry.isdigit() and 1 <= int(retry) <= 60, retry
        match = re.fullmatch(r"API key 'rate' reached runs_per_minute \(2\); retry in (\d+) s\.", third.json()["detail"])
        assert match, third.json()
        assert int(match.group(1)) == int(retry)
    assert len(service.job_ids("rate")) == 2
    wait_until(lambda: rejections(service, "rate", "runs_per_minute") >= before + 2, 10, "two runs_per_minute rejections")
    assert rejections(service, "rate", "runs_per_minute") == before + 2


def test_one_key_never_sees_anothers_jobs(service):
    made = service.submit("tenant-a", code="print(1)")
    assert made.status_code == 202, made.text
    job_id = made.json()["job_id"]
    theirs = service.submit("tenant-b", code="print(2)")
    assert theirs.status_code == 202, theirs.text
    a_jobs, b_jobs = service.job_ids("tenant-a"), service.job_ids("tenant-b")
    assert job_id in a_jobs and theirs.json()["job_id"] in b_jobs
    assert not a_jobs & b_jobs
    assert service.call("GET", f"/jobs/{job_id}", "tenant-b").status_code == 404
    assert service.call("DELETE", f"/jobs/{job_id}", "tenant-b").status_code == 404


def test_metrics_count_by_key_name_and_never_show_a_key(service):
    _, before, _ = service.scrape()
    assert service.run("tenant-b", code="print(1)").status_code == 200
    assert service.submit("tenant-b", code="print(1)").status_code == 202
    assert service.submit("tenant-b", code="print(1)", priority=5).status_code == 422  # refused: not counted as a run
    expected = value(before, "code_runner_key_runs_total", key="tenant-b") + 2
    wait_until(lambda: value(service.scrape()[1], "code_runner_key_runs_total", key="tenant-b") >= expected, 10,
               "code_runner_key_runs_total{key=\"tenant-b\"}")
    types, samples, text = service.scrape()
    assert value(samples, "code_runner_key_runs_total", key="tenant-b") == expected
    assert types.get("code_runner_key_runs_total") == "counter"
    assert types.get("code_runner_key_rejections_total") == "counter"
    assert types.get("code_runner_key_queued_jobs") == "gauge"
    assert types.get("code_runner_key_running_jobs") == "gauge"
    # "other": owners no current key has; "service" and "webhooks": the service's own jobs
    names = {key["name"] for key in KEYS} | {"other", "service", "webhooks"}
    for name, labels, _ in samples:
        if name.startswith("code_runner_key_"):
            assert labels.get("key") in names, (name, labels)
    for name in SECRETS:
        assert SECRETS[name] not in text, f"the metrics show {name}'s key"
        assert DIGESTS[name] not in text, f"the metrics show {name}'s key hash"


def test_the_file_is_reloaded_when_replaced(service):
    keys = service.api_keys()
    assert keys["source"] == "file"
    assert keys["path"] == str(service.keys_path)
    assert keys["keys"] == len(KEYS)
    assert keys["error"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", keys["loaded_at"] or ""), keys
    assert service.call("GET", "/jobs", "added").status_code == 403
    write_keys(service.keys_path, KEYS + [ADDED])
    wait_until(lambda: service.api_keys()["keys"] == len(KEYS) + 1, 10, "the added key loaded")
    assert service.api_keys()["error"] is None
    added = service.run("added", code="print('added')")
    assert added.status_code == 200, added.text
    assert added.json()["stdout"] == "added\n"


def test_a_malformed_file_keeps_the_last_good_keys(service):
    good = KEYS + [ADDED]
    write_keys(service.keys_path, good)
    wait_until(lambda: service.api_keys()["keys"] == len(good) and service.api_keys()["error"] is None, 10,
               "the good file loaded")
    bad_priority = [dict(key, priority=11) if i == 1 else key for i, key in enumerate(good)]
    typo = [dict(key, max_runing=2) if i == 0 else key for i, key in enumerate(good)]
    for content, named in [(bad_priority, "keys[1].priority"), (typo, "max_runing"), ('{"keys": [', None)]:
        previous = service.api_keys()["error"]
        write_keys(service.keys_path, content)
        state = wait_until(lambda: (lambda k: k if k["error"] and k["error"] != previous else None)(service.api_keys()),
                           10, f"/health's api_keys.error for {named or 'truncated JSON'}")
        if named:
            assert named in state["error"], state
        assert state["keys"] == len(good), state
        assert service.run("tenant-a", code="print('still')").json()["stdout"] == "still\n"
        assert service.call("GET", "/jobs", "added").status_code == 200
        assert service.call("GET", "/jobs", bearer="tenant-b").status_code == 200
    assert "keys[1].priority" in service.log.read_text(errors="replace"), "the reload's failure is not logged"
    # fixed (and without the added key): the error clears and the removed key stops working
    write_keys(service.keys_path, KEYS)
    wait_until(lambda: service.api_keys()["error"] is None, 10, "the error cleared")
    assert service.api_keys()["keys"] == len(KEYS)
    assert service.call("GET", "/jobs", "added").status_code == 403
    assert service.call("GET", "/jobs", "tenant-a").status_code == 200


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("content, named", [
    ('{"keys": [', None),
    (json.dumps({"keys": [{"name": "a", "key": "k", "max_runing": 1}]}), "max_runing"),
    (json.dumps({"keys": [{"name": "a", "key": "k", "sha256": "0" * 64}]}), None),
    (json.dumps({"keys": [{"name": "a", "key": "k"}, {"name": "a", "key": "l"}]}), None),
    (json.dumps({"keys": [{"name": "a", "key": "k", "priority": 0}]}), "priority"),
    (None, None),  # no file
])
def test_a_malformed_file_at_start_stops_the_api(tmp_path, content, named):
    keys_path = tmp_path / "keys.json"
    if content is not None:
        keys_path.write_text(content)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "HOST": "127.0.0.1",
           "PORT": str(free_port()), "DATABASE_PATH": str(tmp_path / "db.sqlite"), "RUNTIME_DIR": str(ROOT / "runtimes"),
           "API_KEYS_FILE": str(keys_path)}
    done = subprocess.run([str(BIN_DIR / "code-runner-api")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr[-2000:]
    assert "API_KEYS_FILE" in lines[0], lines
    if named:
        assert named in lines[0], lines
