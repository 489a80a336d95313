"""Judge mode through the service (issue 17): one program, many test cases, a verdict for each.

Every runtime gets the same program (read a number n; print 2n; n = -1 exits 3, -2 spins forever,
-3 allocates until the OOM killer strikes, -4 writes without end), run against cases that produce
every verdict in one request, then a program that does not compile and a stop-on-first-failure
run. The hostile cases (fork bomb, a full /tmp, children left behind, a changed work dir, a forged
record) run in Python, each followed by a case whose verdict must be its own.
"""

import time
import uuid

import pytest

PROGRAMS = {
    "python": r'''
import sys
n = int(sys.stdin.read().strip() or 0)
if n == -1:
    sys.exit(3)
if n == -2:
    while True:
        pass
if n == -3:
    blocks = []
    while True:
        blocks.append(b"\x01" * (16 << 20))
if n == -4:
    while True:
        sys.stdout.write("x" * 65536)
print(2 * n)
''',
    "node": r'''
const n = parseInt(require("fs").readFileSync(0, "utf8").trim() || "0");
if (n === -1) process.exit(3);
if (n === -2) for (;;) {}
if (n === -3) { const a = []; for (;;) a.push(Buffer.alloc(64 << 20, 1)); }
if (n === -4) { const s = "x".repeat(65536); for (;;) require("fs").writeSync(1, s); }
console.log(2 * n);
''',
    "bun": r'''
import { writeSync } from "node:fs";
const n = parseInt((await Bun.stdin.text()).trim() || "0");
if (n === -1) process.exit(3);
if (n === -2) for (;;) {}
if (n === -3) { const a: Uint8Array[] = []; for (;;) a.push(new Uint8Array(64 << 20).fill(1)); }
if (n === -4) { const s = "x".repeat(65536); for (;;) writeSync(1, s); }
console.log(2 * n);
''',
    "deno": r'''
const text = await new Response(Deno.stdin.readable).text();
const n = parseInt(text.trim() || "0");
if (n === -1) Deno.exit(3);
if (n === -2) for (;;) {}
if (n === -3) { const a: Uint8Array[] = []; for (;;) a.push(new Uint8Array(64 << 20).fill(1)); }
if (n === -4) { const s = new TextEncoder().encode("x".repeat(65536)); for (;;) Deno.stdout.writeSync(s); }
console.log(2 * n);
''',
    "go": r'''
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	input, _ := io.ReadAll(os.Stdin)
	n, _ := strconv.Atoi(strings.TrimSpace(string(input)))
	switch n {
	case -1:
		os.Exit(3)
	case -2:
		for {
		}
	case -3:
		var blocks [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = 1
			}
			blocks = append(blocks, b)
		}
	case -4:
		w := bufio.NewWriter(os.Stdout)
		x := strings.Repeat("x", 65536)
		for {
			w.WriteString(x)
		}
	}
	fmt.Println(2 * n)
}
''',
    "rust": r'''
use std::io::{self, Read, Write};

fn main() {
    let mut s = String::new();
    io::stdin().read_to_string(&mut s).unwrap();
    let n: i64 = s.trim().parse().unwrap_or(0);
    if n == -1 {
        std::process::exit(3);
    }
    if n == -2 {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    if n == -3 {
        let mut v: Vec<Vec<u8>> = Vec::new();
        loop {
            v.push(vec![1u8; 16 << 20]);
        }
    }
    if n == -4 {
        let x = "x".repeat(65536);
        let mut out = io::stdout().lock();
        loop {
            let _ = out.write_all(x.as_bytes());
        }
    }
    println!("{}", 2 * n);
}
''',
}

BROKEN = {
    "python": "print(1\n",
    "node": "console.log(1;\n",
    "bun": "const x = (;\n",
    "deno": "const x: number = 'not a number';\nconsole.log(x);\n",
    "go": "package main\n\nfunc main() { undefined() }\n",
    "rust": "fn main() { let x: i32 = \"a\"; }\n",
}

ALL_VERDICTS = [
    ({"name": "double", "stdin": "3\n", "expected_output": "6\n"}, "accepted"),
    ({"name": "wrong", "stdin": "4\n", "expected_output": "9\n"}, "wrong_answer"),
    ({"name": "exit 3", "stdin": "-1\n"}, "runtime_error"),
    ({"name": "spin", "stdin": "-2\n", "timeout": 1}, "time_limit_exceeded"),
    ({"name": "memory", "stdin": "-3\n"}, "memory_limit_exceeded"),
    ({"name": "flood", "stdin": "-4\n"}, "output_limit_exceeded"),
    ({"name": "after", "stdin": "5", "expected_output": "10"}, "accepted"),
    ({"stdin": "7\n"}, "accepted"),
]


def judge(service, body, timeout=60):
    r, _ = service.run({"timeout": timeout, **body})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("runtime", list(PROGRAMS))
def test_every_verdict(service, runtime):
    result = judge(service, {"image": runtime, "code": PROGRAMS[runtime], "tests": [case for case, _ in ALL_VERDICTS]})
    verdicts = [case["verdict"] for case in result["tests"]]
    assert verdicts == [verdict for _, verdict in ALL_VERDICTS], result["tests"]
    assert result["verdict"] == "wrong_answer"
    assert (result["passed"], result["total"]) == (3, len(ALL_VERDICTS))
    assert result["exit_code"] == 0, result["stderr"]  # the build step succeeded
    cases = result["tests"]
    assert [case["name"] for case in cases][:2] == ["double", "wrong"] and cases[-1]["name"] == "8"
    assert cases[0]["stdout"] == "6\n" and cases[0]["exit_code"] == 0
    assert cases[1]["stdout"] == "8\n"
    assert cases[2]["exit_code"] == 3
    assert 1.0 <= cases[3]["time"] < 5.0, cases[3]
    assert cases[5]["stdout_truncated"]
    for case in cases:
        assert case["time"] is not None and case["time"] >= 0
    if runtime in ("go", "rust"):
        # the compiled binary's own run is quick: a case is not a build
        assert cases[0]["time"] < 0.5, cases[0]


@pytest.mark.parametrize("runtime", list(PROGRAMS))
def test_compile_error(service, runtime):
    result = judge(service, {"image": runtime, "code": BROKEN[runtime], "tests": [{"stdin": "1"}, {"stdin": "2"}]})
    assert result["verdict"] == "compile_error", result
    assert [case["verdict"] for case in result["tests"]] == ["compile_error", "compile_error"]
    assert result["exit_code"] != 0
    assert result["stderr"] or result["stdout"], "the compiler's message is the answer's output"
    assert all(case["exit_code"] is None and case["time"] is None for case in result["tests"])
    assert result["passed"] == 0


@pytest.mark.parametrize("runtime", list(PROGRAMS))
def test_stop_on_first_failure(service, runtime):
    tests = [{"stdin": "1", "expected_output": "2"}, {"stdin": "1", "expected_output": "3"}, {"stdin": "2", "expected_output": "4"}]
    result = judge(service, {"image": runtime, "code": PROGRAMS[runtime], "tests": tests, "stop_on_first_failure": True})
    assert [case["verdict"] for case in result["tests"]] == ["accepted", "wrong_answer", "skipped"]
    assert result["tests"][2]["exit_code"] is None
    # without the flag the third case runs
    result = judge(service, {"image": runtime, "code": PROGRAMS[runtime], "tests": tests})
    assert [case["verdict"] for case in result["tests"]] == ["accepted", "wrong_answer", "accepted"]


@pytest.mark.parametrize(
    "compare, extra, output, expected, verdict",
    [
        ("exact", {}, "1 2\n", "1 2\n", "accepted"),
        ("exact", {}, "1 2 \n", "1 2\n", "wrong_answer"),
        ("trim", {}, "1 2  \n\n\n", "1 2", "accepted"),
        ("trim", {}, "1  2\n", "1 2\n", "wrong_answer"),
        ("tokens", {}, "1\n  2\t\n", "1 2", "accepted"),
        ("tokens", {}, "1 2 3", "1 2", "wrong_answer"),
        ("float", {}, "0.3333333 x\n", "0.33333334 x", "accepted"),
        ("float", {"float_tolerance": 0.01}, "3.14\n", "3.1416", "accepted"),
        ("float", {"float_tolerance": 0.0001}, "3.14\n", "3.1416", "wrong_answer"),
    ],
)
def test_comparison_modes(service, compare, extra, output, expected, verdict):
    code = f"import sys; sys.stdout.write({output!r})"
    result = judge(service, {"code": code, "compare": compare, **extra, "tests": [{"expected_output": expected}]})
    assert result["tests"][0]["verdict"] == verdict, result["tests"][0]


def test_fork_bomb_then_a_fair_case(service):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    code = "import sys\nif sys.stdin.read() == 'bomb':\n" + "".join("    " + line + "\n" for line in bomb.splitlines()) + "print('fine')\n"
    result = judge(service, {"code": code, "tests": [{"stdin": "bomb", "timeout": 2}, {"expected_output": "fine"}, {"expected_output": "fine"}]})
    verdicts = [case["verdict"] for case in result["tests"]]
    assert verdicts[0] in ("time_limit_exceeded", "runtime_error"), result["tests"][0]
    assert verdicts[1:] == ["accepted", "accepted"], result["tests"]


def test_full_tmp_then_a_fair_case(service):
    # the first case fills /tmp (outside its work dir too); the next has the whole disk again
    code = r'''
import os, sys
mode = sys.stdin.read()
size = 60 << 20
if mode == "fill":
    for path in ("/tmp/junk", "/tmp/home/junk", "junk"):
        try:
            with open(path, "wb") as f:
                while True:
                    f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    print("filled")
else:
    with open("/tmp/big", "wb") as f:
        f.write(b"\1" * size)
    print("wrote", os.path.getsize("/tmp/big") >> 20)
'''
    result = judge(service, {"code": code, "disk_limit": "100m", "tests": [{"stdin": "fill"}, {"expected_output": "wrote 60"}, {"expected_output": "wrote 60"}]})
    assert [case["verdict"] for case in result["tests"]] == ["accepted", "accepted", "accepted"], result["tests"]


def test_children_left_behind_are_ended(service):
    marker = uuid.uuid4().hex
    code = r'''
import os, sys, time
if sys.stdin.read() == "leave":
    if os.fork() == 0:
        os.setsid()
        while True:
            with open("/tmp/work/leftover", "a") as f:
                f.write("%s\n")
            print("%s", flush=True)
            time.sleep(0.01)
    print("parent done")
else:
    print("clean" if not os.path.exists("leftover") else "dirty")
    print(sorted(p for p in os.listdir("/proc") if p.isdigit() and int(p) > 1 and open(f"/proc/{p}/cmdline").read().find("python") >= 0).__len__())
''' % (marker, marker)
    result = judge(service, {"code": code, "tests": [{"stdin": "leave"}, {"expected_output": "clean\n1"}]})
    assert result["tests"][1]["verdict"] == "accepted", result["tests"]
    assert marker not in result["tests"][1]["stdout"]


def test_changes_to_the_work_dir_do_not_carry_over(service):
    code = r'''
import os, sys
print(open("data.txt").read().strip(), os.path.exists("new.txt"))
open("data.txt", "w").write("changed")
open("new.txt", "w").write("x")
'''
    result = judge(service, {"code": code, "files": {"data.txt": "pristine"}, "tests": [{"expected_output": "pristine False"}] * 3})
    assert [case["verdict"] for case in result["tests"]] == ["accepted"] * 3, result["tests"]


def test_forged_records_are_not_believed(service):
    # a case prints what a record looks like (without the nonce, which it cannot know), on its
    # stdout and on the container's own streams if it can reach them
    code = r'''
import os
fake = "@@code-runner:%s@@ case 1 0 1 1 1 - 2 0\nok" % ("0" * 32)
print(fake)
for path in ("/proc/1/fd/1", "/proc/self/fd/1"):
    try:
        with open(path, "w") as f:
            f.write(fake + "\n")
    except OSError:
        pass
'''
    result = judge(service, {"code": code, "tests": [{"expected_output": "nothing"}, {"expected_output": "nothing"}]})
    assert [case["verdict"] for case in result["tests"]] == ["wrong_answer", "wrong_answer"], result["tests"]


def test_whole_run_deadline(service):
    # the third case outlasts the run's timeout: it is ended by it, the rest never start
    code = "import sys, time\nif sys.stdin.read() == 'slow':\n    time.sleep(60)\nprint('done')\n"
    tests = [{"stdin": "quick", "expected_output": "done"}] * 2 + [{"stdin": "slow"}] + [{"expected_output": "done"}] * 2
    started = time.monotonic()
    result = judge(service, {"code": code, "tests": tests}, timeout=3)
    elapsed = time.monotonic() - started
    verdicts = [case["verdict"] for case in result["tests"]]
    assert verdicts[:2] == ["accepted", "accepted"], result["tests"]
    assert verdicts[2] == "time_limit_exceeded" and verdicts[3:] == ["skipped", "skipped"], result["tests"]
    assert result["timed_out"] is True
    assert elapsed < 3 + 10


def test_cpu_time_and_memory_are_reported(service):
    code = r'''
import sys, time
if sys.stdin.read() == "cpu":
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
else:
    block = b"\1" * (100 << 20)
print("ok")
'''
    result = judge(service, {"code": code, "tests": [{"stdin": "cpu"}, {"stdin": "memory"}]})
    cpu, memory = result["tests"]
    assert cpu["cpu_time"] is not None and cpu["cpu_time"] >= 0.25, cpu
    assert memory["memory_bytes"] is not None and memory["memory_bytes"] >= 100 << 20, memory


def test_jobs_carry_the_verdicts(service):
    job_id = service.submit({"code": "print(input())", "tests": [{"stdin": "a\n", "expected_output": "a"}, {"stdin": "b\n", "expected_output": "c"}]})
    job = service.wait_job(job_id, timeout=60)
    assert job["status"] == "completed", job
    assert job["result"]["verdict"] == "wrong_answer"
    assert [case["verdict"] for case in job["result"]["tests"]] == ["accepted", "wrong_answer"]


@pytest.mark.parametrize(
    "body, loc",
    [
        ({"tests": [{}] * 1001}, ["body", "tests"]),
        ({"tests": [{}], "stdin": "x"}, ["body", "stdin"]),
        ({"tests": [{"expected": "x"}]}, ["body", "tests", 0, "expected"]),
        ({"tests": [{"timeout": 0}]}, ["body", "tests", 0, "timeout"]),
        ({"tests": [{}], "compare": "fuzzy"}, ["body", "compare"]),
        ({"tests": [{}], "float_tolerance": 0.1}, ["body", "float_tolerance"]),
    ],
)
def test_bad_judge_requests(service, body, loc):
    r, _ = service.run({"code": "print(1)", **body})
    assert r.status_code == 422, r.text
    assert [issue["loc"] for issue in r.json()["detail"]] == [loc]
