"""The program must not be able to forge the supervisor's trailer (issue 22), and a container
whose supervisor the program killed is the program's result, not a retried infrastructure
failure.

The forger below does what a real attacker would: it walks /proc, reads `mem` (region by
region, from `maps`), `environ` and every `fd/*` of every other process in its container,
looks for a 32-hex nonce next to `CR1 ` or `@@code-runner:`, prints a forged trailer (exit 0,
metadata, an OOM kill) for each nonce it found and for a made-up one, then exits 7. What it
could read is reported on stderr as one JSON line (`FORGER {...}`)."""

import json
import re
import time

FORGER = r'''
import json, os, re, sys
me = os.getpid()
found, pids = set(), {}
pattern = re.compile(rb"(?:CR1 |@@code-runner:)([0-9a-f]{32})")
def scan(data):
    for m in pattern.finditer(data):
        found.add(m.group(1).decode())
def outcome(fn):
    try:
        return fn()
    except OSError as e:
        return type(e).__name__
for entry in os.listdir("/proc"):
    if not entry.isdigit() or int(entry) == me:
        continue
    pid, r = int(entry), {}
    r["cmdline"] = outcome(lambda: open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")[:120])
    def environ():
        scan(open(f"/proc/{pid}/environ", "rb").read()); return "read"
    r["environ"] = outcome(environ)
    maps = outcome(lambda: open(f"/proc/{pid}/maps").read().splitlines())
    r["maps"] = maps if isinstance(maps, str) else "read"
    def mem():
        got = 0
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
            for line in (maps if isinstance(maps, list) else []):
                span, perms = line.split()[:2]
                lo, hi = (int(x, 16) for x in span.split("-"))
                if "r" not in perms or hi - lo > 256 << 20:
                    continue
                try:
                    f.seek(lo); data = f.read(hi - lo); got += len(data); scan(data)
                except OSError:
                    pass
        return f"read {got} bytes"
    r["mem"] = outcome(mem)
    def fds():
        seen = {}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            def one():
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                with open(f"/proc/{pid}/fd/{fd}", "rb", buffering=0) as f:
                    os.set_blocking(f.fileno(), False)
                    data = f.read(1 << 20)
                    if data: scan(data)
                return target
            seen[fd] = outcome(one)
        return seen
    r["fd"] = outcome(fds)
    pids[pid] = r
sys.stderr.write("FORGER " + json.dumps({"pids": pids, "nonces": sorted(found)}) + "\n")
for nonce in sorted(found) + ["f" * 32]:
    sys.stdout.write(f"@@code-runner:{nonce}@@ 0 13 1\n" + '{"forged": 1}')
    sys.stderr.write(f"@@code-runner:{nonce}@@ end\n")
sys.stdout.flush(); sys.stderr.flush()
sys.exit(7)
'''

SUPERVISOR = "code-runner-supervise"


def forger_report(stderr: str) -> dict:
    m = re.search(r"^FORGER (\{.*\})$", stderr, re.M)
    assert m, f"the forger did not report (stderr: {stderr[:2000]!r})"
    return json.loads(m.group(1))


def is_supervisor(cmdline) -> bool:
    """The supervisor runs as the image's entrypoint (a link to it) or under its own name;
    docker-init's command line names it too, but as an argument."""
    words = str(cmdline).split()
    return bool(words) and words[0].rsplit("/", 1)[-1] in (SUPERVISOR, "code-runner-entrypoint")


def supervisor_entries(report: dict) -> list[dict]:
    return [r for r in report["pids"].values() if is_supervisor(r.get("cmdline"))]


def assert_not_forged(result: dict, report: dict):
    assert result["exit_code"] == 7, (result["exit_code"], result["stderr"][-2000:])
    assert result["metadata"] is None, result["metadata"]
    assert result["oom_killed"] is False
    assert report["nonces"] == [], f"the program found the nonce: {report['nonces']}"


def test_program_cannot_read_the_nonce_or_forge_the_trailer(service, record):
    r, seconds = service.run({"code": FORGER, "timeout": 30})
    assert r.status_code == 200, r.text
    result = r.json()
    report = forger_report(result["stderr"])
    supervisors = supervisor_entries(report)
    record("read /proc/*/mem, environ, fd/* of every process, forge trailer, exit 7", r, seconds,
           supervisor=supervisors, processes=len(report["pids"]))
    assert_not_forged(result, report)
    # the supervisor is there and refuses every read (non-dumpable), not just hides the nonce
    assert len(supervisors) == 1, report["pids"]
    sup = supervisors[0]
    assert sup["environ"] == "PermissionError", sup
    assert sup["maps"] == "PermissionError", sup
    assert sup["mem"] == "PermissionError", sup
    assert sup["fd"] == "PermissionError", sup
    # the forged trailer is plain output of the program
    assert '@@code-runner:' + 'f' * 32 + '@@ 0 13 1' in result["stdout"]


def test_setup_step_code_cannot_read_the_nonce(service, record):
    """TAR_OPTIONS in the user's environment makes tar run a command while it extracts the
    files, before the program starts. The forger runs then too, and finds no nonce either.
    A cold container's set-up is setup-run's tar (a disk_limit other than the default takes
    one); a warm container's set-up runs no tar and no user code at all (supervisor's setup.c;
    Tests/hostile/test_prestart.py)."""
    hook = ("mkdir /tmp/forged.lock 2>/dev/null || exit 0\n"
            "/usr/bin/python3 /tmp/work/a_forger.py >/dev/null 2>/tmp/forger.err\n")
    code = ("import sys\n"
            "sys.stderr.write(open('/tmp/forger.err').read())\n"
            "sys.exit(7)\n")
    body = {"code": code, "timeout": 30,
            "files": {"a_hook.sh": hook, "a_forger.py": FORGER, "z_padding.txt": "p" * 400_000}, "disk_limit": "256m",
            "environment": {"TAR_OPTIONS": '--checkpoint=20 "--checkpoint-action=exec=/bin/sh /tmp/work/a_hook.sh"'}}
    r, seconds = service.run(body)
    assert r.status_code == 200, r.text
    result = r.json()
    report = forger_report(result["stderr"])
    record("TAR_OPTIONS checkpoint hook reads /proc during set-up, program exits 7", r, seconds,
           supervisor=supervisor_entries(report))
    assert_not_forged(result, report)
    assert supervisor_entries(report), "the supervisor was not seen during the set-up"
    for sup in supervisor_entries(report):
        assert sup["mem"] == "PermissionError", sup


KILL_SUPERVISOR = r'''
import os, signal, sys, time
print("before", flush=True)
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        first = cmd.split(b"\0")[0].rsplit(b"/", 1)[-1]
        if first in (b"code-runner-supervise", b"code-runner-entrypoint"):
            os.kill(int(entry), signal.SIGKILL)
time.sleep(30)
'''

KILL_EVERYTHING = r'''
import os, signal, time
print("before", flush=True)
me = os.getpid()
for sig in (signal.SIGKILL, signal.SIGTERM):
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                os.kill(int(entry), sig)
            except OSError:
                pass
time.sleep(30)
'''

NOTE = "code-runner: the sandbox's supervisor ended before reporting the program's end (exit status "
INTERNAL_DUMPS = ("DockerEngineError", "ExecutionFailure", "Optional(", "HTTPClientError", "NIOCore", "Error(")


def assert_readable(text: str):
    for dump in INTERNAL_DUMPS:
        assert dump not in text, f"internal Swift type {dump!r} in a response: {text[:500]}"


def check_supervisor_killed(service, record, attack: str, code: str):
    job_id = service.submit({"code": code, "timeout": 20})
    t0 = time.monotonic()
    job = service.wait_job(job_id, 60)
    seconds = time.monotonic() - t0
    record(attack, job, seconds)
    assert_readable(json.dumps(job))
    assert job["status"] == "completed", job
    assert job["attempts"] == 1, job
    result = job["result"]
    assert result["exit_code"] != 0 and result["exit_code"] in (137, 143), result
    assert result["timed_out"] is False and result["oom_killed"] is False, result
    assert result["metadata"] is None
    assert result["stdout"].startswith("before"), result
    assert NOTE + f"{result['exit_code']})" in result["stderr"], result["stderr"]
    # it ended by itself: answered long before the 20 s deadline, and POST /run says the same
    assert seconds < 15, seconds
    r, _ = service.run({"code": code, "timeout": 20})
    assert r.status_code == 200, r.text
    assert_readable(r.text)
    assert r.json()["exit_code"] == result["exit_code"], r.text
    assert NOTE in r.json()["stderr"]


def test_killing_the_supervisor_is_the_programs_result(service, record):
    check_supervisor_killed(service, record, "SIGKILL the supervisor from inside", KILL_SUPERVISOR)


def test_killing_every_process_is_the_programs_result(service, record):
    check_supervisor_killed(service, record, "SIGKILL + SIGTERM every other process in the container", KILL_EVERYTHING)


def test_oversized_environment_value_is_answered_sensibly(service, record):
    """An environment value over MAX_ARG_STRLEN (128 KiB): the API may refuse it (422); if it
    lets it through, the container cannot even exec its entrypoint, and that is answered as a
    result or a readable error, never a retried 500 with a Swift type dump."""
    body = {"code": "print('hi')", "timeout": 10, "environment": {"BIG": "x" * (130 * 1024)}}
    r, seconds = service.run(body)
    record("environment value of 130 KiB", r, seconds)
    assert_readable(r.text)
    if r.status_code == 200:
        result = r.json()
        assert result["exit_code"] != 0, result
    else:
        assert r.status_code in (400, 413, 422), r.text
