"""SANDBOX_RUNTIME=runsc runs every container under gVisor, when the engine has it registered."""

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
