"""`make run` stays up (scripts/run-service.sh, issue 14): a worker or the API killed with -9 is
started again and jobs keep being answered; a process that cannot start at all makes the script
give up with its status instead of looping. Runs last in the suite (it kills the service's
processes; the figures the other tests check live in the database and survive)."""
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


def processes(name):
    return [p for p in children(int(os.environ["SERVICE_PID"])) if exe_name(p) == name]


def wait_until(condition, seconds, what):
    """Polls `condition` (a black-box check: there is no event to wait on) until it holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # the API is down while it restarts: not yet
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def worker_id(pid):
    """The --worker-id scripts/run-service.sh gave the process."""
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    return arguments[arguments.index("--worker-id") + 1]


def warm_containers(worker):
    """Ids of this service's warm-pool containers labelled with the worker id, running or not."""
    with sqlite3.connect(f"file:{os.environ['SERVICE_DATABASE']}?mode=ro", uri=True) as db:
        deployment = db.execute("SELECT value FROM deployment WHERE key = 'id'").fetchone()[0]
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=code-runner.deployment={deployment}",
         "--filter", f"label=code-runner.worker={worker}", "--filter", "label=code-runner.job=pool"],
        capture_output=True, text=True, check=True, timeout=30)
    return set(listed.stdout.split())


def healthy(url, session, workers):
    health = session.get(f"{url}/health", timeout=2).json()
    return health.get("docker_connected") and health.get("workers") == workers


def run_ok(url, session, code):
    answer = session.post(f"{url}/run", json={"code": code}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["stdout"]


def test_killed_worker_and_api_are_started_again(url, session, service_log):
    assert healthy(url, session, 2)
    workers = processes("code-runner-worker")
    api = processes("code-runner-api")
    assert len(workers) == 2 and len(api) == 1, (workers, api)

    killed = worker_id(workers[0])
    left_behind = wait_until(lambda: warm_containers(killed), 30, "the worker's warm containers")
    os.kill(workers[0], signal.SIGKILL)
    restarted = wait_until(lambda: set(processes("code-runner-worker")) - set(workers), 30, "a new worker process")
    assert workers[1] in processes("code-runner-worker"), "the other worker was stopped too"
    wait_until(lambda: healthy(url, session, 2), 30, "two workers again")
    assert run_ok(url, session, "print(6 * 7)") == "42\n"
    # the new process has the same worker id: the warm containers its predecessor left are
    # nobody's and go (before the fix they stayed forever, two per killed worker)
    wait_until(lambda: not (warm_containers(killed) & left_behind), 30, "the killed worker's warm containers removed")

    os.kill(api[0], signal.SIGKILL)
    wait_until(lambda: set(processes("code-runner-api")) - set(api), 30, "a new API process")
    wait_until(lambda: healthy(url, session, 2), 30, "the API answering again")
    assert run_ok(url, session, "print('after')") == "after\n"
    assert set(processes("code-runner-worker")) == set(workers[1:]) | restarted

    log = Path(service_log).read_text(errors="replace")
    assert "run-service: worker-1 (pid" in log or "run-service: worker-2 (pid" in log, log[-2000:]
    assert f"run-service: api (pid {api[0]}) ended with status 137" in log, log[-2000:]


def test_a_process_that_cannot_start_ends_the_service(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICE_")}
    env.update(DEFAULT_TIMEOUT="0", PORT="1", DATABASE_PATH=str(tmp_path / "db.sqlite"), WORKERS="1")
    started = time.monotonic()
    done = subprocess.run(["bash", str(ROOT / "scripts" / "run-service.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "could not start" in done.stderr, done.stderr[-2000:]
    assert "starting it again" not in done.stderr, "a process that cannot start was restarted"
    assert time.monotonic() - started < 30
