"""Harness of the hostile-code suite: real service, real Docker engine, attacks over HTTP.

Environment:
  HOSTILE_URL            base URL of an instance already started by scripts/run-hostile.sh
                         (with HOSTILE_SERVICE_PID, HOSTILE_DATABASE_PATH, HOSTILE_SERVICE_LOG).
                         Without it, the session starts its own instance.
  HOSTILE_REPORT         optional JSON-lines file: one line per attack (what was sent, what the
                         service answered, how long it took).
  HOSTILE_ROOT           the repository (default: two levels above this folder).
  HOSTILE_WORKDIR        folder for the logs and databases of the instances tests start.

Every test that uses `service` is followed by a normal run (`print("ok")`) and a check that
`/health` still says `ok` (autouse fixture `stays_healthy`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(os.environ.get("HOSTILE_ROOT", Path(__file__).resolve().parents[2]))
API_KEY = "hostile-key"
HEADERS = {"X-API-Key": API_KEY}
# A second tenant, for the attacks of one key on another's images and jobs.
OTHER_KEY = "hostile-key-2"
OTHER_HEADERS = {"X-API-Key": OTHER_KEY}
HTTP_TIMEOUT = 30.0
START_TIMEOUT = 90.0
SERVICE_CONFIG_VARS = (
    "HOST", "PORT", "LOG_LEVEL", "DEFAULT_TIMEOUT", "MAX_TIMEOUT", "DEFAULT_MEMORY", "MAX_MEMORY_MB",
    "DEFAULT_CPU_SHARES", "MAX_CPU_CORES", "DEFAULT_DISK", "MAX_DISK_MB", "AUTH_TOKEN",
    "CODE_RUNNER_API_KEYS", "CLEANUP_INTERVAL_HOURS", "CLEANUP_MAX_AGE_DAYS", "DATABASE_PATH",
    "DEFAULT_CPUS", "MAX_OUTPUT_BYTES", "MAX_METADATA_BYTES", "DEFAULT_PIDS_LIMIT", "RUN_WAIT_SLACK",
    "JOB_RETENTION_HOURS", "WORKER_CONCURRENCY", "LEASE_SECONDS", "PREBUILD_TIMEOUT", "WORKERS",
    "SANDBOX_RUNTIME", "DOCKER_SOCKET", "RUNTIME_DIR", "BIN_DIR", "POOL_SIZE", "MAX_QUEUE_DEPTH",
    "PREBUILD_MEMORY_MB", "PREBUILD_CPUS", "PREBUILD_PIDS_LIMIT", "PREBUILD_MAX_LAYER_MB", "METRICS_TOKEN",
    "EGRESS_ALLOW_CIDRS", "EGRESS_DENY_CIDRS", "WORKER_HOST", "WEBHOOK_SECRET", "WEBHOOK_ALLOW_CIDRS",
)


# --------------------------------------------------------------------------------------------
# small helpers (exposed to tests through the `tools` fixture)
# --------------------------------------------------------------------------------------------

def poll(condition, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Calls `condition` until it returns a truthy value or `timeout` seconds pass; returns the
    value, or raises AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = condition()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args: str, timeout: float = 60, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def containers(label: str, all_states: bool = True) -> list[str]:
    """Ids of the containers carrying `label` (`key=value`)."""
    args = ["ps", "-q", "--no-trunc", "--filter", f"label={label}"]
    if all_states:
        args.insert(1, "-a")
    return docker(*args).split()


def container_exists(container_id: str) -> bool:
    return bool(docker("ps", "-aq", "--no-trunc", "--filter", f"id={container_id}").split())


def inspect(container_id: str) -> dict | None:
    out = docker("inspect", container_id, check=False)
    data = json.loads(out or "[]")
    return data[0] if data else None


CONTAINER_ID_IN_CGROUP = re.compile(r"([0-9a-f]{64})")


def container_of_pid(pid: int) -> str | None:
    """The full id of the container a host process runs in (from its cgroup path), or None."""
    try:
        m = CONTAINER_ID_IN_CGROUP.search(Path(f"/proc/{pid}/cgroup").read_text())
    except OSError:
        return None
    return m.group(1) if m else None


def find_job_container(job_id: str, marker: str | None = None) -> str | None:
    """The container running a job: by its job label (cold path) or, for a warm-pool container
    (labelled `code-runner.job=pool`, since it was made before its job was known), by the
    cgroup of a process whose command line carries `marker`."""
    ids = containers(f"code-runner.job={job_id}")
    if ids:
        return ids[0]
    if marker:
        for pid, _ in host_processes_with(marker):
            cid = container_of_pid(pid)
            if cid:
                return cid
    return None


def host_processes_with(marker: str) -> list[tuple[int, str]]:
    """Host processes (any pid namespace is visible from the host) whose command line holds `marker`."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append((int(entry), cmdline.strip()[:200]))
    return found


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command may contain spaces and parentheses: fields start after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def exe_name(pid: int) -> str:
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return ""


def status_field(pid: int, name: str) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def df_used_bytes(path: str = "/var/lib/docker") -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def raw_http(port: int, request: bytes, timeout: float = HTTP_TIMEOUT) -> tuple[int, bytes, bytes]:
    """Sends `request` (complete bytes, header and body) on a fresh TCP connection and returns
    (status, head, body). Used for header values no HTTP library would send."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                head = data[:head_end]
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(data) >= head_end + 4 + int(m.group(1)):
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    parts = status_line.split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, head, body


# --------------------------------------------------------------------------------------------
# service instances
# --------------------------------------------------------------------------------------------

class Instance:
    """One copy of the service (API + workers) started by scripts/run-service.sh in its own
    process group, or an already running one (adopted from run-hostile.sh)."""

    def __init__(self, workdir: Path, env: dict | None = None, database: Path | None = None):
        self.workdir = workdir
        self.extra_env = dict(env or {})
        self.database = database or (workdir / "db.sqlite")
        self.port = 0
        self.url = ""
        self.log = workdir / f"service-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen | None = None
        self.pid = 0
        self.owned = True

    @classmethod
    def adopt(cls, url: str, pid: int, database: str, log: str) -> "Instance":
        inst = cls(Path(tempfile.gettempdir()), database=Path(database))
        inst.url = url.rstrip("/")
        inst.port = int(url.rsplit(":", 1)[1].split("/")[0])
        inst.pid = pid
        inst.log = Path(log)
        inst.owned = False
        return inst

    def start(self) -> "Instance":
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_CONFIG_VARS}
        env.update(HOST="127.0.0.1", PORT=str(self.port), DATABASE_PATH=str(self.database),
                   CODE_RUNNER_API_KEYS=f"{API_KEY},{OTHER_KEY}", RUNTIME_DIR=str(ROOT / "runtimes"))
        env.update(self.extra_env)
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run-service.sh")], cwd=str(self.workdir), env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.pid = self.process.pid
        self.wait_healthy()
        _DEPLOYMENTS.add(self.deployment_id())
        _THROWAWAY.add(self.deployment_id())
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT):
        def healthy():
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the service exited ({self.process.returncode}); log:\n{self.tail()}")
            try:
                return requests.get(self.url + "/health", timeout=5).json().get("docker_connected") is True
            except (requests.RequestException, ValueError):
                return False
        poll(healthy, timeout, 0.2, "the service to report docker_connected")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self):
        if not self.owned or self.process is None:
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    # --- facts about the running instance ---

    def worker_pids(self) -> list[int]:
        return [p for p in children_of(self.pid) if exe_name(p) == "code-runner-worker"]

    def api_pids(self) -> list[int]:
        return [p for p in children_of(self.pid) if exe_name(p) == "code-runner-api"]

    def deployment_id(self) -> str:
        if self.extra_env.get("DATABASE_URL"):  # an instance on PostgreSQL
            return subprocess.run(["psql", "-X", "-At", self.extra_env["DATABASE_URL"], "-c",
                                   "SELECT value FROM deployment WHERE key = 'id'"],
                                  capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute("SELECT value FROM deployment WHERE key = 'id'").fetchone()[0]
        finally:
            db.close()

    # --- HTTP ---

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("headers", HEADERS)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.get(self.url + path, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        kw.setdefault("headers", HEADERS)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.post(self.url + path, json=body, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        kw.setdefault("headers", HEADERS)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.delete(self.url + path, **kw)

    def run(self, body: dict, http_timeout: float | None = None) -> tuple[requests.Response, float]:
        """POST /run; returns the response and the wall time in seconds."""
        limit = http_timeout or (float(body.get("timeout") or 30) + 60)
        t0 = time.monotonic()
        r = self.post("/run", body, timeout=limit)
        return r, time.monotonic() - t0

    def submit(self, body: dict) -> str:
        r = self.post("/jobs", body)
        assert r.status_code == 202, (r.status_code, r.text)
        return r.json()["job_id"]

    def job(self, job_id: str, wait: int = 0) -> dict:
        r = self.get(f"/jobs/{job_id}" + (f"?wait={wait}" if wait else ""), timeout=HTTP_TIMEOUT + wait)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def wait_job(self, job_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            job = self.job(job_id, wait=max(1, min(30, int(left))))
            if job["status"] in ("completed", "failed", "cancelled"):
                return job
            if time.monotonic() >= deadline:
                raise AssertionError(f"job {job_id} still {job['status']} after {timeout:.0f}s")

    def health(self) -> dict:
        return requests.get(self.url + "/health", timeout=HTTP_TIMEOUT).json()


def summarize(response) -> object:
    """What the service answered, shortened for the report (outputs cut to 200 characters)."""
    if isinstance(response, requests.Response):
        try:
            data = response.json()
        except ValueError:
            return {"status": response.status_code, "text": response.text[:200]}
        return {"status": response.status_code, "body": summarize(data)}
    if isinstance(response, dict):
        out = {}
        for k, v in response.items():
            if isinstance(v, str) and len(v) > 200:
                out[k] = f"{v[:200]}… ({len(v)} chars)"
            else:
                out[k] = summarize(v)
        return out
    if isinstance(response, list):
        return [summarize(v) for v in response[:5]]
    return response


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------

_RECORDS: list[dict] = []
_DEPLOYMENTS: set[str] = set()  # deployments of every instance this session started or adopted
_THROWAWAY: set[str] = set()  # of those, the ones on a database that dies with the run
_NOTES: list[str] = []  # printed in the terminal summary
_ADOPTED: set[str] = set()  # the deployment of an instance run-hostile.sh started (still up at the end)


@pytest.fixture(scope="session")
def workdir(request):
    """Logs and databases of the instances tests start. Inside $HOSTILE_WORKDIR it stays (the
    runner script keeps its folder); a folder of its own is removed after a run without failures."""
    base = os.environ.get("HOSTILE_WORKDIR") or None
    path = Path(tempfile.mkdtemp(prefix="code-runner-hostile." if base is None else "session.", dir=base))
    yield path
    if base is None and request.session.testsfailed == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def service(workdir):
    url = os.environ.get("HOSTILE_URL")
    if url:
        inst = Instance.adopt(url, int(os.environ["HOSTILE_SERVICE_PID"]),
                              os.environ["HOSTILE_DATABASE_PATH"], os.environ.get("HOSTILE_SERVICE_LOG", ""))
        inst.wait_healthy()
        _DEPLOYMENTS.add(inst.deployment_id())
        _ADOPTED.add(inst.deployment_id())
        if os.environ.get("HOSTILE_WORKDIR"):  # started by run-hostile.sh for this run only
            _THROWAWAY.add(inst.deployment_id())
        yield inst
        return
    inst = Instance(workdir).start()
    yield inst
    inst.stop()


def _leftovers(deployment: str) -> list[str]:
    left = []
    for line in docker("ps", "-a", "--no-trunc", "--filter", f"label=code-runner.deployment={deployment}",
                       "--format", '{{.ID}} {{.State}} {{.Label "code-runner.job"}}', check=False).splitlines():
        cid, state, job = (line.split() + ["", "", ""])[:3]
        # the adopted instance is still serving: its idle warm containers are its own
        if deployment in _ADOPTED and job == "pool" and state == "running":
            continue
        left.append(cid)
    return left


@pytest.fixture(scope="session", autouse=True)
def remove_leftovers_at_exit():
    """At the very end, force-removes containers still labelled with a deployment of this
    session (a failed test may leave some: they are listed in the summary, not hidden), and the
    per-deployment bridge networks of throw-away deployments."""
    yield
    for deployment in sorted(_DEPLOYMENTS):
        try:
            # a run that just ended is removed asynchronously: give it a moment before forcing
            if _leftovers(deployment):
                try:
                    poll(lambda: not _leftovers(deployment), 10, 0.25, "leftovers to go")
                except AssertionError:
                    pass
            left = _leftovers(deployment)
            if left:
                _NOTES.append(f"removed {len(left)} leftover container(s) of deployment {deployment}: "
                              + " ".join(c[:12] for c in left))
                docker("rm", "-f", *left, check=False)
            # each bridge takes an entry of the engine's address pool, and these deployments
            # (throw-away databases) never come back
            if deployment in _THROWAWAY:
                networks = docker("network", "ls", "-q", "--filter", f"label=code-runner.deployment={deployment}",
                                  check=False).split()
                if networks:
                    docker("network", "rm", *networks, check=False)
        except Exception as error:  # best effort: never mask the test results
            _NOTES.append(f"leftover sweep of {deployment} failed: {error}")


@pytest.fixture
def instance_factory(workdir):
    """Starts extra instances (own port, own or shared database); all are stopped afterwards."""
    started: list[Instance] = []

    def start(env: dict | None = None, database: Path | None = None) -> Instance:
        sub = Path(tempfile.mkdtemp(prefix="instance.", dir=workdir))
        inst = Instance(sub, env=env, database=database)
        started.append(inst)
        return inst.start()

    yield start
    for inst in started:
        inst.stop()


@pytest.fixture
def record(request):
    """record(attack, answer, seconds, **extra): prints one report line and appends it to
    $HOSTILE_REPORT (JSON lines)."""

    def _record(attack: str, answer, seconds: float | None, **extra):
        entry = {"test": request.node.nodeid.split("::", 1)[-1], "attack": attack,
                 "answer": summarize(answer), "seconds": None if seconds is None else round(seconds, 3)}
        entry.update(extra)
        _RECORDS.append(entry)
        print("HOSTILE " + json.dumps(entry, default=str))
        path = os.environ.get("HOSTILE_REPORT")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(entry, default=str) + "\n")

    return _record


def normal_run_and_health(inst: "Instance"):
    r, seconds = inst.run({"code": "print('ok')", "timeout": 20})
    assert r.status_code == 200, f"normal run after the attack: {r.status_code} {r.text}"
    body = r.json()
    assert (body["stdout"], body["exit_code"], body["timed_out"]) == ("ok\n", 0, False), body
    check_health(inst)


def check_health(inst: "Instance"):
    health = inst.health()
    assert health["status"] == "ok" and health["docker_connected"] is True, health


@pytest.fixture(autouse=True)
def stays_healthy(request):
    """After every test that used the main service: /health is ok and a normal run still works.
    Modules of requests that are refused before anything runs (NORMAL_RUN_PER_MODULE = True)
    check /health after each test and do the normal run once, after the module."""
    yield
    if "service" not in request.fixturenames:
        return
    inst: Instance = request.getfixturevalue("service")
    if getattr(request.module, "NORMAL_RUN_PER_MODULE", False):
        check_health(inst)
    else:
        normal_run_and_health(inst)


@pytest.fixture(scope="module", autouse=True)
def stays_healthy_after_module(request):
    yield
    if getattr(request.module, "NORMAL_RUN_PER_MODULE", False):
        normal_run_and_health(request.getfixturevalue("service"))


@pytest.fixture
def tools():
    class Tools:
        pass
    t = Tools()
    for name, fn in dict(poll=poll, docker=docker, containers=containers, container_exists=container_exists,
                         container_of_pid=container_of_pid, find_job_container=find_job_container,
                         inspect=inspect, host_processes_with=host_processes_with, children_of=children_of,
                         status_field=status_field, df_used_bytes=df_used_bytes, raw_http=raw_http,
                         exe_name=exe_name).items():
        setattr(t, name, staticmethod(fn))
    return t


def docker_socket_identity() -> tuple | None:
    """The engine's socket file, recreated whenever dockerd restarts."""
    try:
        st = os.stat(os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock"))
        return (st.st_ino, st.st_mtime_ns)
    except OSError:
        return None


def pytest_configure(config):
    config._hostile_socket = docker_socket_identity()


def pytest_terminal_summary(terminalreporter, config):
    if getattr(config, "_hostile_socket", None) != docker_socket_identity():
        terminalreporter.section("WARNING: the Docker engine restarted during the run")
        terminalreporter.write_line("/var/run/docker.sock was recreated: failures may come from that, not from the "
                                    "service (something else on this host restarted dockerd)")
    if _NOTES:
        terminalreporter.section("hostile: clean-up after the run")
        for note in _NOTES:
            terminalreporter.write_line(note)
    if not _RECORDS:
        return
    terminalreporter.section("hostile attacks: what the service answered")
    for e in _RECORDS:
        answer = e["answer"]
        keys = ("exit_code", "timed_out", "oom_killed", "stdout_truncated", "stderr_truncated",
                "execution_time", "status", "detail")
        if isinstance(answer, dict) and "body" in answer and isinstance(answer["body"], dict):
            b = answer["body"]
            answer = {"http": answer["status"], **{k: b[k] for k in keys if k in b}}
        elif isinstance(answer, dict) and "exit_code" in answer and "job_id" in answer:
            answer = {k: answer[k] for k in keys if k in answer}
        secs = "-" if e["seconds"] is None else f"{e['seconds']:.2f}s"
        terminalreporter.write_line(f"{e['attack'][:60]:<60} {secs:>8}  {json.dumps(answer, default=str)[:160]}")
