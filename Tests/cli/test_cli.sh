#!/usr/bin/env bash
# The code-runner CLI against a running service: CODE_RUNNER_URL and CODE_RUNNER_API_KEY say
# where, CODE_RUNNER_BIN which binary (default .build/debug/code-runner). Every check asserts an
# exit code and output; the script prints a count and exits non-zero when one failed.
set -uo pipefail

BIN="${CODE_RUNNER_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/.build/debug/code-runner}"
: "${CODE_RUNNER_URL:?CODE_RUNNER_URL must point at a running service}"
: "${CODE_RUNNER_API_KEY:?CODE_RUNNER_API_KEY must be set}"
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
