"""Code Runner's start hook for pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started
interpreters"; the supervisor's side is runtimes/common/prestart.c).

Imported by code-runner-prestart.pth while `site` runs, so in every Python start; it does nothing
unless CODE_RUNNER_PRESTART_FD is set, which only the supervisor of a warm container sets, for the
`python3 main.py` it starts before the run is known. Then it blocks reading that descriptor until
the run is there: "go\\n" and the run's environment ("NAME=value\\0" each). It sets those variables,
closes the descriptor and removes its own variable (the .pth line then removes this module from
sys.modules), and returns: Python goes on exactly as `python3 main.py` does (sys.argv,
sys.path[0], __main__, __file__, tracebacks), because it had only got as far as `site`. Without "go" (the run takes the exec path)
it exits at once, running nothing.
"""

import os


def _wait_for_run():
    fd_text = os.environ.pop("CODE_RUNNER_PRESTART_FD", None)
    if fd_text is None:
        return
    fd = int(fd_text)
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    data = b"".join(chunks)
    if not data.startswith(b"go\n"):
        os._exit(0)
    for entry in data[3:].split(b"\0"):
        name, equals, value = entry.partition(b"=")
        if equals and name:
            os.environb[name] = value


_wait_for_run()
