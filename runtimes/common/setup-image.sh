#!/bin/sh
# Runs (as root) inside every runtime image's `docker build`, after the runtime is installed:
# the unprivileged user, the baked links into the tmpfs, and the shared entrypoint (supervisor).
set -eu
here=$(dirname "$0")

# user and group 1000 "runner", HOME on the tmpfs (not created here: /tmp is a tmpfs at run time)
if ! getent group 1000 >/dev/null; then
    if command -v groupadd >/dev/null; then groupadd -g 1000 runner; else echo 'runner:x:1000:' >>/etc/group; fi
fi
if ! getent passwd 1000 >/dev/null; then
    if command -v useradd >/dev/null; then
        useradd -u 1000 -g 1000 -M -d /tmp/home -s /bin/sh runner
    else
        echo 'runner:x:1000:1000::/tmp/home:/bin/sh' >>/etc/passwd
    fi
fi

# the seed's writable paths, now links into the one tmpfs (and its size budget)
ln -sfn /tmp/work /workspace
ln -sfn /tmp/.code-runner /metadata

# The entrypoint is the static supervisor (supervise.c, compiled by scripts/build-images.sh into
# the build context): root-owned, not writable by the runner. It reads the protocol header and
# runs setup-run (the work dir) and then the program; see runtimes/PROTOCOL.md.
[ -x "$here/code-runner-supervise" ] || { echo "setup-image: $here/code-runner-supervise missing (build with scripts/build-images.sh)" >&2; exit 1; }
install -o root -g root -m 0755 "$here/code-runner-supervise" /usr/local/bin/code-runner-supervise
ln -sfn code-runner-supervise /usr/local/bin/code-runner-entrypoint
install -o root -g root -m 0755 -D "$here/setup-run.sh" /usr/local/lib/code-runner/setup-run
# it must run in this image: an empty stdin is a malformed header (exit 125, no trailer)
rc=0; /usr/local/bin/code-runner-entrypoint </dev/null 2>/dev/null || rc=$?
[ "$rc" = 125 ] || { echo "setup-image: the supervisor does not run here (exit $rc)" >&2; exit 1; }
mkdir -p /opt/code-runner
