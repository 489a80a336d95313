#!/usr/bin/env bash
# Builds the base image of every runtime image, code-runner-base:trixie, unless it exists.
#
#   BASE_IMAGE=debian:trixie-slim runtimes/base/build-base.sh   # a registry is reachable: use it
#   runtimes/base/build-base.sh                                 # no registry: build from the mirror
#
# Without BASE_IMAGE the root file system is made with mmdebstrap (minbase, merged /usr, no
# docs/man/locales, no recommends, no apt lists/caches, fixed SOURCE_DATE_EPOCH, so two runs
# give the same tarball for the same mirror state) and imported with `docker import`; when
# mmdebstrap fails, debootstrap plus the same slimming is used instead.
#
# Environment: BASE_TAG (code-runner-base:trixie), SUITE (trixie), DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR (default: taken from the host's apt sources, else deb.debian.org),
# SOURCE_DATE_EPOCH (fixed default), FORCE=1 rebuilds, WORK_DIR (scratch, default a temp dir),
# BASE_BUILDER=debootstrap skips mmdebstrap.
# Must run as root (mmdebstrap/debootstrap in root mode, docker socket).
set -euo pipefail

BASE_TAG="${BASE_TAG:-code-runner-base:trixie}"
SUITE="${SUITE:-trixie}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1735689600}"   # 2025-01-01T00:00:00Z
IMAGE_PATH='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

log() { printf 'build-base: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found (run scripts/setup-host.sh)"
docker info >/dev/null 2>&1 || die "docker engine not reachable (run scripts/setup-host.sh)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    log "$BASE_TAG exists ($(docker image inspect -f '{{.Id}}' "$BASE_TAG" | cut -c1-19)), nothing to do"
    exit 0
fi

# ---- a registry is available: use the given image as the base -------------------------------
if [ -n "${BASE_IMAGE:-}" ]; then
    if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "pulling $BASE_IMAGE"
        docker pull "$BASE_IMAGE" >&2 || die "cannot pull $BASE_IMAGE"
    fi
    docker tag "$BASE_IMAGE" "$BASE_TAG"
    log "tagged $BASE_IMAGE as $BASE_TAG"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap/debootstrap)"

# ---- mirrors from the host's apt sources ------------------------------------------------------
# First URI of the host's sources whose path ends in /debian (resp. /debian-security).
host_uris() {
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] && sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' "$f" | tr ' ' '\n'
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] && awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
        done
    } 2>/dev/null | sed 's:/*$::' | grep -E '^(https?|file)://' || true
}
pick_uri() { host_uris | grep -E "/$1\$" | head -n1; }
MIRROR="${DEBIAN_MIRROR:-$(pick_uri debian)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
SEC_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(pick_uri debian-security)}"
SEC_MIRROR="${SEC_MIRROR:-http://deb.debian.org/debian-security}"

fetch_ok() {   # fetch_ok URL: does the URL answer 200?
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --max-time 20 -o /dev/null "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -T 20 -O /dev/null "$1"
    else
        /usr/bin/python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=20).read()' "$1"
    fi
}
if ! fetch_ok "$MIRROR/dists/$SUITE/InRelease"; then
    log "$SUITE not found on $MIRROR, trying http://deb.debian.org/debian"
    MIRROR=http://deb.debian.org/debian
    fetch_ok "$MIRROR/dists/$SUITE/InRelease" || die "suite $SUITE is not reachable on any mirror"
fi
fetch_ok "$SEC_MIRROR/dists/$SUITE-security/InRelease" || {
    log "$SUITE-security not found on $SEC_MIRROR, using http://deb.debian.org/debian-security"
    SEC_MIRROR=http://deb.debian.org/debian-security
}
log "suite $SUITE, mirror $MIRROR, security $SEC_MIRROR, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SEC_MIRROR $SUITE-security main")

WORK="${WORK_DIR:-$(mktemp -d /var/tmp/code-runner-base.XXXXXX)}"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
TARBALL="$WORK/rootfs.tar"

# Paths dpkg never unpacks (persist in the image: later apt installs stay slim too).
DPKG_SLIM=(
    'path-exclude=/usr/share/doc/*'
    'path-include=/usr/share/doc/*/copyright'
    'path-exclude=/usr/share/man/*'
    'path-exclude=/usr/share/info/*'
    'path-exclude=/usr/share/groff/*'
    'path-exclude=/usr/share/lintian/*'
    'path-exclude=/usr/share/linda/*'
    'path-exclude=/usr/share/locale/*'
    'path-include=/usr/share/locale/locale.alias'
)
CLEANUP='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/bootstrap.log "$1"/var/log/alternatives.log "$1"/var/cache/ldconfig/aux-cache "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old; mkdir -p "$1"/var/lib/apt/lists/partial'

build_mmdebstrap() {
    command -v mmdebstrap >/dev/null 2>&1 || { log "mmdebstrap not installed"; return 1; }
    local args=(--variant=minbase --mode=root --format=tar
        --aptopt='APT::Install-Recommends "false"' --aptopt='Acquire::Languages "none"')
    local o
    for o in "${DPKG_SLIM[@]}"; do args+=("--dpkgopt=$o"); done
    if [ -d /usr/share/mmdebstrap/hooks/merged-usr ]; then
        args+=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
    fi
    args+=(--customize-hook="$CLEANUP")
    log "mmdebstrap $SUITE (about a minute)"
    mmdebstrap "${args[@]}" "$SUITE" "$TARBALL" "${SOURCES[@]}" >"$WORK/mmdebstrap.log" 2>&1 || {
        tail -n 20 "$WORK/mmdebstrap.log" >&2
        return 1
    }
    echo "mmdebstrap $SUITE $MIRROR"
}

build_debootstrap() {
    command -v debootstrap >/dev/null 2>&1 || { log "debootstrap not installed"; return 1; }
    local root="$WORK/rootfs"
    rm -rf "$root"
    log "debootstrap $SUITE (about 30 s)"
    debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
        tail -n 20 "$WORK/debootstrap.log" >&2
        return 1
    }
    # slim like the official *-slim images
    printf '%s\n' "${SOURCES[@]}" >"$root/etc/apt/sources.list"
    { for o in "${DPKG_SLIM[@]}"; do echo "$o"; done; } >"$root/etc/dpkg/dpkg.cfg.d/90-slim"
    printf 'APT::Install-Recommends "false";\nAcquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/90-slim"
    find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* "$root"/usr/share/lintian/*
    find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
    sh -c "$CLEANUP" sh "$root"
    rm -rf "$root"/var/cache/apt/archives "$root"/debootstrap
    find "$root" -xdev -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} + 2>/dev/null || true
    tar --numeric-owner --xattrs --sort=name -C "$root" -cf "$TARBALL" .
    rm -rf "$root"
    echo "debootstrap $SUITE $MIRROR"
}

start=$(date +%s)
if [ "${BASE_BUILDER:-mmdebstrap}" != debootstrap ] && SOURCE_DESC=$(build_mmdebstrap); then
    :
else
    [ "${BASE_BUILDER:-mmdebstrap}" = debootstrap ] || log "mmdebstrap failed, falling back to debootstrap"
    SOURCE_DESC=$(build_debootstrap) || die "both mmdebstrap and debootstrap failed"
fi
TAR_SHA=$(sha256sum "$TARBALL" | cut -d' ' -f1)
log "root fs: $(du -h "$TARBALL" | cut -f1), sha256 $TAR_SHA"

import() {
    docker import "$@" "$TARBALL" "$BASE_TAG" >/dev/null
}
if ! import --change "ENV $IMAGE_PATH" --change 'CMD ["bash"]' \
        --change "LABEL code-runner.base-source=\"$SOURCE_DESC\" code-runner.base-rootfs-sha256=\"$TAR_SHA\""; then
    log "docker import with LABEL failed, importing without labels"
    import --change "ENV $IMAGE_PATH" --change 'CMD ["bash"]' || die "docker import failed"
fi
log "built $BASE_TAG ($SOURCE_DESC) in $(( $(date +%s) - start )) s: $(docker image inspect -f '{{.Id}}' "$BASE_TAG" | cut -c1-19), $(( $(docker image inspect -f '{{.Size}}' "$BASE_TAG") / 1000000 )) MB"
