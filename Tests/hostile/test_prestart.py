"""Pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started interpreters"; the supervisor's
runtimes/common/prestart.c and the runtimes' start hooks), tested on the images alone through
`docker run`, as the worker starts a warm container (`--prestart`) and a cold one (without it).

Each test starts the container, waits until `docker top` shows the runtime's process (a loop
over `docker top`, no sleep), then writes the CR1 input. The program prints its own pid (in the
container's pid namespace); the test reads that of the process `docker top` showed before the
input existed (the last NSpid of /proc/<host pid>/status). Equal means the run executed in the
pre-started interpreter (pids are not reused in a container's short life); a run that must take the exec
path (a custom entrypoint, a variable the interpreter reads at start) must show another one.

The semantics check runs one probe program (argv, the main file's name, main-module-ness, a
relative import, stdin, the environment, the command line, an uncaught error) both ways and
requires byte-identical stdout, stderr and exit status.

No service is needed. Run: python3 -m pytest -q -p no:cacheprovider Tests/hostile/test_prestart.py
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tarfile
import time
import uuid

import pytest

NONCE = "0123456789abcdef0123456789abcdef"
MARKER = f"@@code-runner:{NONCE}@@"

# runtime -> (image, main file, process name in `docker top`, probe program)
PROBES = {
    "python": (
        "code-runner-python:latest",
        "main.py",
        "python3 main.py",
        "import os, sys, helper\n"
        "print('pid', os.getpid())\n"
        "print(sys.argv, sys.orig_argv, sys.path[0], __file__, __name__, helper.VALUE)\n"
        "print(sorted(k for k in globals() if k.startswith('__')))\n"
        "print(repr(sys.stdin.read()), os.environ.get('GREETING'), os.getcwd())\n"
        "print([k for k in os.environ if k.startswith('CODE_RUNNER')], 'code_runner_prestart' in sys.modules)\n"
        "print(open('/proc/self/cmdline').read().split('\\0'))\n"
        "def fail():\n"
        "    raise ValueError('from the probe')\n"
        "fail()\n",
        ("helper.py", "VALUE = 42\n"),
    ),
    "node": (
        "code-runner-node:latest",
        "main.js",
        "node main.js",
        "const fs = require('fs');\n"
        "const helper = require('./helper');\n"
        "console.log('pid', process.pid);\n"
        "console.log(process.argv, process.execArgv, __filename, require.main === module, helper);\n"
        "console.log(JSON.stringify(fs.readFileSync(0, 'utf8')), process.env.GREETING, process.cwd());\n"
        "console.log(Object.keys(process.env).filter(k => k.startsWith('CODE_RUNNER') || k === 'NODE_OPTIONS'));\n"
        "console.log(Object.keys(require.cache));\n"
        "console.log(fs.readFileSync('/proc/self/cmdline', 'utf8').split('\\0'));\n"
        "function fail() { throw new Error('from the probe'); }\n"
        "fail();\n",
        ("helper.js", "module.exports = 42;\n"),
    ),
    "bun": (
        "code-runner-bun:latest",
        "main.ts",
        "bun main.ts",
        "import { readFileSync } from 'node:fs';\n"
        "import { value } from './helper.ts';\n"
        "const n: number = value;\n"
        "console.log('pid', process.pid);\n"
        "console.log(process.argv, process.execArgv, Bun.main, import.meta.main, n);\n"
        "console.log(JSON.stringify(readFileSync(0, 'utf8')), process.env.GREETING, process.cwd());\n"
        "console.log(Object.keys(process.env).filter(k => k.startsWith('CODE_RUNNER') || k === 'BUN_OPTIONS'));\n"
        "console.log(readFileSync('/proc/self/cmdline', 'utf8').split('\\0'));\n"
        "process.exitCode = 7;\n",
        ("helper.ts", "export const value = 42;\n"),
    ),
    "deno": (
        "code-runner-deno:latest",
        "main.ts",
        "deno run",
        "import { value } from './helper.ts';\n"
        "const n: number = value;\n"
        "console.log('pid', Deno.pid);\n"
        "console.log(Deno.args, Deno.mainModule, import.meta.main, n);\n"
        "console.log(JSON.stringify(new TextDecoder().decode(Deno.readFileSync('/dev/stdin'))), Deno.env.get('GREETING'), Deno.cwd());\n"
        "console.log(Object.keys(Deno.env.toObject()).filter(k => k.startsWith('CODE_RUNNER')));\n"
        "function fail() { throw new Error('from the probe'); }\n"
        "fail();\n",
        ("helper.ts", "export const value = 42;\n"),
    ),
}


def _have(image: str) -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True
    ).returncode == 0


def cr1_input(
    files: dict[str, str],
    stdin: str = "",
    environment: dict[str, str] | None = None,
    entrypoint: str | None = None,
    tar_format: int = tarfile.USTAR_FORMAT,
) -> bytes:
    """The worker's CR1 input (Sources/Worker/Sandbox/RunInput.swift), with the environment in
    the header as for a warm container. The worker's archive has pax headers for long names
    (tarfile.PAX_FORMAT); ustar's prefix field is tried too."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tar = buffer.getvalue()
    block = b"".join(f"{k}={v}".encode() + b"\0" for k, v in (environment or {}).items())
    entry = base64.b64encode(entrypoint.encode()).decode() if entrypoint else "-"
    header = f"CR1 {NONCE} {len(tar)} {len(stdin.encode())} 65536 {entry}"
    if block:
        header += f" - 0 0 {len(block)}"
    return header.encode() + b"\n" + block + tar + stdin.encode()


class Run:
    """One container as the worker makes it, warm (`--prestart`) or cold."""

    def __init__(self, image: str, prestart: bool):
        self.name = f"code-runner-prestart-test-{uuid.uuid4().hex[:12]}"
        self.process = subprocess.Popen(
            ["docker", "run", "-i", "--rm", "--name", self.name, "--init", "--read-only", "--network", "none",
             "--user", "1000:1000", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
             "--memory", "512m", "--memory-swap", "512m", "--pids-limit", "256",
             "--tmpfs", "/tmp:rw,exec,nosuid,nodev,size=256m,uid=1000,gid=1000,mode=0755",
             image] + (["--prestart"] if prestart else []),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def waiting_process(self, command: str) -> str:
        """The host pid of the container's process whose command line contains `command`,
        waited for by asking `docker top` until it is there (at most 60 s)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            top = subprocess.run(["docker", "top", self.name, "-eo", "pid,args"], capture_output=True, text=True)
            for line in top.stdout.splitlines()[1:]:
                pid, _, args = line.strip().partition(" ")
                args = args.strip()
                if command in args and not args.startswith("/bin/sh"):
                    return pid
            assert self.process.poll() is None, self.process.communicate()
        pytest.fail(f"no '{command}' process appeared in {self.name}")

    def finish(self, data: bytes) -> tuple[int, str, str]:
        """Sends the input; returns the trailer's status, stdout and stderr without the trailer."""
        out, err = self.process.communicate(data, timeout=120)
        stdout, _, trailer = out.decode().partition(MARKER)
        stderr = err.decode().partition(MARKER)[0]
        assert trailer, (out, err)
        return int(trailer.split()[0]), stdout, stderr


def container_pid(host_pid: str) -> str:
    """The pid a host process has in its container's namespace."""
    for line in open(f"/proc/{host_pid}/status"):
        if line.startswith("NSpid:"):
            return line.split()[-1]
    pytest.fail(f"no NSpid for {host_pid}")


def split_pid(stdout: str) -> tuple[str, str]:
    first, _, rest = stdout.partition("\n")
    assert first.startswith("pid "), stdout
    return first.split()[1], rest


@pytest.mark.parametrize("runtime", sorted(PROBES))
def test_the_run_executes_in_the_prestarted_interpreter_as_the_exec_path_would(runtime):
    image, main, process, code, (helper, helper_code) = PROBES[runtime]
    if not _have(image):
        pytest.skip(f"{image} is not built")
    files = {main: code, helper: helper_code}
    data = cr1_input(files, stdin="line one\nline two\n", environment={"GREETING": "hello there"})
    warm = Run(image, prestart=True)
    waiting = _wait_and_record(warm, process)
    warm_status, warm_out, warm_err = warm.finish(data)
    warm_pid, warm_rest = split_pid(warm_out)
    assert warm_pid == _container_pids[waiting], "the run did not use the pre-started process"

    cold = Run(image, prestart=False)
    # a cold container gets its environment from the engine; here the header carries it for both
    cold_status, cold_out, cold_err = cold.finish(data)
    _, cold_rest = split_pid(cold_out)
    assert (warm_status, warm_rest, warm_err) == (cold_status, cold_rest, cold_err)
    assert warm_status == (7 if runtime == "bun" else 1)
    assert "hello there" in warm_rest and "line one" in warm_rest
    assert "CODE_RUNNER" not in warm_rest


# host pid -> the container pid of the process `docker top` showed, read while it lives (its
# /proc entry goes with the container)
_container_pids: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _clear_container_pids():
    _container_pids.clear()
    yield


def _wait_and_record(run: Run, command: str) -> str:
    pid = run.waiting_process(command)
    _container_pids[pid] = container_pid(pid)
    return pid


@pytest.mark.parametrize(
    "why, environment, entrypoint",
    [
        ("a variable python reads at start", {"PYTHONHASHSEED": "7"}, None),
        ("a custom entrypoint", {}, "python3 main.py"),
    ],
)
def test_runs_the_interpreter_cannot_serve_take_the_exec_path(why, environment, entrypoint):
    image = "code-runner-python:latest"
    if not _have(image):
        pytest.skip(f"{image} is not built")
    code = (
        "import os, sys\n"
        "print('pid', os.getpid())\n"
        "print(os.environ.get('PYTHONHASHSEED'), sys.flags.hash_randomization)\n"
    )
    warm = Run(image, prestart=True)
    pid = _wait_and_record(warm, "python3 main.py")
    status, out, err = warm.finish(cr1_input({"main.py": code}, environment=environment, entrypoint=entrypoint))
    pid_seen, rest = split_pid(out)
    assert status == 0, err
    assert pid_seen != _container_pids[pid], f"{why}: the pre-started interpreter ran it"
    assert rest == f"{environment.get('PYTHONHASHSEED')} 1\n"


def test_the_prestarted_interpreter_gets_exit_status_and_signals_as_sh_reports_them():
    image = "code-runner-python:latest"
    if not _have(image):
        pytest.skip(f"{image} is not built")
    for code, expected in [("raise SystemExit(3)", 3), ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 137)]:
        warm = Run(image, prestart=True)
        _wait_and_record(warm, "python3 main.py")
        status, _, _ = warm.finish(cr1_input({"main.py": code}))
        assert status == expected


def test_bun_without_its_main_file_fails_as_without_prestart():
    image = "code-runner-bun:latest"
    if not _have(image):
        pytest.skip(f"{image} is not built")
    answers = []
    for prestart in (True, False):
        run = Run(image, prestart=prestart)
        if prestart:
            run.waiting_process("bun main.ts")
        answers.append(run.finish(cr1_input({"other.ts": "console.log(1)\n"})))
    assert answers[0] == answers[1]
    assert answers[0][0] == 1 and 'Module not found "main.ts"' in answers[0][2]


LISTING = (
    "import hashlib, os, stat\n"
    "for root, dirs, files in sorted(os.walk('.')):\n"
    "    dirs.sort()\n"
    "    for name in sorted(dirs + files):\n"
    "        p = os.path.join(root, name)\n"
    "        st = os.lstat(p)\n"
    "        digest = hashlib.sha256(open(p, 'rb').read()).hexdigest()[:12] if stat.S_ISREG(st.st_mode) else '-'\n"
    "        mtime = int(st.st_mtime) if stat.S_ISREG(st.st_mode) else 'dir'\n"
    "        print(p, oct(st.st_mode), st.st_size if stat.S_ISREG(st.st_mode) else '-', mtime, digest)\n"
    "print(repr(open('/dev/stdin', 'rb').read()))\n"
)


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT], ids=["pax", "ustar"])
@pytest.mark.parametrize("runtime", ["python", "node"])
def test_a_warm_work_dir_is_the_one_setup_run_makes(runtime, tar_format):
    """A warm container extracts the archive without setup-run (setup.c): the same files, modes,
    sizes, mtimes and contents as GNU tar's, long (pax) names, nested directories, a binary
    stdin, and (node) the user's sdk.js over the runtime's."""
    image = f"code-runner-{runtime}:latest"
    if not _have(image):
        pytest.skip(f"{image} is not built")
    deep = "/".join(["d" * 40] * 4) + "/long-name.txt"
    files = {
        "a/b/c.txt": "nested\n",
        deep: "pax\n",
        "empty.txt": "",
        "big.bin": "x" * 70000,
        "dir with space/ü.txt": "unicode\n",
    }
    if runtime == "python":
        files["main.py"] = LISTING
    else:
        files["sdk.js"] = "module.exports = 'the user\\'s';\n"
        files["main.js"] = "console.log(require('./sdk'), require('fs').readdirSync('.').sort());\n"
    answers = []
    for prestart in (True, False):
        run = Run(image, prestart=prestart)
        answers.append(run.finish(cr1_input(files, stdin="\x00\x01binary\n", tar_format=tar_format)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 0, answers[0]
    if runtime == "python":
        assert f"./{deep} 0o100644 4 0" in answers[0][1]
        assert "./big.bin 0o100644 70000 0" in answers[0][1]
        assert "b'\\x00\\x01binary\\n'" in answers[0][1]
    else:
        assert "the user's" in answers[0][1]


def _raw_tar(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    """A ustar archive of (name, type, content) entries, written by hand (tarfile would refuse
    or normalise some of them)."""
    out = b""
    for name, kind, content in entries:
        header = bytearray(512)
        header[0:len(name)] = name.encode()
        header[100:108] = b"0000644\0"
        header[124:136] = f"{len(content):011o}\0".encode()
        header[136:148] = b"00000000000\0"
        header[148:156] = b" " * 8
        header[156:157] = kind
        if kind == b"2":
            header[157:157 + len(content)] = content
            content = b""
            header[124:136] = b"00000000000\0"
        header[257:265] = b"ustar\x0000"
        header[148:156] = f"{sum(header):06o}\0 ".encode()
        out += bytes(header) + content + b"\0" * (-len(content) % 512)
    return out + b"\0" * 1024


@pytest.mark.parametrize(
    "entries",
    [
        [("../escaped.txt", b"0", b"out\n")],
        [("/tmp/escaped.txt", b"0", b"out\n")],
        [("a/../../escaped.txt", b"0", b"out\n")],
        [("link", b"2", b"/tmp"), ("link/escaped.txt", b"0", b"out\n")],
    ],
    ids=["dot-dot", "absolute", "inner dot-dot", "symlink"],
)
def test_a_warm_work_dir_refuses_paths_out_of_it(entries):
    image = "code-runner-python:latest"
    if not _have(image):
        pytest.skip(f"{image} is not built")
    tar = _raw_tar(entries + [("main.py", b"0", b"import os\nprint(os.path.exists('/tmp/escaped.txt'))\n")])
    data = f"CR1 {NONCE} {len(tar)} 0 65536 -".encode() + b"\n" + tar
    status, out, err = Run(image, prestart=True).finish(data)
    assert status == 2, (out, err)
    assert out == "" and "archive" in err
