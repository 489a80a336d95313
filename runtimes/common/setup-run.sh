#!/bin/sh
# code-runner setup-run: prepares the work dir of one run (runtimes/PROTOCOL.md, version CR1).
#
#   setup-run <archive_bytes> <stdin_bytes>
#   setup-run --seed
#
# `--seed` (a warm container, before its run is known: supervise.c's --prestart) does only the
# part that needs no input: the directories and the seed copies; it leaves the marker
# $STATE/.seeded, and the run's own set-up then skips the seeds.
#
# Protocol CR2 (judge mode) calls it as `setup-run <archive_bytes> 0`, with the archive on a
# memfd as stdin (the supervisor has read the whole input first); everything below holds.
#
# Started by the supervisor (/usr/local/bin/code-runner-supervise, source supervise.c), which has
# already read and checked the header line, with its stdin: reads <archive_bytes> of tar and
# <stdin_bytes> of program input from it, extracts the files into /tmp/work, stores the input in
# /tmp/.code-runner/stdin and runs the runtime's prepare hook. Exit status 0 when the program
# may run; otherwise a message on stderr and status 2 (the supervisor then reports status 2).
# This script never learns the run's nonce: it runs in the user's environment (TAR_OPTIONS,
# LD_PRELOAD, ... may run the user's code here), so it must hold nothing worth stealing.
#
# Runs as uid 1000 under docker-init with a read-only root and a tmpfs on /tmp. Every tool is
# called by absolute path: the user's environment may set PATH (or anything else) freely.
# The payloads are read with `head -c`, which never reads past the count it is given, so
# nothing beyond the declared lengths is consumed and nothing depends on stdin being closed.

WORK=/tmp/work
STATE=/tmp/.code-runner
HOME_DIR=/tmp/home
META_FILE="$STATE/.quartermaster_metadata.json"
PREPARE=/opt/code-runner/prepare

fail() {
    printf 'code-runner-entrypoint: %s\n' "$1" >&2
    exit 2
}

# count NAME VALUE: VALUE must be a decimal of at most 15 digits (the supervisor checked);
# stores it without leading zeros
count() {
    _v=$2
    case "$_v" in '' | *[!0-9]*) fail "bad $1 '$_v'" ;; esac
    [ "${#_v}" -le 15 ] || fail "$1 too large"
    while :; do case "$_v" in 0?*) _v=${_v#0} ;; *) break ;; esac; done
    eval "$1=\$_v"
}

SEED_ONLY=0
if [ "$#" -eq 1 ] && [ "$1" = --seed ]; then
    SEED_ONLY=1
else
    [ "$#" -eq 2 ] || fail "setup-run: expected 2 arguments, got $#"
    count ARCHIVE_BYTES "$1"
    count STDIN_BYTES "$2"
    unset _v
fi

# ---- directories, seeds -- ---------------------------------------------------------------------
umask 022
/bin/mkdir -p "$WORK" "$HOME_DIR" "$STATE" || fail "cannot create $WORK"
[ -e "$META_FILE" ] && /bin/rm -f "$META_FILE"
# RT_SEED_DIRS="src:dst ...": copy each src tree onto dst; "src:dst:link" (src absolute) instead
# makes dst a tree of real directories with symlinks to src's files (cheap, no tmpfs memory; for
# read-mostly data such as Go's build cache, whose new entries land beside the links)
[ -e "$STATE/.seeded" ] && RT_SEED_DIRS=
for _seed in ${RT_SEED_DIRS:-}; do
    _src=${_seed%%:*} _dst=${_seed#*:} _mode=copy
    case "$_dst" in *:link) _dst=${_dst%:link} _mode=link ;; esac
    [ -d "$_src" ] || continue
    if [ "$_mode" = link ]; then
        /bin/mkdir -p "$_dst" && /bin/cp -R -s "$_src/." "$_dst/"
    else
        /bin/mkdir -p "$_dst" && /bin/cp -R "$_src/." "$_dst/"
    fi || echo "code-runner-entrypoint: could not copy seed $_src to $_dst" >&2
done
if [ "$SEED_ONLY" = 1 ]; then
    : >"$STATE/.seeded"
    exit 0
fi

# ---- archive -----------------------------------------------------------------------------------
if [ "$ARCHIVE_BYTES" -gt 0 ]; then
    /usr/bin/head -c "$ARCHIVE_BYTES" >"$STATE/archive.tar"
    _got=$(/usr/bin/wc -c <"$STATE/archive.tar")
    if [ "$_got" -ne "$ARCHIVE_BYTES" ]; then
        fail "stdin ended after $_got of $ARCHIVE_BYTES archive bytes"
    fi
    if ! /bin/tar -x -f "$STATE/archive.tar" -C "$WORK" --no-same-owner --no-same-permissions; then
        fail "could not extract the files"
    fi
    /bin/rm -f "$STATE/archive.tar"
fi

# ---- program stdin -----------------------------------------------------------------------------
if [ "$STDIN_BYTES" -gt 0 ]; then
    /usr/bin/head -c "$STDIN_BYTES" >"$STATE/stdin"
    _got=$(/usr/bin/wc -c <"$STATE/stdin")
    if [ "$_got" -ne "$STDIN_BYTES" ]; then
        fail "stdin ended after $_got of $STDIN_BYTES input bytes"
    fi
else
    : >"$STATE/stdin"
fi

# ---- prepare hook ------------------------------------------------------------------------------
cd "$WORK" || fail "cannot enter $WORK"
if [ -x "$PREPARE" ]; then
    "$PREPARE" </dev/null >&2 || fail "runtime preparation failed"
fi
exit 0

