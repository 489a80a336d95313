#!/usr/bin/env bash
# The original service, quartermaster-code-runner 0.9.1 from PyPI, beside ours for `make bench`
# (issue 20: latency and throughput ratios against it). `make test` does not need it.
#
#   scripts/original-service.sh start   # idempotent; prints one line ORIGINAL_URL=http://127.0.0.1:<port>
#   scripts/original-service.sh stop    # stops it (SIGTERM to its process group: uvicorn lets running
#                                        # requests finish, SIGKILL after 10 s), then removes the
#                                        # containers of its image and its quartermaster_metadata_*
#                                        # volumes an interrupted run left; leaves venv and image
#
# start:
#   1. a virtualenv at ORIGINAL_VENV (/var/tmp/code-runner-original/venv) made by ORIGINAL_PYTHON
#      (/usr/bin/python3, >= 3.11) with quartermaster-code-runner==0.9.1 and every dependency pinned
#      (REQUIREMENTS below, `pip install` from PyPI); remade when the pins or the Python change.
#   2. its image prefixes renamed. config.py holds them as module constants, read by no environment
#      variable (RUNTIME_IMAGE_PREFIX = "code-runner-", PREBUILT_IMAGE_PREFIX = "prebuilt-"), so the
#      installed copy in the venv is patched with sed to "original-code-runner-" and
#      "original-prebuilt-" (ours stores prebuilt images as prebuilt-<tag> too, and the original's
#      /prebuilds routes and its periodic cleanup force-remove prebuilt-* images), then checked:
#      no "code-runner-"/"prebuilt-" literal left in the package, and get_image_name("python") is
#      original-code-runner-python. A client that sends "code-runner-python" now gets a 500
#      (the name is taken as a prebuilt tag), never our image.
#   3. its python runtime image, original-code-runner-python, built from the package's own
#      runtime/python files (they are in the wheel; checked against its RECORD) in a temp dir with
#      a rewritten copy of its Dockerfile, which has no ARG for its base:
#        - FROM python:3.12-slim -> FROM code-runner-base:trixie (ORIGINAL_BASE_IMAGE), plus the
#          interpreter python:3.12-slim brings: Debian's python3 (trixie: 3.13), python-is-python3,
#          python3-pip, ca-certificates; LANG=C.UTF-8 and PIP_BREAK_SYSTEM_PACKAGES=1 (PEP 668);
#        - its uv step (curl https://astral.sh/uv/install.sh, unreachable here) -> `pip install uv`;
#        - its pip steps unchanged (PyPI, from inside the build) but with PIP_CONSTRAINT pinning
#          the versions (IMAGE_CONSTRAINTS below) and, when the host's pip uses a CA bundle of its
#          own (PIP_CERT / pip config, e.g. a TLS-intercepting egress proxy), that bundle as
#          PIP_CERT; both are removed from the file system after the last pip step (the bundle's
#          public certificates stay in one lower layer).
#      apt-get gets its packages from the Debian mirror the base image's sources name. The build
#      is skipped when the image's label org.code-runner.original.inputs equals the sha256 of the
#      build context and the base image's ID. Only the tag original-code-runner-python is ever
#      built (guarded): images named code-runner-* (ours) are never built, tagged or removed; the
#      one image this script removes is its own previous build, by ID, once untagged.
#   4. uvicorn quartermaster_code_runner.app:app on 127.0.0.1:ORIGINAL_PORT (8100) in the
#      background (setsid; pid file, port file and log in ORIGINAL_STATE_DIR,
#      /var/tmp/code-runner-original), in an environment of its own (env -i: PATH, HOME, LANG and
#      DOCKER_* only), because its settings share our names (AUTH_TOKEN, RUNTIME_DIR,
#      DEFAULT_TIMEOUT, ...) and must not leak in; RUNTIME_DIR is set to its own runtime/. Refuses
#      a port already in use. Waits until GET /health says "status": "ok" (Docker reachable).
#      Already running on that port and healthy: nothing is done.
#   Everything but the ORIGINAL_URL line goes to stderr.
#
# Its request contract (schemas.CodeExecutionRequest): POST /run, JSON, "code" (required), "image"
# (python|node|bun|go|deno|rust, default python; another name means prebuilt-<name>), optional
# "files" {name: content}, "entrypoint", "timeout" (s), "mem_limit" ("256m"), "cpu_shares",
# "disk_limit", "allow_network" (false), "environment", "prebuild_spec". No auth (no
# CODE_RUNNER_API_KEYS/AUTH_TOKEN). A python hello world:
#
#   curl -sS http://127.0.0.1:8100/run -H 'Content-Type: application/json' \
#        -d '{"code": "print(1)", "image": "python"}'
#   # {"stdout":"1\n","stderr":"","exit_code":0,"execution_time":0.5734,"metadata":null}
#
# It reads a .env (python-dotenv) from its package directory or one above it, none by default.
# Only python's runtime image is built: another image (node, ..., or a prebuilt that does not
# exist) answers 500 "An unexpected error occurred: ... images/create ..." (docker-py's
# containers.run tries to pull a missing image, and no registry is reachable), not 404.
# GET /images and /runtimes name the runtimes original-code-runner-<name> (its "default" too).
set -euo pipefail

STATE_DIR=${ORIGINAL_STATE_DIR:-/var/tmp/code-runner-original}
VENV=${ORIGINAL_VENV:-$STATE_DIR/venv}
PORT=${ORIGINAL_PORT:-8100}
BASE_IMAGE=${ORIGINAL_BASE_IMAGE:-code-runner-base:trixie}
ORIGINAL_PYTHON=${ORIGINAL_PYTHON:-/usr/bin/python3}
[ -x "$ORIGINAL_PYTHON" ] || ORIGINAL_PYTHON=$(command -v python3)
IMAGE=original-code-runner-python
INPUTS_LABEL=org.code-runner.original.inputs
PID_FILE=$STATE_DIR/original.pid
PORT_FILE=$STATE_DIR/original.port
LOG_FILE=$STATE_DIR/original.log

# The venv: quartermaster-code-runner 0.9.1 and what it needs (docker>=7, fastapi, httpx,
# pydantic>=2, python-dotenv, uvicorn[standard]), resolved once and pinned.
REQUIREMENTS='quartermaster-code-runner==0.9.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
docker==7.2.0
fastapi==0.165.0
h11==0.16.0
httpcore==1.0.9
httptools==0.9.0
httpx==0.29.0
idna==3.20
opentelemetry-api==1.45.2
pydantic==2.14.4
pydantic_core==2.50.5
python-dotenv==1.2.4
PyYAML==6.0.4
requests==2.34.2
starlette==1.10.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
uvicorn==0.55.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4'

# The image's PyPI packages (its Dockerfile lists them unpinned; uv replaces its curl installer),
# resolved for Python 3.13 on manylinux x86_64 and pinned through PIP_CONSTRAINT.
IMAGE_CONSTRAINTS='uv==0.13.9
pandas==3.1.1
numpy==2.4.6
requests==2.34.2
httpx==0.29.0
beautifulsoup4==4.15.0
openpyxl==3.1.5
google-auth==2.63.0
google-auth-oauthlib==1.5.0
google-api-python-client==2.202.0
anyio==4.16.0
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
cryptography==50.0.2
et_xmlfile==2.0.0
google-api-core==2.44.0
google-auth-httplib2==0.4.4
googleapis-common-protos==1.76.0
h11==0.16.0
httpcore==1.0.9
httplib2==0.32.1
idna==3.20
oauthlib==4.0.1
opentelemetry-api==1.45.2
proto-plus==1.29.0
protobuf==7.36.2
pyasn1==0.6.5
pyasn1_modules==0.4.2
pycparser==3.12
pyparsing==3.3.3
python-dateutil==4.0.0
requests-oauthlib==2.0.0
soupsieve==2.10
typing_extensions==4.16.0
tzdata==2026.6
uritemplate==4.2.0
urllib3==2.8.0'

log() { printf 'original-service: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
BUILD_CTX=""
trap '[ -z "$BUILD_CTX" ] || rm -rf "$BUILD_CTX"' EXIT

running_pid() {  # prints the pid of the running original, if any
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # the pid is the session leader setsid made; its command line names the app
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'quartermaster_code_runner.app:app' || return 1
    echo "$pid"
}

healthy() {  # port: does the original answer GET /health with status ok?
    curl -fsS --max-time 2 "http://127.0.0.1:$1/health" 2>/dev/null | grep -q '"status":"ok"'
}

port_in_use() {
    "$ORIGINAL_PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no user
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

stop_original() {
    local pid i
    if pid=$(running_pid); then
        log "stopping the original (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            log "still running after 10 s: SIGKILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    else
        log "the original is not running"
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    # Containers of an interrupted run (their image is the original's, never ours) and its
    # metadata volumes (quartermaster_metadata_*, a name only the original uses).
    local c
    c=$(docker ps -aq --filter "ancestor=$IMAGE" 2>/dev/null || true)
    [ -z "$c" ] || { log "removing the original's leftover containers: $(echo $c)"; docker rm -f $c >/dev/null 2>&1 || true; }
    c=$(docker volume ls -q --filter name=quartermaster_metadata_ 2>/dev/null || true)
    [ -z "$c" ] || docker volume rm $c >/dev/null 2>&1 || true
}

# ---- 1. the virtualenv ------------------------------------------------------------------------
ensure_venv() {
    local stamp want
    want=$( { printf '%s\n' "$REQUIREMENTS"; "$ORIGINAL_PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
    stamp="$VENV/.original-requirements.sha256"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        log "venv $VENV is up to date"
        return
    fi
    if [ -e "$VENV" ]; then
        [ -f "$VENV/pyvenv.cfg" ] || die "$VENV exists and is not a virtualenv; not touching it"
        log "remaking the venv $VENV (pins or Python changed)"
        rm -rf "$VENV"
    fi
    mkdir -p "$(dirname "$VENV")"
    log "creating the venv $VENV with $("$ORIGINAL_PYTHON" --version 2>&1)"
    "$ORIGINAL_PYTHON" -m venv "$VENV" >&2
    printf '%s\n' "$REQUIREMENTS" >"$VENV/original-requirements.txt"
    "$VENV/bin/pip" install --no-input -r "$VENV/original-requirements.txt" >&2 \
        || die "pip install of quartermaster-code-runner==0.9.1 failed"
    "$VENV/bin/pip" check >&2 || die "pip check failed in $VENV"
    echo "$want" >"$stamp"
}

# ---- 2. the image prefixes ----------------------------------------------------------------------
patch_prefixes() {
    local pkg config left
    pkg=$("$VENV/bin/python" -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("quartermaster_code_runner").origin))')
    config="$pkg/config.py"
    # Only the unpatched lines match, so running it again changes nothing.
    sed -i -e 's/^RUNTIME_IMAGE_PREFIX = "code-runner-"$/RUNTIME_IMAGE_PREFIX = "original-code-runner-"/' \
           -e 's/^PREBUILT_IMAGE_PREFIX = "prebuilt-"$/PREBUILT_IMAGE_PREFIX = "original-prebuilt-"/' "$config"
    rm -f "$pkg"/__pycache__/config.*.pyc
    left=$(grep -rnE '(^|[^-])(code-runner-|prebuilt-)' --include='*.py' "$pkg" | grep -v "$pkg/runtime/" || true)
    [ -z "$left" ] || die "image names the original would use are left unrenamed: $left"
    "$VENV/bin/python" - <<'PY' || die "the prefix patch did not take"
from quartermaster_code_runner import config
from quartermaster_code_runner.schemas import CodeExecutionRequest
assert config.RUNTIME_IMAGE_PREFIX == "original-code-runner-", config.RUNTIME_IMAGE_PREFIX
assert config.PREBUILT_IMAGE_PREFIX == "original-prebuilt-", config.PREBUILT_IMAGE_PREFIX
assert config.get_image_name("python") == "original-code-runner-python"
# ours by name is no runtime of the original's: it becomes a (missing) prebuilt of its own
image = CodeExecutionRequest(code="", image="code-runner-python").image
assert config.get_image_name(image).startswith("original-"), image
PY
    log "image prefixes: original-code-runner-, original-prebuilt- ($config)"
    PKG_DIR=$pkg
}

# ---- 3. the python runtime image --------------------------------------------------------------
host_pip_ca() {  # the CA bundle the host's pip is configured with, if any
    local ca=${PIP_CERT:-}
    [ -n "$ca" ] || ca=$("$VENV/bin/pip" config get global.cert 2>/dev/null || true)
    [ -n "$ca" ] && [ -f "$ca" ] && echo "$ca" || true
}

ensure_image() {
    local ctx want have ca cert_env base_id old_id
    docker info >/dev/null 2>&1 || die "docker engine not reachable"
    base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null) \
        || die "base image $BASE_IMAGE not found (make images builds it)"
    case "$IMAGE" in original-*) ;; *) die "refusing to build $IMAGE: not an original-* name" ;; esac

    ctx=$(mktemp -d /tmp/original-python-image.XXXXXX)
    BUILD_CTX=$ctx  # removed at exit
    # the package's own runtime/python, checked against the wheel's RECORD
    "$VENV/bin/python" - "$PKG_DIR" "$ctx" <<'PY' || die "runtime/python in the venv does not match the wheel"
import base64, hashlib, importlib.metadata as md, os, shutil, sys
pkg, ctx = sys.argv[1:3]
dist = md.distribution("quartermaster-code-runner")
# (pip adds the __pycache__ it compiles to RECORD without a hash: not the wheel's, not copied)
files = {str(f): f.hash for f in dist.files
         if str(f).startswith("quartermaster_code_runner/runtime/python/") and "__pycache__" not in str(f)}
assert all(h is not None for h in files.values()), "RECORD lists runtime/python files without a hash"
assert files, "no runtime/python in the installed wheel"
for rel, h in sorted(files.items()):
    src = dist.locate_file(rel)
    data = open(src, "rb").read()
    digest = base64.urlsafe_b64encode(hashlib.new(h.mode, data).digest()).rstrip(b"=").decode()
    assert digest == h.value, f"{rel} differs from the wheel"
    dst = os.path.join(ctx, os.path.relpath(rel, "quartermaster_code_runner/runtime/python"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy2(src, dst)
PY
    mkdir "$ctx/original-build"
    printf '%s\n' "$IMAGE_CONSTRAINTS" >"$ctx/original-build/constraints.txt"
    cert_env=""
    if ca=$(host_pip_ca) && [ -n "$ca" ]; then
        cp "$ca" "$ctx/original-build/pip-ca.crt"
        cert_env="PIP_CERT=/tmp/original-build/pip-ca.crt "
        log "the image's pip steps use the host pip's CA bundle $ca"
    fi
    # The Dockerfile: exact-text replacements, each of which must apply once.
    BASE_IMAGE=$BASE_IMAGE CERT_ENV=$cert_env "$VENV/bin/python" - "$ctx/Dockerfile" <<'PY' || die "its Dockerfile is not the expected 0.9.1 one"
import os, sys
path = sys.argv[1]
text = open(path).read()
pip_env = "PIP_CONSTRAINT=/tmp/original-build/constraints.txt " + os.environ["CERT_ENV"]
def once(old, new):
    global text
    assert text.count(old) == 1, f"expected once: {old!r}"
    text = text.replace(old, new)
once("FROM python:3.12-slim\n",
     f"FROM {os.environ['BASE_IMAGE']}\n"
     "# original-service.sh: what python:3.12-slim brings, from Debian (trixie: Python 3.13)\n"
     "RUN apt-get update && \\\n"
     "    apt-get install -y --no-install-recommends python3 python-is-python3 python3-pip ca-certificates && \\\n"
     "    rm -rf /var/lib/apt/lists/*\n"
     "ENV LANG=C.UTF-8 PIP_BREAK_SYSTEM_PACKAGES=1\n")
once("# Install uv package manager for uvx support\n"
     "RUN curl -LsSf https://astral.sh/uv/install.sh | sh && \\\n"
     "    cp /root/.local/bin/uv /usr/local/bin/uv && \\\n"
     "    cp /root/.local/bin/uvx /usr/local/bin/uvx && \\\n"
     "    chmod 755 /usr/local/bin/uv /usr/local/bin/uvx\n",
     "# Install uv package manager for uvx support\n"
     "# original-service.sh: from PyPI (astral.sh is not reachable); pins and CA for the pip steps\n"
     "COPY original-build/ /tmp/original-build/\n"
     f"RUN {pip_env}pip install --no-cache-dir uv && \\\n"
     "    chmod 755 /usr/local/bin/uv /usr/local/bin/uvx\n")
once("RUN pip install --no-cache-dir \\\n", f"RUN {pip_env}pip install --no-cache-dir \\\n")
once("    google-api-python-client\n", "    google-api-python-client && \\\n    rm -rf /tmp/original-build\n")
open(path, "w").write(text)
PY
    want=$( { cd "$ctx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "$base_id"; } | sha256sum | cut -d' ' -f1)
    have=$(docker image inspect -f "{{ index .Config.Labels \"$INPUTS_LABEL\" }}" "$IMAGE" 2>/dev/null || true)
    if [ "$have" = "$want" ]; then
        log "$IMAGE is up to date (inputs ${want:0:12})"
        return
    fi
    old_id=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    log "building $IMAGE from its runtime/python on $BASE_IMAGE (inputs ${want:0:12}; log $STATE_DIR/image-build.log)"
    DOCKER_BUILDKIT=0 docker build --force-rm --label "$INPUTS_LABEL=$want" -t "$IMAGE" "$ctx" \
        >"$STATE_DIR/image-build.log" 2>&1 || { tail -n 30 "$STATE_DIR/image-build.log" >&2; die "building $IMAGE failed"; }
    # its previous build, by ID, if nothing names it any more (it carries the label: it is ours)
    if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ] \
        && [ -z "$(docker image inspect -f '{{join .RepoTags " "}}' "$old_id" 2>/dev/null)" ] \
        && [ -n "$(docker image inspect -f "{{ index .Config.Labels \"$INPUTS_LABEL\" }}" "$old_id" 2>/dev/null)" ]; then
        docker image rm "$old_id" >/dev/null 2>&1 || true
    fi
    log "$IMAGE built: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
}

# ---- 4. the service ---------------------------------------------------------------------------
start_original() {
    local pid i env_keep=()
    if pid=$(running_pid); then
        if [ "$(cat "$PORT_FILE" 2>/dev/null)" = "$PORT" ] && healthy "$PORT"; then
            log "already running (pid $pid) on port $PORT"
            echo "ORIGINAL_URL=http://127.0.0.1:$PORT"
            return
        fi
        log "running (pid $pid) but not healthy on port $PORT: restarting it"
        stop_original
    fi
    rm -f "$PID_FILE" "$PORT_FILE"
    ! port_in_use "$PORT" || die "port $PORT is in use by another process (ORIGINAL_PORT sets it)"
    for v in DOCKER_HOST DOCKER_CERT_PATH DOCKER_TLS_VERIFY; do
        [ -z "${!v:-}" ] || env_keep+=("$v=${!v}")
    done
    log "starting uvicorn quartermaster_code_runner.app:app on 127.0.0.1:$PORT (log $LOG_FILE)"
    # The session leader writes its own pid (setsid forks when its caller leads a process group).
    (cd "$STATE_DIR" && exec setsid env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$STATE_DIR" LANG=C.UTF-8 "${env_keep[@]}" RUNTIME_DIR="$PKG_DIR/runtime" \
        /bin/sh -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
        "$VENV/bin/uvicorn" quartermaster_code_runner.app:app --host 127.0.0.1 --port "$PORT" \
        </dev/null >>"$LOG_FILE" 2>&1) &
    echo "$PORT" >"$PORT_FILE"
    for i in $(seq 1 25); do [ -s "$PID_FILE" ] && break; sleep 0.2; done
    pid=$(cat "$PID_FILE" 2>/dev/null) || die "the original did not start (no pid file)"
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$LOG_FILE" >&2; rm -f "$PID_FILE" "$PORT_FILE"; die "the original exited at start"; }
        if healthy "$PORT"; then
            log "up (pid $pid) after $(awk "BEGIN {print $i * 0.2}") s"
            echo "ORIGINAL_URL=http://127.0.0.1:$PORT"
            return
        fi
        sleep 0.2
    done
    tail -n 20 "$LOG_FILE" >&2
    stop_original
    die "the original did not answer GET /health with status ok within 30 s"
}

case "${1:-}" in
    start)
        mkdir -p "$STATE_DIR"
        command -v curl >/dev/null || die "curl not found"
        ensure_venv
        patch_prefixes
        ensure_image
        start_original
        ;;
    stop)
        stop_original
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
