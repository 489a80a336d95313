"""Judge mode (protocol CR2) of the supervisor, tested on the supervisor alone through `docker run`.

No service is needed: the supervisor is built from runtimes/common/*.c with gcc (the flags of
scripts/build-images.sh) into a temporary directory and bind-mounted read-only over
/usr/local/bin/code-runner-supervise of the runtime images (code-runner-python, code-runner-go),
in a container hardened as the worker's (Sources/Worker/Sandbox/SandboxSpec.swift): user
1000:1000, read-only root, the /tmp tmpfs with the worker's options, no capabilities,
no-new-privileges, no network, docker-init, a pids limit, memory = memory+swap, 1 CPU, stdin
attached. The request is encoded here (`cr2_request`) and the records are parsed the way the
worker does (`parse_records`: only lines that start with the nonce marker are records; anything
before a marker is skipped).

It uses none of conftest.py's fixtures (they need the service); the conftest's autouse fixtures
only act on tests that use `service`. Tests skip when docker, gcc or the images are missing.

Every case of one run executes the same program, as in a judge: AGENT (main.py) reads a command
from its stdin and does that (echo, sleep, allocate, fork-bomb, fill /tmp, leave a writer
behind, forge records, modify the work dir, ...). No test sleeps to synchronise; programs inside
the containers may sleep (a case that sleeps past its timeout).

The overhead test prints (does not assert) the time per case beyond the program's own wall time.
JUDGE_TEST_RUNTIME=runsc runs the containers under that OCI runtime (as SANDBOX_RUNTIME would).
Run: cd /work/main && python3 -m pytest -q -p no:cacheprovider Tests/hostile/test_judge_supervisor.py
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "runtimes" / "common"
PYTHON_IMAGE = "code-runner-python:latest"
GO_IMAGE = "code-runner-go:latest"
SUPERVISOR_IN_IMAGE = "/usr/local/bin/code-runner-supervise"
TMPFS_MB = 128
MIB = 1 << 20
UNDER_GVISOR = os.environ.get("JUDGE_TEST_RUNTIME", "").startswith("runsc")


def gvisor_limit(reason: str):
    """Marks what gVisor itself does differently (measured with Debian's runsc 2022-12-19)."""
    if UNDER_GVISOR:
        pytest.xfail("gVisor: " + reason)


# --------------------------------------------------------------------------------------------
# building the supervisor, running containers
# --------------------------------------------------------------------------------------------

def _cflags() -> list[str]:
    """SUPERVISOR_CFLAGS of scripts/build-images.sh (fallback: the flags it had when written)."""
    text = (ROOT / "scripts" / "build-images.sh").read_text()
    m = re.search(r"^SUPERVISOR_CFLAGS=\(([^)]*)\)", text, re.M)
    return m.group(1).split() if m else ["-static", "-O2", "-Wall", "-Wextra", "-Werror"]


def _sources() -> list[str]:
    """The supervisor's C files: supervise.c first, then the others of runtimes/common."""
    return [str(COMMON / "supervise.c")] + sorted(str(p) for p in COMMON.glob("*.c") if p.name != "supervise.c")


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory) -> Path:
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the supervisor")
    for image in (PYTHON_IMAGE, GO_IMAGE):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
            pytest.skip(f"{image} is not built (scripts/build-images.sh)")
    out = tmp_path_factory.mktemp("supervisor") / "code-runner-supervise"
    build = subprocess.run(["gcc", *_cflags(), "-o", str(out), *_sources()], capture_output=True, text=True)
    assert build.returncode == 0, f"the supervisor does not compile:\n{build.stderr}"
    assert build.stderr.strip() == "", f"compiler warnings:\n{build.stderr}"
    out.chmod(0o755)
    return out


def docker_args(image: str, supervisor: Path | None, *, name: str, memory: str = "512m", pids: int = 256,
                tmpfs_mb: int = TMPFS_MB, cpus: str = "1") -> list[str]:
    """`docker run` as the worker creates its containers (SandboxSpec); `supervisor` None keeps the
    image's own binary."""
    args = [
        "docker", "run", "--rm", "-i", "--name", name, "--label", "code-runner.test=judge-supervisor",
        "--init", "--user", "1000:1000", "--read-only",
        "--tmpfs", f"/tmp:rw,exec,nosuid,nodev,size={tmpfs_mb}m,uid=1000,gid=1000,mode=0755",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none",
        "--pids-limit", str(pids), "--memory", memory, "--memory-swap", memory, "--cpus", cpus,
        "--shm-size", "1m", "--log-driver", "none",
    ]
    if os.environ.get("JUDGE_TEST_RUNTIME"):  # e.g. runsc, as SANDBOX_RUNTIME would
        args += ["--runtime", os.environ["JUDGE_TEST_RUNTIME"]]
    if supervisor is not None:
        args += ["-v", f"{supervisor}:{SUPERVISOR_IN_IMAGE}:ro"]
    return args + [image]


@dataclass
class Finished:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, stdout bytes so far)


def run_container(args: list[str], data: bytes, timeout: float = 180) -> Finished:
    """Runs the container with `data` on its stdin; stdout is read as it streams (arrival times)."""
    name = args[args.index("--name") + 1]
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err_chunks: list[bytes] = []

    def feed():
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def drain_err():
        err_chunks.append(proc.stderr.read())

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain_err, daemon=True)]
    for t in threads:
        t.start()
    out = bytearray()
    arrivals = []
    killer = threading.Timer(timeout, lambda: subprocess.run(["docker", "rm", "-f", name], capture_output=True))
    killer.start()
    try:
        while True:
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            out += chunk
            arrivals.append((time.monotonic(), len(out)))
        proc.wait()
        for t in threads:
            t.join()
    finally:
        killer.cancel()
    assert time.monotonic() - t0 < timeout, f"the container ran longer than {timeout} s"
    return Finished(proc.returncode, bytes(out), b"".join(err_chunks), time.monotonic() - t0, arrivals)


# --------------------------------------------------------------------------------------------
# the protocol: request and records
# --------------------------------------------------------------------------------------------

def tar_of(files: dict[str, object]) -> bytes:
    """ustar/pax archive of {path: bytes | str | ("symlink", target) | (bytes, mode)}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1735689600
            mode = 0o644
            if isinstance(content, tuple) and content[0] == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = content[1]
                tar.addfile(info)
                continue
            if isinstance(content, tuple):
                content, mode = content
            data = content.encode() if isinstance(content, str) else content
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def b64(command: str | None) -> str:
    return "-" if command is None else base64.b64encode(command.encode()).decode()


def cases_section(cases: list[tuple[bytes | str, int]]) -> bytes:
    out = b""
    for stdin, timeout_ms in cases:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        out += b"%d %d\n" % (len(data), timeout_ms) + data
    return out


def cr2_request(nonce: str, archive: bytes, cases: list[tuple[bytes | str, int]] | bytes, run_cmd: str | None,
                build_cmd: str | None = None, output_cap: int = 1 << 20, deadline_ms: int = 120_000,
                metadata_cap: int = 65536) -> bytes:
    section = cases if isinstance(cases, bytes) else cases_section(cases)
    header = (f"CR2 {nonce} {len(archive)} {len(section)} {metadata_cap} {b64(run_cmd)} {b64(build_cmd)} "
              f"{output_cap} {deadline_ms}\n")
    return header.encode() + archive + section


@dataclass
class Record:
    kind: str  # build, case, done
    fields: list[str]
    stdout: bytes = b""
    stderr: bytes = b""
    end: int = 0  # offset in the stream just past the record

    # case records
    @property
    def index(self) -> int: return int(self.fields[0])
    @property
    def status(self) -> int: return int(self.fields[1] if self.kind == "case" else self.fields[0])
    @property
    def wall_us(self) -> int: return int(self.fields[2] if self.kind == "case" else self.fields[1])
    @property
    def cpu_us(self) -> int: return int(self.fields[3])
    @property
    def maxrss(self) -> int: return int(self.fields[4])
    @property
    def flags(self) -> str:
        f = self.fields[5] if self.kind == "case" else self.fields[2]
        return "" if f == "-" else f


def parse_records(stream: bytes, nonce: str) -> tuple[list[Record], list[bytes]]:
    """Records (as the worker reads them) and the bytes between them (skipped)."""
    marker = f"@@code-runner:{nonce}@@ ".encode()
    records, skipped, pos = [], [], 0
    while True:
        at = stream.find(marker, pos)
        if at < 0:
            skipped.append(stream[pos:])
            return records, skipped
        skipped.append(stream[pos:at])
        nl = stream.find(b"\n", at)
        assert nl >= 0, f"record line without newline at {at}"
        words = stream[at + len(marker):nl].decode().split(" ")
        rec = Record(words[0], words[1:])
        pos = nl + 1
        if rec.kind == "case":
            assert len(rec.fields) == 8, words
            out_len, err_len = int(rec.fields[6]), int(rec.fields[7])
            rec.stdout = stream[pos:pos + out_len]
            rec.stderr = stream[pos + out_len:pos + out_len + err_len]
            assert len(rec.stdout) == out_len and len(rec.stderr) == err_len, "record payload cut short"
            pos += out_len + err_len
        else:
            assert rec.kind in ("build", "done") and len(rec.fields) == (3 if rec.kind == "build" else 1), words
        rec.end = pos
        records.append(rec)


@dataclass
class Judged:
    finished: Finished
    nonce: str
    records: list[Record]
    skipped: list[bytes]

    @property
    def build(self) -> Record: return self.records[0]
    @property
    def cases(self) -> list[Record]: return [r for r in self.records if r.kind == "case"]
    @property
    def done(self) -> Record: return self.records[-1]

    def case(self, i: int) -> Record:
        found = [r for r in self.cases if r.index == i]
        assert found, f"no record for case {i}"
        return found[0]

    def build_output(self) -> bytes:
        return self.skipped[0]


def judge(image: str, supervisor: Path, *, files: dict[str, object], cases, run_cmd: str | None,
          build_cmd: str | None = None, output_cap: int = 1 << 20, deadline_ms: int = 120_000, timeout: float = 180,
          **docker_opts) -> Judged:
    """Runs one CR2 request and checks the stream's shape: the end marker once on stderr, then
    build record, case records 0..n-1 in order, done n, exit 0."""
    nonce = secrets.token_hex(16)
    request = cr2_request(nonce, tar_of(files), cases, run_cmd, build_cmd, output_cap, deadline_ms)
    name = f"cr-judge-test-{uuid.uuid4().hex[:10]}"
    finished = run_container(docker_args(image, supervisor, name=name, **docker_opts), request, timeout)
    records, skipped = parse_records(finished.stdout, nonce)
    where = f"\nstdout tail: {finished.stdout[-800:]!r}\nstderr: {finished.stderr[-1500:]!r}"
    assert finished.returncode == 0, f"exit {finished.returncode}" + where
    assert finished.stderr.count(f"@@code-runner:{nonce}@@ end\n".encode()) == 1, "stderr end marker" + where
    assert records and records[0].kind == "build" and records[-1].kind == "done", where
    cases_seen = [r for r in records[1:-1]]
    assert all(r.kind == "case" for r in cases_seen), where
    assert [r.index for r in cases_seen] == list(range(len(cases_seen))), where
    assert int(records[-1].fields[0]) == len(cases_seen), where
    return Judged(finished, nonce, records, skipped)


# --------------------------------------------------------------------------------------------
# the program every case of a Python run executes
# --------------------------------------------------------------------------------------------

AGENT = r'''
import ctypes, hashlib, json, os, re, select, signal, stat, sys, time

def procs_left():
    """Processes other than PID 1, this one and its ancestors."""
    mine, pid = {1, os.getpid()}, os.getpid()
    while pid > 1:
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
        mine.add(pid)
    found = []
    for e in os.listdir("/proc"):
        if e.isdigit() and int(e) not in mine:
            try:
                found.append(open(f"/proc/{e}/cmdline", "rb").read().replace(b"\0", b" ").decode().strip() or e)
            except OSError:
                pass
    return found

def manifest(top="/tmp/work"):
    lines = []
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if stat.S_ISLNK(st.st_mode):
                lines.append(f"{rel} l {oct(st.st_mode & 0o7777)} {os.readlink(p)}")
            elif stat.S_ISDIR(st.st_mode):
                lines.append(f"{rel} d {oct(st.st_mode & 0o7777)}")
            else:
                lines.append(f"{rel} f {oct(st.st_mode & 0o7777)} {hashlib.sha256(open(p, 'rb').read()).hexdigest()}")
    return "\n".join(lines)

def fill(path):
    total, block = 0, b"f" * (1 << 20)
    try:
        with open(path, "wb") as f:
            while True:
                f.write(block); f.flush(); total += len(block)
    except OSError:
        pass
    return total

words = sys.stdin.readline().split()
rest = sys.stdin.read()
cmd, args = words[0], words[1:]

if cmd == "echo":                       # stdout: the rest of stdin; stderr: a line; exit code
    sys.stdout.write(rest)
    sys.stderr.write(f"stderr of {args[1] if len(args) > 1 else 'echo'}\n")
    sys.exit(int(args[0]))
elif cmd == "sleep":
    time.sleep(float(args[0])); print("woke")
elif cmd == "bigout":
    sys.stdout.buffer.write(b"o" * int(args[0]))
elif cmd == "bigerr":
    sys.stderr.buffer.write(b"e" * int(args[0]))
elif cmd == "alloc":                    # touch N MiB
    block = bytearray(int(args[0]) << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    print("allocated", args[0])
elif cmd == "cpu":                      # busy for N seconds of CPU
    end = time.process_time() + float(args[0])
    while time.process_time() < end:
        pass
    print("spun")
elif cmd == "bomb":
    while True:
        try:
            os.fork()
        except OSError:
            pass
elif cmd == "forkmany":                 # N children alive at once, then all reaped
    r, w = os.pipe()
    kids = []
    for _ in range(int(args[0])):
        pid = os.fork()
        if pid == 0:
            os.close(w); os.read(r, 1); os._exit(0)
        kids.append(pid)
    os.close(w)
    for pid in kids:
        os.waitpid(pid, 0)
    print("forked", len(kids))
elif cmd == "procs":
    print(json.dumps(procs_left()))
elif cmd == "fill":                     # every path until ENOSPC
    print(json.dumps([fill(p) for p in args]))
elif cmd == "write":                    # write N MiB to a path; fail loudly
    st = os.statvfs("/tmp")
    with open(args[0], "wb") as f:
        for _ in range(int(args[1])):
            f.write(b"w" * (1 << 20))
    print("wrote", args[1], "free before", st.f_bavail * st.f_frsize)
elif cmd == "shm":                      # a System V segment of N MiB, touched and left behind
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    size = int(args[0]) << 20
    sid = libc.shmget(0, ctypes.c_size_t(size), 0o1600)
    addr = libc.shmat(sid, None, 0)
    ctypes.memset(addr, 1, size)
    print("shm", sid, addr is not None)
elif cmd == "ipcs":
    print(len(open("/proc/sysvipc/shm").read().splitlines()) - 1)
elif cmd == "leak":                     # a detached writer that outlives the case
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(r)
            first = True
            while True:
                try:
                    os.write(1, b"LEAK\n")
                    with open("/tmp/home/leak.txt", "a") as f:
                        f.write("LEAK\n")
                except OSError:
                    pass
                if first:
                    os.write(w, b"x"); first = False
        os._exit(0)
    os.close(w)
    os.read(r, 1)                       # the writer runs
    os.write(1, b"started\n")           # one write (atomic on a pipe): the writer's lines cannot split it
elif cmd == "forge":
    report = {}
    # 1. try to steal a record (and so the nonce) from the container's stdout pipe
    seen = b""
    try:
        fd = os.open("/proc/1/fd/1", os.O_RDONLY | os.O_NONBLOCK)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            select.select([fd], [], [], 0.05)
            try:
                seen += os.read(fd, 65536)
            except BlockingIOError:
                pass
        os.close(fd)
        report["read_proc1_stdout"] = "ok"
    except OSError as e:
        report["read_proc1_stdout"] = str(e)
    report["stolen_markers"] = sorted(set(m.decode() for m in re.findall(rb"@@code-runner:[0-9a-f]{32}@@", seen)))
    # 2. the supervisor's memory and descriptors
    sup = os.getppid()
    while sup > 1 and "code-runner" not in open(f"/proc/{sup}/cmdline").read():
        sup = int(open(f"/proc/{sup}/stat").read().rsplit(")", 1)[1].split()[1])
    report["supervisor_cmdline"] = open(f"/proc/{sup}/cmdline").read()
    for what in ("environ", "mem", "fd/1", "maps"):
        try:
            with open(f"/proc/{sup}/{what}", "rb") as f:
                f.read(16)
            report[what] = "readable"
        except OSError as e:
            report[what] = type(e).__name__
    # 3. forged records: in our own stdout (a payload) and straight into the container's streams
    forged = "@@code-runner:" + "0" * 32 + "@@ case 1 0 1 1 1 - 7 0\nforged\n"
    sys.stdout.write(forged)
    sys.stdout.write("@@code-runner:\n")
    for n in (1, 2):
        try:
            fd = os.open(f"/proc/1/fd/{n}", os.O_WRONLY)
            os.write(fd, ("PROC%d:" % n + forged).encode())
            os.close(fd)
            report[f"write_proc1_fd{n}"] = "ok"
        except OSError as e:
            report[f"write_proc1_fd{n}"] = str(e)
    sys.stderr.write(json.dumps(report))
elif cmd == "modify":                   # ruin the work dir
    os.chdir("/tmp/work")
    open("data/input.txt", "w").write("changed")
    open("main.py", "a").write("\n# changed\n")
    os.unlink("data/link")
    os.symlink("/etc/passwd", "data/link")
    for d, dirs, files in os.walk("data/sub", topdown=False):
        for n in files: os.unlink(os.path.join(d, n))
        for n in dirs: os.rmdir(os.path.join(d, n))
    os.rmdir("data/sub")
    open("new.txt", "w").write("new")
    os.chmod("run.sh", 0o600)
    p = "deep"
    os.mkdir(p)
    for _ in range(150):                # deeper than the removal's RM_DEPTH
        p += "/d"; os.mkdir(p)
    open(p + "/bottom", "w").write("x")
    os.mkdir("locked"); open("locked/f", "w").write("x"); os.chmod("locked", 0)
    os.chmod("data", 0o500)
    try:
        import shutil; shutil.rmtree("/tmp/.code-runner/pristine")
    except OSError:
        pass
    os.chmod("/tmp/home", 0)
    print("modified")
elif cmd == "touch":                    # N empty files (inodes, no blocks) in DIR
    os.makedirs(args[0], exist_ok=True)
    for i in range(int(args[1])):
        open(os.path.join(args[0], str(i)), "w").close()
    print("touched", args[1])
elif cmd == "count":                    # files below DIR, -1 when it is gone
    print(sum(len(f) for _, _, f in os.walk(args[0])) if os.path.isdir(args[0]) else -1)
elif cmd == "killsup":                  # the program may kill the supervisor (same uid)
    sup = os.getppid()
    while "code-runner" not in open(f"/proc/{sup}/cmdline").read():
        sup = int(open(f"/proc/{sup}/stat").read().rsplit(")", 1)[1].split()[1])
    os.kill(sup, signal.SIGKILL)
    print("killed", sup)
elif cmd == "manifest":
    print(manifest())
    print("home", oct(os.stat("/tmp/home").st_mode & 0o777))
else:
    print("unknown command", cmd); sys.exit(99)
'''


def python_judge(supervisor: Path, cases, files: dict | None = None, **kw) -> Judged:
    return judge(PYTHON_IMAGE, supervisor, files={"main.py": AGENT, **(files or {})}, cases=cases,
                 run_cmd="python3 main.py", **kw)


# --------------------------------------------------------------------------------------------
# behaviours
# --------------------------------------------------------------------------------------------

def test_cases_with_their_own_stdin_and_exit_status(supervisor):
    j = python_judge(supervisor, [("echo 0 a\nfirst input\n", 5000), ("echo 3 b\nsecond\n", 5000),
                                  ("echo 0 c\n", 5000), ("echo 42 d\n" + "x" * 100_000, 5000)])
    assert (j.build.status, j.build.wall_us, j.build.flags) == (0, 0, "")  # no build step
    assert [c.status for c in j.cases] == [0, 3, 0, 42]
    assert [c.stdout for c in j.cases] == [b"first input\n", b"second\n", b"", b"x" * 100_000]
    assert [c.stderr for c in j.cases] == [b"stderr of a\n", b"stderr of b\n", b"stderr of c\n", b"stderr of d\n"]
    assert all(c.flags == "" for c in j.cases)
    assert all(0 < c.wall_us < 5_000_000 for c in j.cases)


def test_timeout_ends_one_case_and_later_ones_pass(supervisor):
    j = python_judge(supervisor, [("sleep 30\n", 400), ("echo 0\nafter\n", 5000), ("sleep 0.05\n", 5000)])
    slow = j.case(0)
    assert slow.flags == "t" and slow.status == 128 + 9, slow.fields
    assert 400_000 <= slow.wall_us < 3_000_000
    assert (j.case(1).status, j.case(1).stdout, j.case(1).flags) == (0, b"after\n", "")
    assert (j.case(2).status, j.case(2).stdout) == (0, b"woke\n")
    assert j.finished.seconds < 20


def test_deadline_ends_the_run(supervisor):
    j = python_judge(supervisor, [("echo 0\nquick\n", 5000), ("sleep 60\n", 50_000), ("echo 0\nnever\n", 5000)],
                     deadline_ms=2500)
    assert j.case(0).stdout == b"quick\n"
    assert j.case(1).flags == "T" and j.case(1).status == 137, j.case(1).fields
    assert len(j.cases) == 2 and j.done.fields == ["2"]  # case 2 got no record
    assert j.finished.seconds < 15


def test_output_over_the_cap(supervisor):
    cap = 1000
    j = python_judge(supervisor, [("bigout 1000000\n", 10_000), ("bigerr 1000000\n", 10_000),
                                  ("bigout 1000\n", 10_000), ("bigout 1001\n", 10_000), ("echo 0\nfine\n", 5000)],
                     output_cap=cap)
    out, err, exact, one_over, fine = j.cases
    assert out.flags == "o" and out.stdout == b"o" * cap and out.status == 137, out.fields
    assert err.flags == "e" and err.stderr == b"e" * cap and err.stdout == b"", err.fields
    assert exact.flags == "" and exact.stdout == b"o" * cap and exact.status == 0
    assert "o" in one_over.flags and one_over.stdout == b"o" * cap
    assert (fine.flags, fine.stdout, fine.status) == ("", b"fine\n", 0)


def test_memory_exceeded_then_next_case_fine(supervisor):
    gvisor_limit("the host's OOM killer ends the whole sandbox (exit 137, no done): no per-process OOM kill inside")
    j = python_judge(supervisor, [("alloc 600\n", 20_000), ("alloc 100\n", 20_000), ("shm 100\n", 20_000),
                                  ("alloc 180\n", 20_000), ("ipcs\n", 5000)], memory="256m")
    oom, ok, shm, after_shm, ipcs = j.cases
    assert "m" in oom.flags and oom.status == 137, oom.fields
    assert (ok.status, ok.flags, ok.stdout) == (0, "", b"allocated 100\n")
    assert shm.status == 0 and shm.stdout.startswith(b"shm "), shm.stdout + shm.stderr
    # the segment (100 MiB, charged to the container) was removed after its case
    assert (after_shm.status, after_shm.flags) == (0, ""), after_shm.fields + [after_shm.stderr[-300:]]
    assert ipcs.stdout == b"0\n"


def test_fork_bomb_then_next_case_fine(supervisor):
    gvisor_limit("the pids limit counts the sandbox's own host threads: a fork bomb ends the sandbox (exit 2)")
    j = python_judge(supervisor, [("bomb\n", 1500), ("forkmany 40\n", 20_000), ("procs\n", 5000)], pids=100)
    bomb, many, procs = j.cases
    assert "t" in bomb.flags and bomb.status == 137, bomb.fields
    assert (many.status, many.stdout) == (0, b"forked 40\n"), many.stderr[-500:]
    assert json.loads(procs.stdout) == []


def test_filling_tmp_does_not_reach_the_next_case(supervisor):
    size_mb = TMPFS_MB
    sixty = size_mb * 6 // 10
    j = python_judge(supervisor, [
        # nested in a directory that existed at the snapshot (only the usage walk finds it), a new
        # top-level one, and the work dir
        ("fill /tmp/home/.cache/filler /tmp/newdir.bin /tmp/work/fill\n", 60_000),
        (f"write /tmp/home/.cache/big {sixty}\n", 60_000),
        (f"write /tmp/home/.cache/big2 {sixty}\n", 60_000),
        (f"write /tmp/work/big {sixty}\n", 60_000),
        (f"write /tmp/big {sixty}\n", 60_000),
    ])
    filled = json.loads(j.case(0).stdout)
    assert filled[0] >= (size_mb - 16) * MIB, filled  # the tmpfs was full
    for c in j.cases[1:]:
        assert c.status == 0 and c.stdout.startswith(f"wrote {sixty}".encode()), (c.index, c.stderr[-300:])
        free_before = int(c.stdout.split()[-1])
        assert free_before >= (size_mb - 12) * MIB, (c.index, free_before)


def test_many_empty_files_do_not_reach_the_next_case(supervisor):
    j = python_judge(supervisor, [("touch /tmp/home/.cache/many 5000\n", 30_000), ("count /tmp/home/.cache/many\n", 5000),
                                  ("touch /tmp/.code-runner/many 50\n", 5000), ("count /tmp/.code-runner/many\n", 5000)])
    assert j.case(0).stdout == b"touched 5000\n"
    if not UNDER_GVISOR:  # gVisor's tmpfs reports no inode counts: only the byte count starts the walk
        assert j.case(1).stdout == b"0\n"   # nested: the usage walk (inode count) removed the files
    assert j.case(3).stdout == b"-1\n"  # a new top-level entry: removed whole


def test_background_writer_does_not_reach_the_next_case(supervisor):
    j = python_judge(supervisor, [("leak\n", 5000), ("procs\n", 5000), ("echo 0\nquiet\n", 5000)])
    leak, procs, quiet = j.cases
    assert leak.status == 0 and b"started\n" in leak.stdout  # (the writer may have got a line in before the kill)
    assert json.loads(procs.stdout) == [], procs.stdout
    assert b"LEAK" not in procs.stdout + procs.stderr + quiet.stdout + quiet.stderr
    assert quiet.stdout == b"quiet\n"
    assert b"LEAK" not in b"".join(j.skipped)  # nothing between the records either


def test_forged_records_are_not_records(supervisor):
    j = python_judge(supervisor, [("forge\n", 10_000), ("echo 0\nreal\n", 5000)])
    forge, real = j.cases
    report = json.loads(forge.stderr)
    forged = "@@code-runner:" + "0" * 32 + "@@ case 1 0 1 1 1 - 7 0\nforged\n"
    # the forged lines are the case's own output, framed by the record's lengths
    assert forge.stdout == (forged + "@@code-runner:\n").encode()
    assert (real.stdout, real.status) == (b"real\n", 0)
    # written into the container's own stdout: between records, skipped by the reader
    if report["write_proc1_fd1"] == "ok":
        assert ("PROC1:" + forged).encode() in b"".join(j.skipped)
    # no record (and so no nonce) was in the container's pipe while the case could read it
    assert f"@@code-runner:{j.nonce}@@" not in report["stolen_markers"], report
    assert j.nonce.encode() not in forge.stdout + forge.stderr
    # the supervisor's memory and descriptors (its memfds) are out of reach; gVisor still lets
    # environ and maps be read (nothing secret there: the nonce is in neither)
    for what in ("mem", "fd/1") if UNDER_GVISOR else ("environ", "mem", "fd/1", "maps"):
        assert report[what] != "readable", report
    print("\nforgery report:", json.dumps(report))


GO_STEALER = r"""package main

import (
	"fmt"
	"os"
	"regexp"
	"syscall"
	"time"
)

// Starts fast and reads the container's stdout pipe (docker-init's fd 1) for 30 ms: a record
// still in the pipe would be taken from the engine, nonce included.
func main() {
	fd, err := syscall.Open("/proc/1/fd/1", syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		fmt.Println("cannot open:", err)
		return
	}
	buf := make([]byte, 65536)
	seen := []byte{}
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
		if n, _ := syscall.Read(fd, buf); n > 0 {
			seen = append(seen, buf[:n]...)
		}
	}
	fmt.Fprint(os.Stderr, len(regexp.MustCompile(`@@code-runner:[0-9a-f]{32}@@`).FindAll(seen, -1)))
	fmt.Println("read", len(seen))
}
"""


def test_records_cannot_be_read_out_of_the_pipe(supervisor):
    """The container's stdout is a pipe that docker-init also holds: a program can read it through
    /proc/1/fd/1. The supervisor starts a case only once the engine has read every record (without
    that wait, on a loaded host, cases of this program took records - and the nonce - out of the
    stream: 2 to 4 of 60)."""
    j = judge(GO_IMAGE, supervisor, files={"main.go": GO_STEALER}, cases=[("\n", 5000)] * 100,
              run_cmd="exec /tmp/.code-runner/main", build_cmd="go build -o /tmp/.code-runner/main .", cpus="2")
    assert len(j.cases) == 100  # judge() checked that none is missing
    assert all(c.stdout.startswith(b"read ") and c.stderr == b"0" for c in j.cases), [
        (c.index, c.stdout, c.stderr) for c in j.cases if c.stderr != b"0"]


def test_program_can_kill_the_supervisor(supervisor):
    """Same uid: a case may kill the supervisor. The container then ends without "done" (the
    worker reports it), and nothing after the case's start reaches the stream."""
    nonce = secrets.token_hex(16)
    request = cr2_request(nonce, tar_of({"main.py": AGENT}), [("echo 0\nfirst\n", 5000), ("killsup\n", 5000),
                                                              ("echo 0\nnever\n", 5000)], "python3 main.py")
    f = run_container(docker_args(PYTHON_IMAGE, supervisor, name=f"cr-judge-test-{uuid.uuid4().hex[:10]}"), request)
    records, _ = parse_records(f.stdout, nonce)
    assert [r.kind for r in records] == ["build", "case"] and records[1].stdout == b"first\n"
    assert f.returncode == 128 + 9, f.returncode


def test_work_dir_is_pristine_for_every_case(supervisor):
    files = {"data/input.txt": "original\n", "data/sub/deep.txt": "deep\n", "run.sh": ("#!/bin/sh\necho hi\n", 0o755),
             "data/link": ("symlink", "input.txt")}
    j = python_judge(supervisor, [("manifest\n", 10_000), ("modify\n", 10_000), ("manifest\n", 10_000),
                                  ("manifest\n", 10_000)], files=files)
    first, modify, again, third = j.cases
    assert modify.stdout == b"modified\n", modify.stderr[-800:]
    assert first.status == again.status == third.status == 0
    assert first.stdout == again.stdout == third.stdout, (first.stdout, again.stdout)
    m = first.stdout.decode()
    assert "run.sh f 0o755" in m and "data/link l 0o777 input.txt" in m and "data/sub/deep.txt f" in m
    assert "new.txt" not in m and "deep/d" not in m and "locked" not in m
    assert m.strip().endswith("home 0o755")


def test_cpu_and_maxrss_are_plausible(supervisor):
    j = python_judge(supervisor, [("cpu 0.25\n", 10_000), ("alloc 100\n", 10_000), ("echo 0\n", 5000)])
    cpu, mem, small = j.cases
    assert cpu.cpu_us >= 100_000 and cpu.wall_us >= cpu.cpu_us * 0.8, cpu.fields
    assert mem.maxrss >= 100 * MIB, mem.fields
    assert 0 <= small.cpu_us < 1_000_000 and 0 < small.maxrss < 64 * MIB, small.fields
    assert cpu.maxrss < 64 * MIB  # the supervisor's memory (cases, snapshot) is not counted


def test_build_failure_reports_and_runs_no_case(supervisor):
    j = judge(GO_IMAGE, supervisor, files={"main.go": "package main\n\nfunc main() { this is not go }\n"},
              cases=[("1\n", 5000)], run_cmd="exec /tmp/.code-runner/main",
              build_cmd="go build -o /tmp/.code-runner/main .")
    assert j.build.status != 0 and j.build.flags == "", j.build.fields
    assert j.cases == [] and j.done.fields == ["0"]
    marker = f"@@code-runner:{j.nonce}@@ end".encode()
    before_marker = j.finished.stderr.split(marker)[0]
    assert b"main.go" in before_marker, j.finished.stderr[-1000:]  # the compiler's message, as build output


def test_build_step_and_its_deadline(supervisor):
    j = python_judge(supervisor, [("echo 0\nx\n", 5000)], build_cmd="echo building; exit 3")
    assert j.build.status == 3 and j.cases == [] and j.build_output() == b"building\n"
    j = python_judge(supervisor, [("echo 0\nx\n", 5000)], build_cmd="sleep 30", deadline_ms=1000)
    assert j.build.flags == "T" and j.build.status == 137 and j.cases == [], j.build.fields
    assert 500_000 <= j.build.wall_us < 5_000_000  # the deadline counts from the header
    j = python_judge(supervisor, [("manifest\n", 5000)], build_cmd="echo built > made.txt; echo compiled")
    assert (j.build.status, j.build_output()) == (0, b"compiled\n")
    assert b"made.txt f 0o644" in j.case(0).stdout


def test_setup_failure_is_build_status_2(supervisor):
    nonce = secrets.token_hex(16)
    request = cr2_request(nonce, b"this is not a tar archive" * 40, [("echo 0\n", 5000)], "python3 main.py")
    f = run_container(docker_args(PYTHON_IMAGE, supervisor, name=f"cr-judge-test-{uuid.uuid4().hex[:10]}"), request)
    records, _ = parse_records(f.stdout, nonce)
    assert f.returncode == 0 and [r.kind for r in records] == ["build", "done"], (f.stdout, f.stderr)
    assert records[0].status == 2 and records[1].fields == ["0"]
    assert b"could not extract the files" in f.stderr.split(f"@@code-runner:{nonce}@@ end".encode())[0]


def test_default_run_command(supervisor):
    """run_cmd "-": $RT_DEFAULT_CMD of the image (python3 main.py)."""
    j = judge(PYTHON_IMAGE, supervisor, files={"main.py": "print(input()[::-1])"}, cases=[("abc\n", 5000)], run_cmd=None)
    assert j.case(0).stdout == b"cba\n"


def test_short_archive_exits_125(supervisor):
    nonce = secrets.token_hex(16)
    request = f"CR2 {nonce} 5000 8 100 - - 100 1000\n".encode() + b"x" * 100
    f = run_container(docker_args(PYTHON_IMAGE, supervisor, name=f"cr-judge-test-{uuid.uuid4().hex[:10]}"), request)
    assert f.returncode == 125 and b"@@code-runner" not in f.stdout + f.stderr, (f.returncode, f.stderr)
    assert b"stdin ended after 100 of 5000 archive bytes" in f.stderr


def _malformed_sections() -> dict[str, bytes]:
    return {
        "no cases": b"",
        "not a number": b"x 100\n",
        "no newline": b"3 100",
        "two spaces": b"3  100\nabc",
        "timeout zero": b"3 0\nabc",
        "stdin past the end": b"10 100\nabc",
        "garbage after the last": b"3 100\nabcjunk",
        "more than 1000": cases_section([(b"", 100)] * 1001),
        "sixteen digits": b"0000000000000003 100\nabc",
    }


@pytest.mark.parametrize("what", list(_malformed_sections()))
def test_malformed_cases_section_exits_125(supervisor, what):
    nonce = secrets.token_hex(16)
    request = cr2_request(nonce, tar_of({"main.py": "print(1)"}), _malformed_sections()[what], "python3 main.py")
    name = f"cr-judge-test-{uuid.uuid4().hex[:10]}"
    f = run_container(docker_args(PYTHON_IMAGE, supervisor, name=name), request, timeout=60)
    assert f.returncode == 125, (f.returncode, f.stderr)
    assert b"@@code-runner" not in f.stdout + f.stderr
    assert b"malformed cases section" in f.stderr, f.stderr


@pytest.mark.parametrize("header", [
    "CR2 {n} 0 8 100 - - 100",                              # a field short
    "CR2 {n} 0 8 100 - - 0 1000",                           # output_cap 0
    "CR2 {n} 0 8 100 !!! - 100 1000",                       # run_cmd not base64
    "CR2 {n} 0 8 100 - - 100 1000 extra",
])
def test_malformed_cr2_header_exits_125(supervisor, header):
    nonce = secrets.token_hex(16)
    request = (header.format(n=nonce) + "\n").encode() + b"0 100\n"
    name = f"cr-judge-test-{uuid.uuid4().hex[:10]}"
    f = run_container(docker_args(PYTHON_IMAGE, supervisor, name=name), request, timeout=60)
    assert f.returncode == 125 and b"malformed protocol header" in f.stderr, (f.returncode, f.stderr)
    assert b"@@code-runner" not in f.stdout


# The supervisor as it was before CR2 (the last commit with CR1 only): the reference for CR1.
CR1_REFERENCE_COMMIT = "1de8c7e"


@pytest.fixture(scope="module")
def cr1_reference(supervisor, tmp_path_factory) -> Path | None:
    """supervise.c of CR1_REFERENCE_COMMIT built like ours; None (the image's own binary, built
    before CR2 was installed in the images) when git cannot give it."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{CR1_REFERENCE_COMMIT}:runtimes/common/supervise.c"],
                         capture_output=True)
    if src.returncode != 0:
        return None
    d = tmp_path_factory.mktemp("cr1-reference")
    (d / "supervise.c").write_bytes(src.stdout)
    build = subprocess.run(["gcc", *_cflags(), "-o", str(d / "code-runner-supervise"), str(d / "supervise.c")],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return d / "code-runner-supervise"


CR1_PROGRAM = ("import sys\nfrom sdk import set_metadata\nsys.stdout.write(sys.stdin.read().upper())\n"
               "sys.stderr.write('to stderr\\n')\nset_metadata({'k': 'v'})\nsys.exit(3)\n")


@pytest.mark.parametrize("what", ["run", "custom entrypoint", "no trailing field", "unknown version"])
def test_cr1_unchanged_byte_for_byte(supervisor, cr1_reference, what):
    """The same CR1 input to the supervisor before CR2 (cr1_reference) and to this one."""
    nonce = secrets.token_hex(16)
    archive = tar_of({"main.py": CR1_PROGRAM})
    stdin = b"hello cr1\n"
    entry = "-" if what != "custom entrypoint" else b64("echo via entrypoint; python3 main.py")
    header = f"CR1 {nonce} {len(archive)} {len(stdin)} 4096 {entry}\n"
    if what == "no trailing field":
        header = f"CR1 {nonce} {len(archive)} {len(stdin)} 4096\n"
    if what == "unknown version":
        header = f"CR9 {nonce} {len(archive)} {len(stdin)} 4096 -\n"
    request = header.encode() + archive + stdin
    results = []
    for binary in (cr1_reference, supervisor):
        name = f"cr-judge-test-{uuid.uuid4().hex[:10]}"
        f = run_container(docker_args(PYTHON_IMAGE, binary, name=name), request, timeout=60)
        results.append((f.returncode, f.stdout, f.stderr))
    assert results[0] == results[1]
    if what in ("run", "custom entrypoint"):
        rc, out, err = results[1]
        meta = b'{"k": "v"}'
        oom = -1 if UNDER_GVISOR else 0  # gVisor has no cgroup OOM counter
        assert rc == 3 and out.endswith(f"@@code-runner:{nonce}@@ 3 {len(meta)} {oom}\n".encode() + meta), out
        assert err.endswith(f"to stderr\n@@code-runner:{nonce}@@ end\n".encode())
    else:
        assert results[1][0] == 125


GO_DOUBLE = """package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	var n int64
	fmt.Fscan(bufio.NewReader(os.Stdin), &n)
	fmt.Println(2 * n)
}
"""


def test_go_build_once_many_cases(supervisor):
    j = judge(GO_IMAGE, supervisor, files={"main.go": GO_DOUBLE}, cases=[("21\n", 5000), ("-4\n", 5000), ("\n", 5000)],
              run_cmd="exec /tmp/.code-runner/main", build_cmd="go build -o /tmp/.code-runner/main .")
    assert j.build.status == 0 and j.build.wall_us > 0, (j.build.fields, j.finished.stderr[-500:])
    assert [c.stdout for c in j.cases] == [b"42\n", b"-8\n", b"0\n"]
    assert all(c.status == 0 and c.flags == "" for c in j.cases)


# --------------------------------------------------------------------------------------------
# overhead (printed, not asserted)
# --------------------------------------------------------------------------------------------

def _overhead(j: Judged) -> dict:
    """Per case: the time between its record's arrival and the previous record's, minus the
    wall time the supervisor reports for it (the program's own time)."""
    def arrival(rec: Record) -> float:
        return next(t for t, n in j.finished.arrivals if n >= rec.end)
    prev = arrival(j.build)
    extra, walls = [], []
    for c in j.cases:
        t = arrival(c)
        extra.append((t - prev) * 1000 - c.wall_us / 1000)
        walls.append(c.wall_us / 1000)
        prev = t
    total = (arrival(j.done) - arrival(j.build)) * 1000
    extra.sort()
    return {
        "cases": len(extra),
        "overhead_p50_ms": round(statistics.median(extra), 3),
        "overhead_p90_ms": round(extra[int(len(extra) * 0.9) - 1], 3),
        "overhead_mean_ms": round((total - sum(walls)) / len(extra), 3),
        "program_wall_p50_ms": round(statistics.median(walls), 3),
        "per_case_total_mean_ms": round(total / len(extra), 3),
    }


def test_overhead_per_case(supervisor, capsys):
    numbers = [f"{i}\n" for i in range(100)]
    go = judge(GO_IMAGE, supervisor, files={"main.go": GO_DOUBLE}, cases=[(n, 5000) for n in numbers],
               run_cmd="exec /tmp/.code-runner/main", build_cmd="go build -o /tmp/.code-runner/main .")
    assert [c.stdout for c in go.cases] == [f"{2 * i}\n".encode() for i in range(100)]
    py = judge(PYTHON_IMAGE, supervisor, files={"main.py": "print(2 * int(input()))\n"},
               cases=[(n, 5000) for n in numbers], run_cmd="python3 main.py")
    assert [c.stdout for c in py.cases] == [f"{2 * i}\n".encode() for i in range(100)]
    with capsys.disabled():  # shown without -s too
        print("\nCR2 overhead per case beyond the program's wall time, compiled (Go):", json.dumps(_overhead(go)))
        print("CR2 overhead per case beyond the program's wall time, Python:", json.dumps(_overhead(py)))
