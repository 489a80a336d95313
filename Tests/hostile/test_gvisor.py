"""SANDBOX_RUNTIME=runsc runs every container under gVisor, when the engine has it registered
(scripts/setup-host.sh registers Debian's runsc with --network=none)."""

import json

import pytest


def test_runsc_runs_hello_world(instance_factory, record, tools):
    runtimes = json.loads(tools.docker("info", "--format", "{{json .Runtimes}}") or "{}")
    if "runsc" not in runtimes:
        pytest.skip(f"the Docker engine has no runsc runtime registered (runtimes: {sorted(runtimes)})")
    inst = instance_factory(env={"SANDBOX_RUNTIME": "runsc"})
    code = "import os\nprint('hello from', os.uname().release)\n"
    r, seconds = inst.run({"code": code, "timeout": 60})
    record("hello world under SANDBOX_RUNTIME=runsc", r, seconds)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["exit_code"] == 0, result
    assert result["stdout"].startswith("hello from"), result
    # gVisor reports its own kernel, not the host's
    host_release = tools.docker("info", "--format", "{{.KernelVersion}}").strip()
    assert host_release not in result["stdout"], result["stdout"]


WORK = "import time\nn = 0\nend = time.monotonic() + 2\nwhile time.monotonic() < end:\n    n += 1\nprint(n)\n"


def test_limits_hold_under_runsc_and_networked_runs_are_refused(instance_factory, record, tools):
    """gVisor virtualises /proc and the cgroup files, so the limits are checked by what a program
    manages to do, not by reading them (issue 15, item 5)."""
    runtimes = json.loads(tools.docker("info", "--format", "{{json .Runtimes}}") or "{}")
    if "runsc" not in runtimes:
        pytest.skip("the Docker engine has no runsc runtime registered (scripts/setup-host.sh registers it)")
    inst = instance_factory(env={"SANDBOX_RUNTIME": "runsc"})

    memory, _ = inst.run({"code": "x = bytearray(400 * 1024 * 1024)\nprint('survived')", "mem_limit": "128m",
                          "timeout": 30})
    record("runsc: 400 MiB in a 128 MiB sandbox", memory, None)
    assert memory.status_code == 200 and memory.json()["oom_killed"] is True, memory.text
    assert "survived" not in memory.json()["stdout"]

    fork_bomb = "import os\nwhile True:\n    if os.fork() == 0:\n        import time; time.sleep(20); os._exit(0)\n"
    forks, seconds = inst.run({"code": fork_bomb, "timeout": 30})
    record("runsc: fork bomb", forks, seconds)
    assert forks.status_code == 200 and forks.json()["timed_out"] is False and forks.json()["exit_code"] != 0, forks.text

    fill = ("f = open('/tmp/big', 'wb')\ntry:\n    for i in range(300):\n        f.write(b'x' * 1024 * 1024)\n"
            "        f.flush()\n    print('wrote 300 MB')\nexcept OSError as e:\n    print('stopped', e.errno)\n")
    disk, _ = inst.run({"code": fill, "disk_limit": "64m", "timeout": 30})
    record("runsc: 300 MB into a 64 MiB /tmp", disk, None)
    assert disk.status_code == 200 and disk.json()["stdout"] == "stopped 28\n", disk.text  # ENOSPC

    whole, _ = inst.run({"code": WORK, "cpus": 1, "timeout": 30})
    quarter, _ = inst.run({"code": WORK, "cpus": 0.25, "timeout": 30})
    ratio = int(quarter.json()["stdout"]) / int(whole.json()["stdout"])
    record("runsc: work done in 2 s at cpus 0.25 / at cpus 1", None, None, ratio=round(ratio, 3))
    assert ratio < 0.5, ratio  # measured 0.22

    networked, _ = inst.run({"code": "print(1)", "allow_network": True, "timeout": 20})
    record("runsc: a networked run", networked, None)
    assert networked.status_code == 503, networked.text
    assert "--network=none" in networked.json()["detail"], networked.text

    allowlisted, _ = inst.run({"code": "print(1)", "allowed_hosts": ["pypi.org"], "timeout": 20})
    record("runsc: an allowlisted run", allowlisted, None)
    assert allowlisted.status_code == 503, allowlisted.text
    assert "--network=none" in allowlisted.json()["detail"], allowlisted.text
