#!/usr/bin/env bash
# Per runtime, in one run: p50 wall time of hello world through POST /run (a fresh service on a
# free port, release binaries) and through `docker run` of the same image with the same sandbox
# flags (scripts/smoke-image.sh), image size and the runtime version. Prints a Markdown table.
# Usage: scripts/bench-runtimes.sh [runs=10] [runtime ...]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-10}; shift || true
RUNTIMES=("$@"); [ ${#RUNTIMES[@]} -gt 0 ] || RUNTIMES=(python node bun go deno rust)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

workdir=$(mktemp -d /tmp/code-runner-bench.XXXXXX)
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST=127.0.0.1 PORT=$port DATABASE_PATH="$workdir/db.sqlite" RUNTIME_DIR="$ROOT/runtimes" \
    setsid bash "$ROOT/scripts/run-service.sh" >"$workdir/service.log" 2>&1 &
service=$!
trap 'kill -TERM -- -$service 2>/dev/null; wait $service 2>/dev/null' EXIT
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"docker_connected":true' && break
    sleep 0.2
done

echo "| runtime | version | image size | POST /run p50 | docker run p50 | ratio |"
echo "|---|---|---|---|---|---|"
for rt in "${RUNTIMES[@]}"; do
    api_p50=$($PY - "$port" "$rt" "$RUNS" <<'PY'
import json, statistics, sys, time, urllib.request
port, rt, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
code = {
    "python": "print('hello world')", "node": "console.log('hello world')", "bun": "console.log('hello world')",
    "deno": "const msg: string = 'hello world';\nconsole.log(msg);",
    "go": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello world")\n}\n',
    "rust": 'fn main() {\n    println!("hello world");\n}\n',
}[rt]
body = json.dumps({"code": code, "image": rt, "timeout": 120}).encode()
times = []
for i in range(runs + 1):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/run", data=body, headers={"Content-Type": "application/json"})
    t = time.monotonic()
    out = json.load(urllib.request.urlopen(req, timeout=300))
    assert out["stdout"] == "hello world\n", out
    if i: times.append((time.monotonic() - t) * 1000)
print(f"{statistics.median(times):.0f}")
PY
)
    docker_p50=$(BENCH=$RUNS bash "$ROOT/scripts/smoke-image.sh" "$rt" 2>/dev/null | sed -n 's/.*bench hello world x[0-9]*: p50 \([0-9]*\) ms.*/\1/p')
    size=$(docker image inspect -f '{{.Size}}' "code-runner-$rt" | awk '{printf "%.0f MB", $1/1e6}')
    version=$($PY -c "import json,sys; print(json.load(open('$ROOT/runtimes/$rt/runtime.json'))['description'].split(' (')[0].split(' with')[0])")
    ratio=$($PY -c "print(f'{$api_p50/$docker_p50:.2f}')" 2>/dev/null || echo "?")
    echo "| $rt | $version | $size | ${api_p50} ms | ${docker_p50} ms | $ratio |"
done
