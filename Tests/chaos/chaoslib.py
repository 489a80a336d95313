"""Shared helpers for the chaos and load scenarios (stdlib + requests only).

Every scenario starts its own API and worker processes (never scripts/run-service.sh, except
where the scenario is about that script) on a fresh SQLite file in a private run directory, so
that individual PIDs can be killed. Nothing here sleeps to synchronise: waits poll a condition
until a deadline (`wait_until`).

A scenario is a function `run(ctx) -> None` that records its numbers in `ctx.result` and raises
`ScenarioFailure` (or records `ctx.check(...)` failures) when a property does not hold. `main()`
runs one scenario from the command line and writes its result as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API_KEY = "chaos-key"
HEADERS = {"X-API-Key": API_KEY}
FINAL = {"completed", "failed", "cancelled"}
DEFAULT_LEASE = 3
SWEEP_INTERVAL = 60  # WorkerService sweeps orphaned containers every 60 s (and at start-up)



def _waits_for_its_run(host_pid: str) -> bool:
    """Whether the process is a pre-started interpreter still blocked in its start hook: its fd 3
    is the hook's pipe (closed once the run began). A process gone meanwhile is not waiting."""
    try:
        return os.readlink(f"/proc/{host_pid}/fd/3").startswith("pipe:")
    except OSError:
        return False

class ScenarioFailure(Exception):
    pass


class Interrupted(BaseException):
    """Raised by the SIGTERM handler so that `finally` blocks clean up."""


def now() -> float:
    return time.monotonic()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = now() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, sqlite3.Error, OSError) as error:
            last_error = error
        if now() >= deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise ScenarioFailure(f"timed out after {timeout:.1f}s waiting for {what}{suffix}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def snapshot_binaries(target_dir: str) -> str:
    """Copies the release binaries (they may be replaced by a build while we run)."""
    source = os.environ.get("CHAOS_BIN_DIR") or os.path.join(REPO, ".build", "release")
    if os.environ.get("CHAOS_BIN_DIR"):
        return source  # already a snapshot made by the runner
    os.makedirs(target_dir, exist_ok=True)
    for name in ("code-runner-api", "code-runner-worker"):
        src = os.path.join(source, name)
        dst = os.path.join(target_dir, name)
        for _ in range(10):
            before = os.stat(src)
            shutil.copy2(src, dst)
            after = os.stat(src)
            if (before.st_size, before.st_mtime) == (after.st_size, after.st_mtime) == (
                    os.stat(dst).st_size, os.stat(dst).st_mtime):
                break
            # a build is rewriting the binary: wait until its mtime settles, then copy again
            wait_until(lambda: time.time() - os.stat(src).st_mtime > 2, 120,
                       f"{src} to stop changing", interval=0.5)
        else:
            raise ScenarioFailure(f"{src} kept changing while being copied")
    return target_dir


# --------------------------------------------------------------------------------------------
# processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: str
    started: float = field(default_factory=now)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def stop_processes(procs: list[Proc], timeout: float) -> None:
    """SIGTERM to each live process (SIGCONT first: a stopped one could not act on it), then
    kill -9 of any still there when `timeout` seconds are up."""
    live = [p for p in procs if p.alive()]
    for proc in live:
        proc.signal(signal.SIGCONT)
        proc.signal(signal.SIGTERM)
    deadline = now() + timeout
    for proc in live:
        try:
            proc.popen.wait(timeout=max(0.1, deadline - now()))
        except subprocess.TimeoutExpired:
            proc.kill9()


class Service:
    """One deployment: a database in `run_dir`, the API and any number of workers."""

    def __init__(self, ctx: "Context", name: str = "svc", db_path: str | None = None,
                 env: dict[str, str] | None = None, lease: float = DEFAULT_LEASE):
        self.ctx = ctx
        self.name = name
        self.dir = os.path.join(ctx.run_dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.db_path = db_path or os.path.join(self.dir, "db.sqlite")
        self.port = free_port()
        self.lease = lease
        self.env = dict(os.environ)
        for key in list(self.env):
            if key in ("WORKERS", "MAX_QUEUE_DEPTH", "WORKER_CONCURRENCY", "RUN_WAIT_SLACK", "LOG_LEVEL"):
                self.env.pop(key)
        self.env.update({
            "HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_PATH": self.db_path,
            "CODE_RUNNER_API_KEYS": API_KEY, "RUNTIME_DIR": os.path.join(REPO, "runtimes"),
            "LEASE_SECONDS": str(lease),
        })
        self.env.update(env or {})
        self.api: Proc | None = None
        self.workers: dict[str, Proc] = {}
        self.dead_workers: dict[str, float] = {}  # id -> monotonic time of death
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        self.http.headers.update(HEADERS)
        self._deployment: str | None = None

    # ---- processes

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log_path = os.path.join(self.dir, f"{name}.log")
        log = open(log_path, "ab")
        popen = subprocess.Popen(argv, cwd=self.dir, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        log.close()
        proc = Proc(name, popen, log_path)
        self.ctx.track(proc)
        return proc

    def start_api(self, wait: bool = True) -> Proc:
        self.api = self._spawn(f"api-{len([p for p in self.ctx.procs if p.name.startswith('api')])}",
                               [os.path.join(self.ctx.bin_dir, "code-runner-api")])
        if wait:
            self.wait_api()
        return self.api

    def wait_api(self, timeout: float = 30) -> None:
        def up():
            if self.api is not None and not self.api.alive():
                raise ScenarioFailure(f"API exited with {self.api.popen.returncode}:\n{self.api.log()[-2000:]}")
            return requests.get(self.url + "/health", timeout=2).status_code == 200
        wait_until(up, timeout, "the API to answer /health")

    def start_worker(self, worker_id: str, extra: list[str] | None = None, env: dict[str, str] | None = None,
                     wait: bool = True) -> Proc:
        environment = dict(self.env)
        environment.update(env or {})
        proc = self._spawn(worker_id, [os.path.join(self.ctx.bin_dir, "code-runner-worker"), "--worker-id", worker_id]
                           + (extra or []), env=environment)
        self.workers[worker_id] = proc
        if wait:
            self.wait_worker_registered(worker_id)
        return proc

    def wait_worker_registered(self, worker_id: str, timeout: float = 30) -> None:
        proc = self.workers[worker_id]

        def ready():
            if not proc.alive():
                raise ScenarioFailure(f"worker {worker_id} exited with {proc.popen.returncode}:\n{proc.log()[-2000:]}")
            return "worker started" in proc.log()
        wait_until(ready, timeout, f"worker {worker_id} to start")

    def kill9_worker(self, worker_id: str) -> None:
        proc = self.workers.pop(worker_id)
        proc.kill9()
        self.dead_workers[worker_id] = now()

    def stop_all(self, timeout: float = 40) -> None:
        stop_processes(list(self.workers.values()) + ([self.api] if self.api else []), timeout)

    # ---- HTTP

    def health(self) -> dict:
        return requests.get(self.url + "/health", timeout=5).json()

    def wait_workers(self, count: int, timeout: float = 30) -> None:
        wait_until(lambda: (h := self.health())["workers"] >= count and h["docker_connected"], timeout,
                   f"{count} live worker(s) with Docker in /health")

    def submit(self, code: str, timeout_s: int | None = None, **extra) -> requests.Response:
        body = {"code": code, "image": "python", **extra}
        if timeout_s is not None:
            body["timeout"] = timeout_s
        return self.http.post(self.url + "/jobs", json=body, timeout=30)

    def submit_ok(self, code: str, **extra) -> str:
        r = self.submit(code, **extra)
        if r.status_code != 202:
            raise ScenarioFailure(f"POST /jobs answered {r.status_code}: {r.text[:500]}")
        return r.json()["job_id"]

    def job(self, job_id: str, wait: int = 0, timeout: float = 75) -> dict:
        r = self.http.get(f"{self.url}/jobs/{job_id}", params={"wait": wait} if wait else None, timeout=timeout)
        if r.status_code != 200:
            raise ScenarioFailure(f"GET /jobs/{job_id} answered {r.status_code}: {r.text[:300]}")
        return r.json()

    def wait_final(self, job_ids: Iterable[str], timeout: float) -> dict[str, dict]:
        """Long-polls every job until it is final or the deadline passes; returns the last view."""
        views: dict[str, dict] = {}
        deadline = now() + timeout
        for job_id in job_ids:
            while True:
                left = deadline - now()
                try:
                    view = self.job(job_id, wait=max(1, min(20, int(left))) if left > 1 else 0)
                except (requests.RequestException, ScenarioFailure) as error:
                    view = {"job_id": job_id, "status": "unreadable", "error": str(error)}
                views[job_id] = view
                if view.get("status") in FINAL or left <= 0:
                    break
                if view.get("status") == "unreadable":
                    time.sleep(0.2)  # the API is restarting; pace the retry, the deadline bounds it
        return views

    # ---- database and docker

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        conn = self.db()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    @property
    def deployment(self) -> str:
        if self._deployment is None:
            self._deployment = self.query("SELECT value FROM deployment WHERE key = 'id'")[0][0]
        return self._deployment

    def containers(self, all_states: bool = True) -> list[dict]:
        """This deployment's containers: id, worker label, job label, state."""
        argv = ["docker", "ps", "--no-trunc", "--filter", f"label=code-runner.deployment={self.deployment}",
                "--format", '{{.ID}}\t{{.Label "code-runner.worker"}}\t{{.Label "code-runner.job"}}\t{{.State}}']
        if all_states:
            argv.insert(2, "-a")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise OSError(f"docker ps failed: {out.stderr.strip()}")
        rows = []
        for line in out.stdout.splitlines():
            cid, worker, job, state = (line.split("\t") + ["", "", "", ""])[:4]
            rows.append({"id": cid, "worker": worker, "job": job, "state": state})
        return rows

    def executing(self, worker_id: str | None = None) -> list[dict]:
        """Containers (of one worker, or all) whose user program is running right now: a
        `main.*` process shows in `docker top` that is not a warm container's pre-started
        interpreter still waiting for its run (that one holds the start hook's pipe on fd 3,
        which the hook closes when the run begins: runtimes/PROTOCOL.md, "Pre-started
        interpreters")."""
        found = []
        for c in self.containers(all_states=False):
            if worker_id is not None and c["worker"] != worker_id:
                continue
            out = subprocess.run(["docker", "top", c["id"], "-eo", "pid,args"], capture_output=True, text=True, timeout=30)
            if out.returncode != 0:
                continue
            for line in out.stdout.splitlines()[1:]:
                pid, _, args = line.strip().partition(" ")
                if " main." in f" {args.strip()}" and not args.strip().startswith("/bin/sh") and not _waits_for_its_run(pid):
                    found.append(c)
                    break
        return found

    def remove_containers(self) -> int:
        try:
            ids = [c["id"] for c in self.containers()]
        except (OSError, subprocess.SubprocessError, sqlite3.Error, IndexError):
            return 0
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=60)
        return len(ids)

    def wal_size(self) -> int:
        try:
            return os.path.getsize(self.db_path + "-wal")
        except OSError:
            return 0

    def integrity(self) -> str:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())
        finally:
            conn.close()

    def grep_logs(self, *needles: str) -> list[str]:
        hits = []
        for proc in self.ctx.procs:
            if not proc.log_path.startswith(self.dir):
                continue
            for line in proc.log().splitlines():
                if any(n.lower() in line.lower() for n in needles):
                    hits.append(f"{proc.name}: {line[:400]}")
        return hits


# --------------------------------------------------------------------------------------------
# scenario context and entry point


class Context:
    def __init__(self, scenario: str, run_dir: str):
        self.scenario = scenario
        self.run_dir = run_dir
        os.makedirs(run_dir, exist_ok=True)
        self.bin_dir = snapshot_binaries(os.path.join(run_dir, "bin"))
        self.procs: list[Proc] = []
        self.services: list[Service] = []
        self.cleanups: list[Callable[[], None]] = []
        self.result: dict[str, Any] = {
            "scenario": scenario, "sent": 0, "completed": 0, "failed": 0, "lost": 0, "double": 0,
            "passed": False, "problems": [], "metrics": {}, "notes": [], "run_dir": run_dir,
        }
        self._pidfile = os.path.join(run_dir, "pids")
        # A private copy of the binaries (~130 MB) is removed at the end; a runner's shared one is not.
        self._own_binaries = not os.environ.get("CHAOS_BIN_DIR")

    def track(self, proc: Proc) -> None:
        self.procs.append(proc)
        with open(self._pidfile, "a") as f:
            f.write(f"{proc.pid}\n")

    def service(self, name: str = "svc", **kwargs) -> Service:
        svc = Service(self, name, **kwargs)
        self.services.append(svc)
        return svc

    def check(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.result["problems"].append(problem)
        return condition

    def note(self, text: str) -> None:
        self.result["notes"].append(text)
        print(f"[{self.scenario}] {text}", flush=True)

    def metric(self, key: str, value: Any) -> None:
        self.result["metrics"][key] = value

    def count(self, views: dict[str, dict], sent: int | None = None) -> None:
        """Fills sent/completed/failed/lost from final job views (lost = not final or unreadable)."""
        self.result["sent"] += len(views) if sent is None else sent
        for view in views.values():
            status = view.get("status")
            if status == "completed":
                self.result["completed"] += 1
            elif status in ("failed", "cancelled"):
                self.result["failed"] += 1
            else:
                self.result["lost"] += 1
        if sent is not None and sent > len(views):
            self.result["lost"] += sent - len(views)

    def cleanup(self) -> None:
        for action in reversed(self.cleanups):
            try:
                action()
            except Exception as error:  # keep cleaning
                print(f"[{self.scenario}] cleanup step failed: {error!r}", file=sys.stderr)
        for svc in self.services:
            try:
                svc.stop_all(timeout=15)
            except Exception as error:
                print(f"[{self.scenario}] stopping {svc.name} failed: {error!r}", file=sys.stderr)
        for proc in self.procs:
            if proc.alive():
                try:
                    proc.signal(signal.SIGCONT)
                    proc.kill9()
                except Exception:
                    pass
        for svc in self.services:
            try:
                svc.remove_containers()
            except Exception:
                pass
        if self._own_binaries:
            shutil.rmtree(self.bin_dir, ignore_errors=True)


def main(scenario: str, run: Callable[[Context], None]) -> int:
    parser = argparse.ArgumentParser(description=f"chaos scenario {scenario}")
    parser.add_argument("--run-dir", default=None, help="where logs and databases go")
    parser.add_argument("--json-out", default=None, help="write the result here as JSON")
    args = parser.parse_args()
    run_dir = args.run_dir or tempfile.mkdtemp(prefix=f"chaos-{scenario}-")

    def on_term(signum, frame):
        raise Interrupted(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    started = now()
    ctx = Context(scenario, run_dir)
    try:
        run(ctx)
    except ScenarioFailure as error:
        ctx.result["problems"].append(str(error))
    except Interrupted as error:
        ctx.result["problems"].append(f"interrupted ({error})")
    except Exception:
        ctx.result["problems"].append("scenario crashed:\n" + traceback.format_exc())
    finally:
        ctx.cleanup()
    ctx.result["seconds"] = round(now() - started, 1)
    ctx.result["passed"] = not ctx.result["problems"]
    text = json.dumps(ctx.result, indent=2, default=str)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text)
    print(text)
    return 0 if ctx.result["passed"] else 1


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Sampler(threading.Thread):
    """Calls `sample()` every `interval` seconds in the background until stopped."""

    def __init__(self, sample: Callable[[], None], interval: float = 0.1):
        super().__init__(daemon=True)
        self.sample = sample
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.sample()
            except Exception:
                pass

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
