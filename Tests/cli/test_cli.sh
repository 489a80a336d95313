#!/usr/bin/env bash
# The code-runner CLI against a running service: CODE_RUNNER_URL and CODE_RUNNER_API_KEY say
# where, CODE_RUNNER_BIN which binary (default .build/debug/code-runner). Every check asserts an
# exit code and output; the script prints a count and exits non-zero when one failed. Without
# CODE_RUNNER_URL only the checks that need no service run (usage errors), and it says so.
set -uo pipefail

BIN="${CODE_RUNNER_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/code-runner}"
have_service=${CODE_RUNNER_URL:+yes}
[ -z "$have_service" ] || : "${CODE_RUNNER_API_KEY:?CODE_RUNNER_API_KEY must be set}"
export CODE_RUNNER_URL CODE_RUNNER_API_KEY

work=$(mktemp -d /tmp/code-runner-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# check <name> <condition...>: records the outcome of a test condition.
check() {
    local name=$1; shift
    if "$@"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"
        echo "     status=$status"; echo "     stdout: $(head -c 600 "$work/out")"; echo "     stderr: $(head -c 600 "$work/err")"
    fi
}

# cli [args...]: runs the binary; status, $work/out and $work/err hold what it did.
cli() {
    "$BIN" "$@" >"$work/out" 2>"$work/err" </dev/null
    status=$?
}

# cli_in <stdin-text> [args...]: the same with standard input from a pipe.
cli_in() {
    local input=$1; shift
    printf '%s' "$input" | "$BIN" "$@" >"$work/out" 2>"$work/err"
    status=$?
}

out_is() { [ "$(cat "$work/out")" = "$1" ]; }
out_has() { grep -qF -- "$1" "$work/out"; }
err_has() { grep -qF -- "$1" "$work/err"; }
status_is() { [ "$status" -eq "$1" ]; }
json_field_is() { [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/out" "$1")" = "$2" ]; }

mkdir -p "$work/app"
cat >"$work/app/main.py" <<'PY'
import sys
from helper import shout
data = sys.stdin.read()
print(shout(data))
print("warning on stderr", file=sys.stderr)
sys.exit(7)
PY
cat >"$work/app/helper.py" <<'PY'
def shout(text):
    return text.strip().upper() + "!"
PY
echo 'console.log("from " + (typeof Deno === "undefined" ? "node" : "deno"))' >"$work/hello.js"
echo 'const n: number = 41; console.log(`ts ${n + 1}`)' >"$work/hello.ts"
echo 'print("plain text file run as python")' >"$work/script.txt"
echo 'while True: pass' >"$work/spin.py"
echo 'import time; time.sleep(300)' >"$work/sleep.py"
echo 'print("quick")' >"$work/quick.py"
mkdir -p "$work/rs"
printf 'mod helper;\nfn main() { println!("rust {}", helper::answer()); }\n' >"$work/rs/main.rs"
printf 'pub fn answer() -> i32 { 42 }\n' >"$work/rs/helper.rs"
printf 'package main\nimport "fmt"\nfunc main() { fmt.Println("go", 6*7) }\n' >"$work/hello.go"

# Judge mode's files: a program that adds two numbers (crash: exit 3; sleep: hangs) and cases.
cat >"$work/adder.py" <<'PY'
import sys, time
data = sys.stdin.read()
if data.startswith("crash"):
    sys.exit(3)
if data.startswith("sleep"):
    time.sleep(60)
a, b = map(float, data.split())
total = a + b
print(int(total) if total == int(total) else total)
PY
printf 'package main\nfunc main() { undefinedThing() }\n' >"$work/broken.go"
echo '[{"name": "one", "stdin": "1 2\n", "expected_output": "3\n"}, {"stdin": "20 22", "expected_output": "42"}]' >"$work/pass.json"
cat >"$work/mixed.json" <<'JSON'
[
  {"name": "small", "stdin": "1 2\n", "expected_output": "3\n"},
  {"name": "wrong", "stdin": "2 2\n", "expected_output": "5\n"},
  {"name": "crash", "stdin": "crash\n"},
  {"name": "slow", "stdin": "sleep\n", "timeout": 0.5}
]
JSON
echo '[{"stdin": "0.1 0.2", "expected_output": "0.3000001"}]' >"$work/float.json"
echo '{"tests": [{"stdin": "1 2", "expected_output": "3"}], "compare": "exact"}' >"$work/exact.json"
echo '[{"stdin": "1 2", "timeout": 5}]' >"$work/long-case.json"

# judge mode: cases file and option errors are usage errors (64) found before any request (the
# address is one where nothing listens: reaching it would be 69)
offline() { CODE_RUNNER_URL=http://127.0.0.1:1 cli "$@"; }
offline run "$work/adder.py" --tests "$work/no-such-cases.json"
check "run --tests: a missing cases file (64)" eval 'status_is 64 && err_has "Cannot read the test cases file '"'"'$work/no-such-cases.json'"'"'"'
offline run "$work/adder.py" --tests "$work"
check "run --tests: a folder is not a cases file (64)" eval 'status_is 64 && err_has "Cannot read the test cases file"'
echo '[{"stdin": "1 2"' >"$work/cut.json"
offline run "$work/adder.py" --tests "$work/cut.json"
check "run --tests: invalid JSON (64), saying why" eval 'status_is 64 && err_has "is not valid JSON: Unexpected end of file"'
echo '"1 2"' >"$work/string.json"
offline run "$work/adder.py" --tests "$work/string.json"
check "run --tests: neither an array nor an object (64)" eval 'status_is 64 && err_has "expected an array of test cases, or an object with \"tests\""'
echo '[]' >"$work/none.json"
offline run "$work/adder.py" --tests "$work/none.json"
check "run --tests: no cases (64)" eval 'status_is 64 && err_has "there are no test cases"'
echo '[{"stdin": "1 2"}, {"stdn": "3 4"}]' >"$work/typo.json"
offline run "$work/adder.py" --tests "$work/typo.json"
check "run --tests: an unknown case key (64), at its place" eval 'status_is 64 && err_has "tests[1].stdn is not a test case key"'
echo '[{"stdin": 12}]' >"$work/number.json"
offline run "$work/adder.py" --tests "$work/number.json"
check "run --tests: a case value of the wrong type (64)" eval 'status_is 64 && err_has "tests[0].stdin must be a string"'
echo '[{"timeout": "1s"}]' >"$work/timeout.json"
offline run "$work/adder.py" --tests "$work/timeout.json"
check "run --tests: a timeout that is not a number (64)" eval 'status_is 64 && err_has "tests[0].timeout must be a number of seconds"'
echo '{"tests": [{}], "stop_on_first_fail": true}' >"$work/settings.json"
offline run "$work/adder.py" --tests "$work/settings.json"
check "run --tests: an unknown key of the object form (64)" eval 'status_is 64 && err_has "unknown key \"stop_on_first_fail\""'
offline run "$work/adder.py" --tests "$work/pass.json" --compare fuzzy
check "run --compare: an unknown mode (64), listing the modes" eval 'status_is 64 && err_has "exact, trim, tokens, float"'
offline run "$work/adder.py" --compare exact
check "run --compare without --tests (64)" eval 'status_is 64 && err_has "--compare needs --tests"'
offline run "$work/adder.py" --stop-on-first-failure
check "run --stop-on-first-failure without --tests (64)" eval 'status_is 64 && err_has "--stop-on-first-failure needs --tests"'
offline run "$work/adder.py" --tests "$work/pass.json" --float-tolerance 0.01
check "run --float-tolerance without --compare float (64)" eval 'status_is 64 && err_has "applies only with --compare float"'
offline run "$work/adder.py" --tests "$work/pass.json" --compare float --float-tolerance nan
check "run --float-tolerance nan (64)" eval 'status_is 64 && err_has "finite number"'
offline run --help
check "run --help: judge mode's options and exit status documented" \
    eval 'status_is 0 && out_has "--tests <file>" && out_has "--compare <mode>" && out_has "--float-tolerance <x>" && out_has "--stop-on-first-failure" && out_has "0 when every case is accepted and 1"'
check "run --help: streaming and --no-stream documented" eval 'status_is 0 && out_has "--no-stream"'

if [ -z "$have_service" ]; then
    echo "CODE_RUNNER_URL is not set: skipped the checks that need a running service"
    echo "CLI tests: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# health
cli health
check "health: exit 0 and status ok" eval 'status_is 0 && out_has "status:  ok" && out_has "auth:    enabled"'
cli health --json
check "health --json: docker_connected true" eval 'status_is 0 && json_field_is docker_connected True'
cli runtimes --packages
check "runtimes --packages: each image's packages under its runtime" eval 'status_is 0 && out_has "python " && grep -qE "^ +numpy +[0-9]" "$work/out" && grep -qE "^ +typescript +[0-9]" "$work/out"'
cli runtimes
check "runtimes: one line per runtime without --packages" eval 'status_is 0 && [ "$(wc -l <"$work/out")" -eq 6 ] && ! out_has numpy'

# run: files, stdin, streams, exit code
cli_in "hello there" run "$work/app/main.py" "$work/app/helper.py"
check "run: stdin piped, helper file sent, stdout printed" out_is "HELLO THERE!"
check "run: stderr on stderr" err_has "warning on stderr"
check "run: exit code mirrored (7)" status_is 7

# live output: streamed as the program writes it by default, all at the end with --no-stream;
# either way the same stdout, stderr (each on its own stream) and exit code
cat >"$work/both.py" <<'PY'
import sys, time
for i in range(3):
    print("out", i, flush=True)
    print("err", i, file=sys.stderr, flush=True)
    time.sleep(0.2)
print("no newline at the end", end="")
sys.exit(5)
PY
printf 'out 0\nout 1\nout 2\nno newline at the end' >"$work/both.out"
printf 'err 0\nerr 1\nerr 2\n' >"$work/both.err"
cli run "$work/both.py"
check "run (streamed): a program writing both streams: its stdout, its stderr, its exit code (5)" \
    eval 'status_is 5 && cmp -s "$work/out" "$work/both.out" && cmp -s "$work/err" "$work/both.err"'
cli run --no-stream "$work/both.py"
check "run --no-stream: the same stdout, stderr and exit code" \
    eval 'status_is 5 && cmp -s "$work/out" "$work/both.out" && cmp -s "$work/err" "$work/both.err"'
# live: `run` with stdout into a pipe; first_line is the first line it printed, running_then
# whether the command was still running when that line arrived (the program sleeps until its
# 3 s timeout, so a streamed line arrives long before the end)
live_first_line() {
    rm -f "$work/fifo"
    mkfifo "$work/fifo"
    "$BIN" run "$@" >"$work/fifo" 2>"$work/err" </dev/null &
    local pid=$!
    { read -r first_line; if kill -0 "$pid" 2>/dev/null; then running_then=yes; else running_then=no; fi; cat >"$work/out"; } <"$work/fifo"
    wait "$pid"
    status=$?
}
printf 'import time\nprint("first", flush=True)\ntime.sleep(300)\n' >"$work/first.py"
live_first_line --timeout 3 "$work/first.py"
check "run: output is printed while the program runs (the first line came before the command ended)" \
    eval 'status_is 124 && [ "$first_line" = first ] && [ "$running_then" = yes ] && err_has "timed out"'

cli_in "abc" run --json "$work/app/main.py" "$work/app/helper.py"
check "run --json: exit_code in JSON, exit code still mirrored" eval 'status_is 7 && json_field_is exit_code 7 && json_field_is stdout "ABC!"'
check "run --json: the program's stderr stays in the JSON" eval '! err_has "warning on stderr" && json_field_is timed_out False'

cp "$work/quick.py" "$work/app/other.py"
cli run "$work/app/other.py" "$work/app/main.py"
check "run: a second file called main.py is refused (64)" eval 'status_is 64 && err_has "would replace the main file"'
cli run --main "$work/app/main.py" "$work/app/helper.py" "$work/app/main.py" --no-stdin
check "run --main picks the main file; --no-stdin sends none" eval 'status_is 7 && out_is "!"'

cli run "$work/quick.py"
check "run: exit 0 for a clean program" eval 'status_is 0 && out_is quick'

cli run "$work/hello.js"
check "run: .js runs on node" eval 'status_is 0 && out_is "from node"'

cli run "$work/hello.ts"
check "run: .ts runs on deno" eval 'status_is 0 && out_is "ts 42"'

cli run --runtime bun "$work/hello.ts"
check "run --runtime bun: .ts on bun" eval 'status_is 0 && out_is "ts 42"'

cli run "$work/rs/main.rs" "$work/rs/helper.rs"
check "run: .rs with a module file runs on rust" eval 'status_is 0 && out_is "rust 42"'

cli run "$work/hello.go"
check "run: .go runs on go" eval 'status_is 0 && out_is "go 42"'

cli run "$work/script.txt"
check "run: unknown extension asks for --runtime (usage error 64)" eval 'status_is 64 && err_has "--runtime"'

cli run --runtime python "$work/script.txt"
check "run --runtime python on a .txt" eval 'status_is 0 && out_is "plain text file run as python"'

cli run --timeout 1 "$work/spin.py"
check "run: a timed-out program exits 124 and says so" eval 'status_is 124 && err_has "timed out"'

cli run --env GREETING=hey --runtime python "$work/script.txt" --entrypoint 'echo $GREETING'
check "run --env and --entrypoint" eval 'status_is 0 && out_is hey'

# judge mode (--tests): one program, many cases; exit 0 only when every case is accepted
# verdict <row>: the verdict column of the table's row (1 = the first case; names have no spaces).
verdict() { awk -v row="$(($1 + 1))" 'NR == row { print $3 }' "$work/out"; }
cli run "$work/adder.py" --tests "$work/pass.json"
check "run --tests: every case accepted, exit 0, a row per case and the summary" \
    eval 'status_is 0 && out_has "NAME" && out_has "VERDICT" && [ "$(verdict 1)" = accepted ] && [ "$(verdict 2)" = accepted ] && out_has "one" && tail -n 1 "$work/out" | grep -qxF "2/2 passed, verdict: accepted" && [ "$(wc -l <"$work/out")" -eq 4 ]'
cli run --timeout 20 "$work/adder.py" --tests "$work/mixed.json"
check "run --tests: each case's verdict in order, exit 1" \
    eval 'status_is 1 && [ "$(verdict 1)" = accepted ] && [ "$(verdict 2)" = wrong_answer ] && [ "$(verdict 3)" = runtime_error ] && [ "$(verdict 4)" = time_limit_exceeded ]'
check "run --tests: the summary names the first failure" eval 'tail -n 1 "$work/out" | grep -qxF "1/4 passed, verdict: wrong_answer"'
cli run --timeout 20 "$work/adder.py" --tests "$work/mixed.json" --stop-on-first-failure
check "run --stop-on-first-failure: the cases after the first failure are skipped" \
    eval 'status_is 1 && [ "$(verdict 2)" = wrong_answer ] && [ "$(verdict 3)" = skipped ] && [ "$(verdict 4)" = skipped ]'
cli run --json --timeout 20 "$work/adder.py" --tests "$work/mixed.json"
check "run --tests --json: the whole result, exit 1" \
    eval 'status_is 1 && json_field_is verdict wrong_answer && json_field_is passed 1 && json_field_is total 4 && [ "$(python3 -c "import json,sys; print([t[\"verdict\"] for t in json.load(open(sys.argv[1]))[\"tests\"]][2])" "$work/out")" = runtime_error ]'
cli run "$work/adder.py" --tests "$work/float.json" --compare float --float-tolerance 0.001
check "run --compare float --float-tolerance: accepted within the tolerance" eval 'status_is 0 && [ "$(verdict 1)" = accepted ]'
cli run "$work/adder.py" --tests "$work/exact.json"
check "run --tests with the object form: its compare (exact) applies" eval 'status_is 1 && [ "$(verdict 1)" = wrong_answer ]'
cli run "$work/adder.py" --tests "$work/exact.json" --compare trim
check "run --compare overrides the file's compare" eval 'status_is 0 && [ "$(verdict 1)" = accepted ]'
cli_in "5 5" run "$work/adder.py" --tests "$work/pass.json"
check "run --tests: piped stdin is not sent (each case has its own)" eval 'status_is 0 && tail -n 1 "$work/out" | grep -qxF "2/2 passed, verdict: accepted"'
cli run "$work/broken.go" --tests "$work/pass.json"
check "run --tests: a build that fails is compile_error, exit 1, the compiler's output on stderr" \
    eval 'status_is 1 && [ "$(verdict 1)" = compile_error ] && [ "$(verdict 2)" = compile_error ] && err_has "undefinedThing" && out_has "0/2 passed, verdict: compile_error"'
cli run --timeout 2 "$work/adder.py" --tests "$work/long-case.json"
check "run --tests: a case timeout over --timeout is refused (65) naming the field" eval 'status_is 65 && err_has "tests.0.timeout"'
cli run --detach "$work/adder.py" --tests "$work/pass.json"
judged=$(cat "$work/out")
cli jobs get --wait 60 "$judged"
check "jobs get: a judged job shows its cases and verdict" \
    eval 'status_is 0 && out_has "status:   completed" && out_has "2/2 passed, verdict: accepted" && out_has "--- build stdout ---"'

# jobs
cli run --detach "$work/quick.py"
job=$(cat "$work/out")
check "run --detach prints a job id" eval 'status_is 0 && [ -n "$job" ]'
cli jobs get --wait 60 "$job"
check "jobs get --wait: completed with its output" eval 'status_is 0 && out_has "status:   completed" && out_has "quick"'
cli jobs get --json "$job"
check "jobs get --json: the job" eval 'status_is 0 && json_field_is job_id "$job" && json_field_is status completed'
cli jobs list
check "jobs list shows the job" eval 'status_is 0 && out_has "$job" && out_has "JOB ID"'
cli jobs list --status cancelled --json
check "jobs list --status filters" eval 'status_is 0 && ! out_has "$job"'
cli jobs cancel "$job"
check "jobs cancel on a finished job: conflict (75)" eval 'status_is 75 && err_has "already finished"'

cli run --detach --timeout 120 "$work/sleep.py"
sleeper=$(cat "$work/out")
cli jobs cancel "$sleeper"
check "jobs cancel: a running/queued job is cancelled" eval 'status_is 0 && out_is "$sleeper cancelled"'
cli jobs get "$sleeper"
check "jobs get: cancelled" eval 'out_has "status:   cancelled"'

# errors
cli jobs get no-such-job
check "unknown job: not found (66)" eval 'status_is 66 && err_has "Job '"'"'no-such-job'"'"' not found."'
cli run --api-key wrong "$work/quick.py"
check "wrong API key: unauthorized (77)" eval 'status_is 77 && err_has "Invalid API Key"'
CODE_RUNNER_API_KEY= cli jobs list
check "no API key: unauthorized (77)" eval 'status_is 77 && err_has "Not authenticated"'
cli run --timeout 0 "$work/quick.py"
check "invalid timeout: invalid request (65) naming the field" eval 'status_is 65 && err_has "timeout"'
cli run --help
check "run --help: --allow-host is documented" eval 'status_is 0 && out_has "--allow-host <entry>" && out_has "implies network."'
cli run --allow-host pypi.org --allow-host localhost "$work/quick.py"
check "run --allow-host: each entry sent, a bad one refused (65) at its index" \
    eval 'status_is 65 && err_has "allowed_hosts.1: Value error, '"'"'localhost'"'"': a host name needs at least two labels (example.org)" && ! err_has "allowed_hosts.0"'
cli run --allow-host 10.1.0.0/16 "$work/quick.py"
check "run --allow-host: a range the egress policy refuses entirely (65), naming it" \
    eval 'status_is 65 && err_has "allowed_hosts.0: Value error, '"'"'10.1.0.0/16'"'"' is inside 10.0.0.0/8, which this service'"'"'s egress policy refuses"'
cli run --detach --allow-host example.org --allow-host '*.example.org' "$work/quick.py"
allowlisted=$(cat "$work/out")
check "run --allow-host --detach: a good list is accepted (a networked run)" eval 'status_is 0 && [ -n "$allowlisted" ]'
cli jobs cancel "$allowlisted"  # whatever its state; only the acceptance is checked
cli run --callback-url http://127.0.0.1:9/hook "$work/quick.py"
check "run --callback-url: sent as callback_url, refused (65) naming it (no WEBHOOK_SECRET here)" \
    eval 'status_is 65 && err_has "callback_url"'
# output files: --output-file patterns sent, --output-dir saves them by their work-dir path;
# jobs watch: a submitted job's output, then its exit code; --after resumes; a bad id is 65
printf 'print("watched one")\nprint("watched two")\nraise SystemExit(4)\n' >"$work/watched.py"
cli run --detach "$work/watched.py"
watched=$(cat "$work/out")
cli jobs watch "$watched"
check "jobs watch: the job's stdout, then its exit code (4)" eval 'status_is 4 && out_is "$(printf "watched one\nwatched two")"'
cli jobs watch "$watched" --after 1:12:0
check "jobs watch --after: only what came after the event id" eval 'status_is 4 && out_is "watched two"'
cli jobs watch "$watched" --after nonsense
check "jobs watch --after a bad event id: refused (65) naming last_event_id" eval 'status_is 65 && err_has "last_event_id"'

# refused with --tests before any request
cat >"$work/writes.py" <<'PY'
import os
os.makedirs("out/deep", exist_ok=True)
open("out/deep/table.csv", "w").write("x,y\n1,2\n")
open("out/ignored.log", "w").write("no")
print("wrote")
PY
cli run --output-file 'out/**/*.csv' --output-dir "$work/saved" "$work/writes.py"
check "run --output-file --output-dir: the matching file saved at its path, the other not" \
    eval 'status_is 0 && out_is wrote && err_has "saved 1 output file(s)" && [ "$(cat "$work/saved/out/deep/table.csv")" = "$(printf "x,y\n1,2")" ] && [ ! -e "$work/saved/out/ignored.log" ]'
cli run --output-file 'out/*.csv' "$work/writes.py"
check "run --output-file without a match: says so, exit 0" eval 'status_is 0 && err_has "no file matched --output-file"'
cli run --output-file '../etc/passwd' "$work/writes.py"
check "run --output-file outside the work dir: refused (65) naming output_files.0" eval 'status_is 65 && err_has "output_files.0"'
offline run --output-file '*.txt' --tests "$work/pass.json" "$work/adder.py"
check "run --output-file with --tests: a usage error (64)" eval 'status_is 64 && err_has "--output-file cannot be combined with --tests"'
# priority: sent as given; above the key's (1 for a CODE_RUNNER_API_KEYS key) the service's 422 names it
offline run --priority 11 "$work/writes.py"
check "run --priority 11: a usage error (64)" eval 'status_is 64 && err_has "--priority must be from 0 to 10"'
cli run --priority 0 "$work/writes.py"
check "run --priority 0: runs" eval 'status_is 0 && out_is wrote'
cli run --priority 2 "$work/writes.py"
check "run --priority above the key's: refused (65) naming priority" eval 'status_is 65 && err_has "priority" && err_has "this API key'"'"'s priority"'
cli health --url http://127.0.0.1:1
check "unreachable service (69)" eval 'status_is 69 && err_has "cannot reach the service"'

# prebuild
cli prebuild get no-such-tag
check "prebuild get unknown: not found (66)" status_is 66
tag="cli-fail-$$"
cli prebuild "$tag" --runtime python --setup 'echo cli-setup-broke; exit 3'
check "prebuild with a failing script: exit 1, progress and log on stderr" \
    eval 'status_is 1 && err_has "prebuild: prebuilt-$tag" && err_has "failed" && err_has "cli-setup-broke"'
cli prebuild delete "$tag"
check "prebuild delete" eval 'status_is 0 && out_is "deleted $tag"'

echo "CLI tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
