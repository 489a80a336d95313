#!/bin/sh
# Runs (as root) inside every runtime image's `docker build`, after the runtime is installed:
# the unprivileged user, the baked links into the tmpfs, and the shared entrypoint.
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

install -m 0755 "$here/entrypoint.sh" /usr/local/bin/code-runner-entrypoint
mkdir -p /opt/code-runner
