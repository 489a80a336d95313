#!/usr/bin/env bash
# Prepares a Debian host for Code Runner (run as root; idempotent; fast when nothing is to do):
#   1. installs the missing ones of: docker.io libsqlite3-dev mmdebstrap unzip ca-certificates gcc libc6-dev runsc
#      squid-openssl openssl postgresql (`apt-get update` only when something is missing); squid is the
#      allowlist proxy the workers start themselves (AllowlistProxy), so its packaged service is
#      kept from starting (policy-rc.d during the install) and stopped if it runs; and creates
#      the proxy's system user, code-runner-proxy; postgresql (Debian 12: PostgreSQL 15, server
#      and client) is for the tests' throw-away server (scripts/postgres-server.sh, its own data
#      directory and port 55432), so the package's own clusters (`main` on 5432) are kept from
#      starting the same way, stopped if they run, and set to `manual` in their start.conf so that
#      a boot does not start them either;
#   2. starts dockerd in the background (log: $DOCKERD_LOG, default /var/log/dockerd.log) when
#      the engine does not answer and no dockerd is running - never a second one;
#   3. waits (bounded, DOCKER_WAIT seconds, default 60) until `docker info` answers;
#   4. registers Debian's gVisor (`runsc`) with the engine as runtime "runsc", with
#      `--network=none` (without it runsc refuses to start here: "cannot run with network enabled
#      in root network namespace"), for SANDBOX_RUNTIME=runsc; a running dockerd reloads it on SIGHUP.
# Works without systemd. Prints what it did.
set -euo pipefail

PACKAGES=(docker.io libsqlite3-dev mmdebstrap unzip ca-certificates gcc libc6-dev runsc squid-openssl openssl postgresql)
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKER_WAIT="${DOCKER_WAIT:-60}"

say() { printf 'setup-host: %s\n' "$*"; }
die() { printf 'setup-host: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"

# ---- 1. packages -------------------------------------------------------------------------------
missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
for p in "${PACKAGES[@]}"; do
    if ! grep -qE "^$p ii" <<<"$installed"; then missing+=("$p"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || die "apt-get update failed"
    # no package's service may start on its own here (squid's would listen on 3128 everywhere,
    # postgresql's cluster `main` on 5432)
    policy_rc=/usr/sbin/policy-rc.d
    [ -e "$policy_rc" ] && policy_rc=""
    [ -n "$policy_rc" ] && printf '#!/bin/sh\nexit 101\n' > "$policy_rc" && chmod 755 "$policy_rc"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || { [ -n "$policy_rc" ] && rm -f "$policy_rc"; die "apt-get install ${missing[*]} failed"; }
    [ -n "$policy_rc" ] && rm -f "$policy_rc"
    say "installed: ${missing[*]}"
else
    say "packages present: ${PACKAGES[*]}"
fi

# the allowlist proxy's own user (AllowlistProxy: the kernel refuses its IPv6, nothing else's)
if ! id code-runner-proxy >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin code-runner-proxy \
        || die "could not create the user code-runner-proxy"
    say "created the system user code-runner-proxy (the allowlist proxy runs as it)"
fi

# the packaged squid service, if something started it, is not ours: ours run with -n cr<deployment>
if [ -f /run/squid.pid ] && kill -0 "$(cat /run/squid.pid)" 2>/dev/null; then
    squid -k shutdown >/dev/null 2>&1 || true
    say "stopped the packaged squid service (the workers start their own allowlist proxy)"
fi

# the packaged PostgreSQL clusters (`main`, made by the install) are not ours either: the tests
# start their own server (scripts/postgres-server.sh). Stop one that runs; keep boots from
# starting them (start.conf `auto` -> `manual`; pg_ctlcluster still starts one by hand).
if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r version cluster _ status _; do
        [ -n "$cluster" ] || continue
        start_conf="/etc/postgresql/$version/$cluster/start.conf"
        if [ -f "$start_conf" ] && grep -qx 'auto' "$start_conf"; then
            sed -i 's/^auto$/manual/' "$start_conf"
            say "set the packaged PostgreSQL cluster $version/$cluster to start manually ($start_conf)"
        fi
        if [[ "$status" == online* ]]; then  # also "online,recovery"
            pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
            say "stopped the packaged PostgreSQL cluster $version/$cluster (the tests start their own server)"
        fi
    done < <(pg_lsclusters --no-header 2>/dev/null || true)
fi

# ---- 4 (prepared before the engine starts). gVisor in daemon.json ------------------------------
DAEMON_JSON="${DAEMON_JSON:-/etc/docker/daemon.json}"
register_runsc() {
    command -v python3 >/dev/null 2>&1 || { say "no python3: runsc not registered"; return 1; }
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" <<'PY'
import json, os, sys
path = sys.argv[1]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
wanted = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"]}
if config.get("runtimes", {}).get("runsc") == wanted:
    sys.exit(3)  # already there
config.setdefault("runtimes", {})["runsc"] = wanted
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
os.replace(path + ".tmp", path)
PY
}
runsc_changed=false
if register_runsc; then runsc_changed=true; say "registered runsc (--network=none) in $DAEMON_JSON"; fi

# ---- 2. docker engine --------------------------------------------------------------------------
docker_ok() { docker info >/dev/null 2>&1; }
runsc_registered() { docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

if docker_ok; then
    if $runsc_changed || ! runsc_registered; then
        # dockerd reloads `runtimes` from daemon.json on SIGHUP (no restart, no container stops)
        pkill -HUP -x dockerd || true
        for _ in $(seq 1 50); do runsc_registered && break; sleep 0.1; done
        runsc_registered && say "the engine has runsc" || say "warning: the engine did not pick up runsc"
    fi
    say "docker engine is running ($(docker version -f '{{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null))"
    exit 0
fi

if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is running (pid $(pgrep -x dockerd | tr '\n' ' ')) but not answering yet; waiting"
else
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found although docker.io is installed"
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        say "starting docker with systemctl"
        systemctl start docker || die "systemctl start docker failed (see journalctl -u docker)"
    else
        say "starting dockerd in the background (log: $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        # setsid + nohup: the daemon outlives this script and its terminal
        setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
        started_pid=$!
        say "dockerd started, pid $started_pid"
    fi
fi

# ---- 3. wait until the engine answers (bounded poll) ---------------------------------------------
deadline=$(( $(date +%s) + DOCKER_WAIT ))
until docker_ok; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        [ -f "$DOCKERD_LOG" ] && tail -n 20 "$DOCKERD_LOG" >&2
        die "docker engine did not answer within ${DOCKER_WAIT} s"
    fi
    # The pid we started (setsid and nohup exec into dockerd, so it keeps the pid); pgrep -x
    # would miss it in the moment before nohup has exec'd, and call a starting daemon dead.
    if [ -n "${started_pid:-}" ]; then alive() { kill -0 "$started_pid" 2>/dev/null; }
    else alive() { pgrep -x dockerd >/dev/null 2>&1; }; fi
    if ! alive; then
        [ -f "$DOCKERD_LOG" ] && tail -n 20 "$DOCKERD_LOG" >&2
        die "dockerd exited (log: $DOCKERD_LOG)"
    fi
    sleep 0.2   # poll interval
done
say "docker engine is running ($(docker version -f '{{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null))"
