#!/bin/sh
# code-runner-entrypoint: the worker <-> image protocol of runtimes/PROTOCOL.md (version CR1).
#
# stdin:  "CR1 <nonce> <archive_bytes> <stdin_bytes> <metadata_cap> <entrypoint>\n",
#         then <archive_bytes> of tar, then <stdin_bytes> of program input.
# stdout: the program's output, then "@@code-runner:<nonce>@@ <status> <metadata_length> <oom_kills>\n"
#         and the metadata bytes. Exit status: the program's.
#
# Runs as uid 1000 under docker-init with a read-only root and a tmpfs on /tmp. Every tool is
# called by absolute path: the user's environment may set PATH (or anything else) freely.
# The header is read with the shell's `read`, which consumes a pipe one byte at a time; the
# payloads are read with `head -c`, which never reads past the count it is given. So nothing
# beyond the declared lengths is consumed and nothing depends on stdin being closed.

WORK=/tmp/work
STATE=/tmp/.code-runner
HOME_DIR=/tmp/home
META_FILE="$STATE/.quartermaster_metadata.json"
PREPARE=/opt/code-runner/prepare

fail_header() {
    printf 'code-runner-entrypoint: malformed protocol header: %s\n' "$1" >&2
    exit 125
}

# count NAME VALUE: VALUE must be a decimal of at most 15 digits; stores it without leading zeros
count() {
    _v=$2
    case "$_v" in '' | *[!0-9]*) fail_header "bad $1 '$_v'" ;; esac
    [ "${#_v}" -le 15 ] || fail_header "$1 too large"
    while :; do case "$_v" in 0?*) _v=${_v#0} ;; *) break ;; esac; done
    eval "$1=\$_v"
}

# trailer STATUS: emit the final frame (with the metadata file when there is one) and exit
# oom_kills: how often the kernel's OOM killer struck in this container's cgroup (v1 or v2),
# -1 when unknown. Lets the worker answer from the trailer without inspecting the container.
oom_kills() {
    for _f in /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events; do
        [ -r "$_f" ] || continue
        while read -r _k _v; do
            [ "$_k" = oom_kill ] && { printf '%s' "$_v"; return; }
        done <"$_f"
    done
    printf '%s' -1
}

trailer() {
    _len=-1
    if [ -f "$META_FILE" ] && [ ! -L "$META_FILE" ]; then
        # copy at most cap+1 bytes first: the length sent is the length of what is sent,
        # even if a leftover background process is still changing the file
        /usr/bin/head -c "$((METADATA_CAP + 1))" "$META_FILE" >"$STATE/metadata.out" 2>/dev/null
        _len=$(/usr/bin/wc -c 2>/dev/null <"$STATE/metadata.out") || _len=-1
        [ "$_len" -gt "$METADATA_CAP" ] 2>/dev/null && _len=-2
    fi
    # stderr gets its own end marker: the two streams are not ordered against each other, so
    # the worker knows both are complete only when it has seen both markers.
    printf '@@code-runner:%s@@ end\n' "$NONCE" >&2
    printf '@@code-runner:%s@@ %s %s %s\n' "$NONCE" "$1" "$_len" "$(oom_kills)"
    [ "$_len" -gt 0 ] 2>/dev/null && /bin/cat "$STATE/metadata.out"
    exit "$1"
}

# ---- 1. header ---------------------------------------------------------------------------------
IFS= read -r HEADER || fail_header "no complete header line on stdin"
set -f
IFS=' '
# shellcheck disable=SC2086
set -- $HEADER
set +f
[ "$#" -eq 6 ] || fail_header "expected 6 fields, got $#"
[ "$1" = CR1 ] || fail_header "unknown protocol version '$1'"
NONCE=$2
case "$NONCE" in *[!0-9a-f]*) fail_header "bad nonce" ;; esac
[ "${#NONCE}" -eq 32 ] || fail_header "bad nonce"
count ARCHIVE_BYTES "$3"
count STDIN_BYTES "$4"
count METADATA_CAP "$5"
ENTRY=$6
case "$ENTRY" in
    -) ;;
    *[!A-Za-z0-9+/=]*) fail_header "entrypoint is not base64" ;;
esac
unset HEADER _v

# ---- 2. directories, seeds ---------------------------------------------------------------------
umask 022
/bin/mkdir -p "$WORK" "$HOME_DIR" "$STATE" || { echo "code-runner-entrypoint: cannot create $WORK" >&2; exit 125; }
[ -e "$META_FILE" ] && /bin/rm -f "$META_FILE"
# RT_SEED_DIRS="src:dst ...": copy each src tree onto dst; "src:dst:link" (src absolute) instead
# makes dst a tree of real directories with symlinks to src's files (cheap, no tmpfs memory; for
# read-mostly data such as Go's build cache, whose new entries land beside the links)
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

# ---- 3. archive --------------------------------------------------------------------------------
if [ "$ARCHIVE_BYTES" -gt 0 ]; then
    /usr/bin/head -c "$ARCHIVE_BYTES" >"$STATE/archive.tar"
    _got=$(/usr/bin/wc -c <"$STATE/archive.tar")
    if [ "$_got" -ne "$ARCHIVE_BYTES" ]; then
        echo "code-runner-entrypoint: stdin ended after $_got of $ARCHIVE_BYTES archive bytes" >&2
        trailer 2
    fi
    if ! /bin/tar -x -f "$STATE/archive.tar" -C "$WORK" --no-same-owner --no-same-permissions; then
        echo "code-runner-entrypoint: could not extract the files" >&2
        trailer 2
    fi
    /bin/rm -f "$STATE/archive.tar"
fi

# ---- 4. program stdin --------------------------------------------------------------------------
if [ "$STDIN_BYTES" -gt 0 ]; then
    /usr/bin/head -c "$STDIN_BYTES" >"$STATE/stdin"
    _got=$(/usr/bin/wc -c <"$STATE/stdin")
    if [ "$_got" -ne "$STDIN_BYTES" ]; then
        echo "code-runner-entrypoint: stdin ended after $_got of $STDIN_BYTES input bytes" >&2
        trailer 2
    fi
else
    : >"$STATE/stdin"
fi

# ---- 5. prepare hook ---------------------------------------------------------------------------
cd "$WORK" || trailer 2
if [ -x "$PREPARE" ]; then
    "$PREPARE" </dev/null >&2 || { echo "code-runner-entrypoint: runtime preparation failed" >&2; trailer 2; }
fi

# ---- 6. the program ----------------------------------------------------------------------------
if [ "$ENTRY" = - ]; then
    CMD=${RT_DEFAULT_CMD:-}
else
    CMD=$(printf '%s' "$ENTRY" | /usr/bin/base64 -d 2>/dev/null) || {
        echo "code-runner-entrypoint: the entrypoint is not valid base64" >&2
        trailer 2
    }
fi
[ -n "$CMD" ] || { echo "code-runner-entrypoint: no command to run" >&2; trailer 2; }
unset ENTRY _seed _src _dst _mode _got
IFS=' 	
'
/bin/sh -c "$CMD" <"$STATE/stdin"
STATUS=$?

# ---- 7./8. trailer, exit status ----------------------------------------------------------------
trailer "$STATUS"
