#!/usr/bin/env bash
# Smoke test of one runtime image through the worker <-> image protocol (runtimes/PROTOCOL.md),
# with the sandbox flags the worker uses, via `docker run`.
#
#   scripts/smoke-image.sh python            # all checks for code-runner-python
#   BENCH=5 scripts/smoke-image.sh go        # plus: p50 of hello world over 5 runs
#   IMAGE=my-tag scripts/smoke-image.sh node # another tag for that runtime
#
# Checks: hello world, a second file imported, stdin, SDK metadata (set and get), non-zero exit
# with stderr, custom entrypoint, /workspace and /metadata links, compile errors (go, rust),
# the supervisor root-owned and refusing same-uid /proc reads,
# 1 MiB archive + 1 MiB stdin arriving intact (python), malformed header -> 125.
# Environment: MEMORY (256m), DISK (256m), TIMEOUT per run in s (120), BENCH (0).
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: $0 <runtime>" >&2; exit 2; }
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
export CODE_RUNNER_ROOT="${CODE_RUNNER_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
exec "$PY" - "$@" <<'PYEOF'
import base64, hashlib, io, json, os, secrets, statistics, subprocess, sys, tarfile, time

rt = sys.argv[1]
IMAGE = os.environ.get("IMAGE", f"code-runner-{rt}")
MEMORY = os.environ.get("MEMORY", "256m")
DISK = os.environ.get("DISK", "256m")
TIMEOUT = float(os.environ.get("TIMEOUT", "120"))
BENCH = int(os.environ.get("BENCH", "0"))

FLAGS = ["docker", "run", "--rm", "-i", "--init", "--user", "1000:1000", "--read-only",
         "--tmpfs", f"/tmp:rw,exec,nosuid,nodev,size={DISK},uid=1000,gid=1000,mode=0755",
         "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", "none",
         "--memory", MEMORY, "--memory-swap", MEMORY, "--pids-limit", "256", "--log-driver", "none"]

try:
    catalogue = json.load(open(os.path.join(os.environ["CODE_RUNNER_ROOT"], "runtimes", rt, "runtime.json")))
except OSError:
    catalogue = {}
MAIN = catalogue.get("main_file") or {"python": "main.py", "node": "main.js", "bun": "main.ts",
                                      "deno": "main.ts", "go": "main.go", "rust": "src/main.rs"}[rt]
if "min_memory" in catalogue and "MEMORY" not in os.environ:
    MEMORY = catalogue["min_memory"]
    FLAGS[FLAGS.index("--memory") + 1] = MEMORY
    FLAGS[FLAGS.index("--memory-swap") + 1] = MEMORY


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            if isinstance(data, str):
                data = data.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run(code, files=None, stdin=b"", entrypoint=None, cap=1 << 20, env=None, raw=None):
    files = dict(files or {})
    if code:
        files[MAIN] = code
    archive = tar_of(files) if files else b""
    nonce = secrets.token_hex(16)
    ep = "-" if entrypoint is None else base64.b64encode(entrypoint.encode()).decode()
    if isinstance(stdin, str):
        stdin = stdin.encode()
    payload = raw if raw is not None else (
        f"CR1 {nonce} {len(archive)} {len(stdin)} {cap} {ep}\n".encode() + archive + stdin)
    cmd = list(FLAGS)
    for k, v in (env or {}).items():
        cmd += ["-e", f"{k}={v}"]
    cmd.append(IMAGE)
    t0 = time.monotonic()
    p = subprocess.run(cmd, input=payload, capture_output=True, timeout=TIMEOUT)
    elapsed = time.monotonic() - t0
    marker = f"@@code-runner:{nonce}@@ ".encode()
    out, trailer, meta = p.stdout, None, None
    i = out.find(marker)
    if i >= 0:
        rest = out[i + len(marker):]
        line, _, tail = rest.partition(b"\n")
        status, mlen, oom_kills = (int(x) for x in line.split())
        assert oom_kills >= 0, "the image could not read its cgroup's OOM counter"
        trailer = (status, mlen)
        if mlen >= 0:
            meta = json.loads(tail[:mlen]) if mlen else ""
            assert len(tail) == mlen, f"{len(tail) - mlen} bytes after the metadata"
        out = out[:i]
    err = p.stderr
    end_marker = f"@@code-runner:{nonce}@@ end\n".encode()
    j = err.find(end_marker)
    if trailer is not None:
        # A run that reached its trailer also ends stderr with its own end marker.
        assert j >= 0 and err.endswith(end_marker), "stderr lacks the entrypoint's end marker"
    if j >= 0:
        err = err[:j]
    return dict(rc=p.returncode, stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
                trailer=trailer, meta=meta, time=elapsed)


T = {
    "python": dict(
        hello=("print('hello from python')", "hello from python\n"),
        imp=("import greet\nprint(greet.hello('python'))",
             {"greet.py": "def hello(n):\n    return 'hello, ' + n\n"}, "hello, python\n"),
        stdin="import sys\nprint(sys.stdin.read().upper(), end='')",
        meta="from sdk import set_metadata, get_metadata\nassert get_metadata() is None\n"
             "set_metadata({'status': 'ok', 'n': [1, 2]})\nprint(get_metadata()['status'])",
        exit="import sys\nsys.stderr.write('error message')\nsys.exit(3)",
        version="python3 --version"),
    "node": dict(
        hello=("console.log('hello from node')", "hello from node\n"),
        imp=("const g = require('./greet.js');\nconsole.log(g.hello('node'));",
             {"greet.js": "module.exports = { hello: (n) => 'hello, ' + n };\n"}, "hello, node\n"),
        stdin="const d = require('fs').readFileSync(0, 'utf8');\nprocess.stdout.write(d.toUpperCase());",
        meta="const { setMetadata, getMetadata } = require('./sdk');\nif (getMetadata() !== null) throw new Error('x');\n"
             "setMetadata({ status: 'ok', n: [1, 2] });\nconsole.log(getMetadata().status);",
        exit="process.stderr.write('error message');\nprocess.exit(3);",
        version="node --version"),
    "bun": dict(
        hello=("console.log('hello from bun')", "hello from bun\n"),
        imp=("import { hello } from './greet.ts';\nconsole.log(hello('bun'));",
             {"greet.ts": "export function hello(n: string): string { return 'hello, ' + n; }\n"}, "hello, bun\n"),
        stdin="const d: string = await Bun.stdin.text();\nprocess.stdout.write(d.toUpperCase());",
        meta="import { setMetadata, getMetadata } from './sdk';\nif (getMetadata() !== null) throw new Error('x');\n"
             "setMetadata({ status: 'ok', n: [1, 2] });\nconsole.log(getMetadata().status);",
        exit="process.stderr.write('error message');\nprocess.exit(3);",
        version="bun --version"),
    "deno": dict(
        hello=("const msg: string = 'hello from deno';\nconsole.log(msg);", "hello from deno\n"),
        imp=("import { hello } from './greet.ts';\nconsole.log(hello('deno'));",
             {"greet.ts": "export function hello(n: string): string { return 'hello, ' + n; }\n"}, "hello, deno\n"),
        stdin="const d: string = await new Response(Deno.stdin.readable).text();\n"
              "await Deno.stdout.write(new TextEncoder().encode(d.toUpperCase()));",
        meta="import { setMetadata, getMetadata } from './sdk.ts';\nif (getMetadata() !== null) throw new Error('x');\n"
             "setMetadata({ status: 'ok', n: [1, 2] });\nconsole.log(getMetadata().status);",
        exit="await Deno.stderr.write(new TextEncoder().encode('error message'));\nDeno.exit(3);",
        version="deno --version"),
    "go": dict(
        hello=('package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello from go")\n}\n', "hello from go\n"),
        imp=('package main\n\nimport (\n\t"fmt"\n\t"main/greet"\n)\n\nfunc main() {\n\tfmt.Println(greet.Hello("go"))\n}\n',
             {"greet/greet.go": 'package greet\n\nfunc Hello(n string) string { return "hello, " + n }\n'}, "hello, go\n"),
        stdin='package main\n\nimport (\n\t"fmt"\n\t"io"\n\t"os"\n\t"strings"\n)\n\n'
              'func main() {\n\tb, _ := io.ReadAll(os.Stdin)\n\tfmt.Print(strings.ToUpper(string(b)))\n}\n',
        meta='package main\n\nimport (\n\t"fmt"\n\t"sdk"\n)\n\nfunc main() {\n'
             '\tvar m map[string]any\n\tif err := sdk.GetMetadata(&m); err != nil || m != nil {\n\t\tpanic("unexpected")\n\t}\n'
             '\tif err := sdk.SetMetadata(map[string]any{"status": "ok", "n": []int{1, 2}}); err != nil {\n\t\tpanic(err)\n\t}\n'
             '\tif err := sdk.GetMetadata(&m); err != nil {\n\t\tpanic(err)\n\t}\n\tfmt.Println(m["status"])\n}\n',
        exit='package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Fprint(os.Stderr, "error message")\n\tos.Exit(3)\n}\n',
        compile_error=('package main\n\nfunc main() {\n\tx := 1\n}\n', "declared and not used"),
        version="go version"),
    "rust": dict(
        hello=('fn main() {\n    println!("hello from rust");\n}\n', "hello from rust\n"),
        imp=('mod greet;\n\nfn main() {\n    println!("{}", greet::hello("rust"));\n}\n',
             {"src/greet.rs": 'pub fn hello(n: &str) -> String {\n    format!("hello, {}", n)\n}\n'}, "hello, rust\n"),
        stdin='use std::io::Read;\n\nfn main() {\n    let mut s = String::new();\n'
              '    std::io::stdin().read_to_string(&mut s).unwrap();\n    print!("{}", s.to_uppercase());\n}\n',
        meta='use sdk::{get_metadata, set_metadata};\nuse serde_json::{json, Value};\n\nfn main() {\n'
             '    assert!(get_metadata::<Value>().unwrap().is_none());\n'
             '    set_metadata(&json!({"status": "ok", "n": [1, 2]})).unwrap();\n'
             '    let m: Value = get_metadata().unwrap().unwrap();\n    println!("{}", m["status"].as_str().unwrap());\n}\n',
        exit='fn main() {\n    eprint!("error message");\n    std::process::exit(3);\n}\n',
        compile_error=('fn main() {\n    let x: i32 = "a";\n}\n', "mismatched types"),
        version="rustc --version; cargo --version"),
}[rt]

failures = []


def check(name, r, stdout=None, status=0, meta=-1, stderr_has=None, exact_stderr=None):
    problems = []
    if r["trailer"] is None:
        problems.append("no trailer")
    else:
        if r["trailer"][0] != status:
            problems.append(f"trailer status {r['trailer'][0]} != {status}")
        if meta == -1 and r["trailer"][1] != -1:
            problems.append(f"metadata length {r['trailer'][1]} != -1")
        if meta != -1 and r["meta"] != meta:
            problems.append(f"metadata {r['meta']!r} != {meta!r}")
    if r["rc"] != status:
        problems.append(f"exit code {r['rc']} != {status}")
    if stdout is not None and r["stdout"] != stdout:
        problems.append(f"stdout {r['stdout']!r} != {stdout!r}")
    if stderr_has is not None and stderr_has not in r["stderr"]:
        problems.append(f"stderr lacks {stderr_has!r}")
    if exact_stderr is not None and r["stderr"] != exact_stderr:
        problems.append(f"stderr {r['stderr']!r} != {exact_stderr!r}")
    print(f"  {'ok  ' if not problems else 'FAIL'} {name:<22} {r['time'] * 1000:6.0f} ms")
    if problems:
        failures.append(name)
        for p in problems:
            print(f"         {p}")
        print("         stderr: " + r["stderr"][-1500:].replace("\n", "\n                 "))


print(f"smoke {IMAGE} (memory {MEMORY}, disk {DISK})")
code, want = T["hello"]
check("hello world", run(code), want, exact_stderr="")
code, files, want = T["imp"]
check("file import", run(code, files), want)
check("stdin", run(T["stdin"], stdin="first line\nsecond ä\n"), "FIRST LINE\nSECOND Ä\n")
check("stdin empty", run(T["stdin"]), "")
check("sdk metadata", run(T["meta"]), "ok\n", meta={"status": "ok", "n": [1, 2]})
check("non-zero exit", run(T["exit"]), "", status=3, stderr_has="error message")
if "compile_error" in T:
    code, msg = T["compile_error"]
    r = run(code)
    check("compile error", r, "", status=r["rc"] if r["rc"] not in (0, None) else 1, stderr_has=msg)
r = run("", {"data.txt": "x"}, entrypoint="cat data.txt; ls -d /workspace/data.txt; echo meta > /metadata/probe; "
        "cat /tmp/.code-runner/probe; echo $HOME; pwd; " + T["version"])
check("custom entrypoint", r, None)
if r["trailer"]:
    lines = r["stdout"].splitlines()
    print("         version: " + " | ".join(lines[4:]))
    want_lines = ["x/workspace/data.txt", "meta", "/tmp/home", "/tmp/work"]
    if lines[:4] != want_lines:
        failures.append("custom entrypoint output")
        print(f"  FAIL custom entrypoint output {lines[:4]!r} != {want_lines!r}")
r = run("", entrypoint="printf '[1,2,3]' > /metadata/.quartermaster_metadata.json", cap=4)
ok = r["trailer"] == (0, -2)
print(f"  {'ok  ' if ok else 'FAIL'} {'metadata over cap':<22} {r['time'] * 1000:6.0f} ms")
ok or failures.append("metadata over cap")
# the supervisor (the shell's parent) is root-owned, not writable, and refuses same-uid reads
r = run("", entrypoint="/usr/bin/stat -L -c '%U %a' /usr/local/bin/code-runner-entrypoint; "
                       "/bin/cat /proc/$PPID/environ >/dev/null 2>&1 && echo environ-readable || echo environ-refused; "
                       "/bin/cat /proc/$PPID/maps >/dev/null 2>&1 && echo maps-readable || echo maps-refused")
ok = r["trailer"] is not None and r["trailer"][0] == 0 and r["stdout"].split("\n")[:3] == ["root 755", "environ-refused", "maps-refused"]
print(f"  {'ok  ' if ok else 'FAIL'} {'supervisor sealed':<22} {r['time'] * 1000:6.0f} ms")
ok or (failures.append("supervisor sealed"), print(f"         {r['stdout'][:300]!r}"))
r = run("", raw=b"CR1 nonsense\n")
ok = r["rc"] == 125 and r["trailer"] is None and "malformed" in r["stderr"]
print(f"  {'ok  ' if ok else 'FAIL'} {'malformed header':<22} {r['time'] * 1000:6.0f} ms")
ok or failures.append("malformed header")
if rt == "python":
    big = os.urandom(1 << 20)
    big_in = os.urandom(1 << 20)
    code = ("import hashlib, sys\nprint(hashlib.sha256(open('big.bin','rb').read()).hexdigest())\n"
            "print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())")
    want = hashlib.sha256(big).hexdigest() + "\n" + hashlib.sha256(big_in).hexdigest() + "\n"
    check("1 MiB files + stdin", run(code, {"big.bin": big}, stdin=big_in), want)

if BENCH:
    code, want = T["hello"]
    run(code)  # warm-up
    times = []
    for _ in range(BENCH):
        r = run(code)
        if r["stdout"] != want:
            failures.append("bench output")
        times.append(r["time"] * 1000)
    print(f"  bench hello world x{BENCH}: p50 {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f})")

size = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", IMAGE], capture_output=True, text=True).stdout
print(f"  image size {int(size) / 1e6:.0f} MB" if size.strip() else "")
if failures:
    print(f"FAILED: {', '.join(failures)}")
    sys.exit(1)
print("all passed")
PYEOF
