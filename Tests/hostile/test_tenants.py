"""Tenants cannot touch each other (issue 22): a key's prebuilt images are its own, builds run
confined, the environment cannot get around the payload limit, and /metrics can be kept to a
token of its own.

The prebuilt-image attack as it was reproduced: key 2 rebuilt key 1's tag with a
`sitecustomize.py` that prints `main.py`; key 1's next run printed its own code, secret
included, to the attacker's hook; key 2 then deleted the image."""

import ipaddress
import json
import time
import uuid

import requests

from conftest import HEADERS, OTHER_HEADERS, docker

# A .pth file's `import` line runs at every interpreter start (Debian's own sitecustomize.py in
# the standard library would shadow one in dist-packages).
HOOK = (
    "echo 'import sys, os; os.path.exists(\"/tmp/work/main.py\") and sys.stderr.write(\"HOOKED \" + open(\"/tmp/work/main.py\").read())'"
    " > /usr/lib/python3/dist-packages/zz-hook.pth\n"
)
SECRET_CODE = "SECRET = 'hunter2'\nprint(open('/app/version').read().strip())"


def tag(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def prebuild(service, headers, name: str, script: str, base: str = "python") -> requests.Response:
    return service.post("/prebuild", {"tag": name, "base_image": base, "setup_script": script},
                        headers=headers, timeout=700)


def test_another_keys_prebuilt_image_cannot_be_read_run_replaced_or_deleted(service, record):
    victim = tag("victim")
    t0 = time.monotonic()
    built = prebuild(service, HEADERS, victim, "echo v1 > /app/version")
    assert built.status_code == 200, built.text

    # Key 2 looks for it: nothing to list, nothing to show, nothing to run or delete.
    listed = service.get("/prebuilds", headers=OTHER_HEADERS).json()["prebuilds"]
    assert all(p["tag"] != f"prebuilt-{victim}" for p in listed)
    shown = service.get(f"/prebuilds/prebuilt-{victim}", headers=OTHER_HEADERS)
    nobody = service.get(f"/prebuilds/prebuilt-{tag('nobody')}", headers=OTHER_HEADERS)
    assert shown.status_code == nobody.status_code == 404
    assert shown.json() == {"detail": f"Prebuilt image 'prebuilt-{victim}' not found."}
    ran = service.post("/run", {"image": f"prebuilt-{victim}", "code": "print(1)"}, headers=OTHER_HEADERS)
    assert ran.status_code == 404, ran.text
    assert service.delete(f"/prebuilds/{victim}", headers=OTHER_HEADERS).status_code == 404

    # Key 2 "rebuilds" the tag with the hook: that is a new image of key 2's own.
    hooked = prebuild(service, OTHER_HEADERS, victim, HOOK)
    assert hooked.status_code == 200, hooked.text
    mine = service.post("/run", {"image": f"prebuilt-{victim}", "code": SECRET_CODE}, headers=HEADERS, timeout=60)
    assert mine.status_code == 200, mine.text
    result = mine.json()
    assert result["stdout"] == "v1\n"
    assert "HOOKED" not in result["stderr"] and "hunter2" not in result["stderr"] + result["stdout"]
    # The attacker's own image does carry the hook (so the check above could fail).
    theirs = service.post("/run", {"image": f"prebuilt-{victim}", "code": "print(2)"}, headers=OTHER_HEADERS, timeout=60)
    assert "HOOKED" in theirs.json()["stderr"], theirs.text

    # Key 2 deletes "it": its own image goes, key 1's stays and runs.
    assert service.delete(f"/prebuilds/{victim}", headers=OTHER_HEADERS).status_code == 200
    again = service.post("/run", {"image": f"prebuilt-{victim}", "code": SECRET_CODE}, headers=HEADERS, timeout=60)
    assert again.status_code == 200 and again.json()["stdout"] == "v1\n", again.text
    # Key 2's clean-up at age 0 reaches none of key 1's images.
    cleaned = service.post("/prebuilds/cleanup?max_age_days=0", headers=OTHER_HEADERS)
    assert cleaned.status_code == 200, cleaned.text
    assert service.get(f"/prebuilds/{victim}").status_code == 200
    record("key 2 reads, runs, rebuilds with a hook, deletes and cleans key 1's prebuilt image",
           {"show": shown.status_code, "run": ran.status_code, "victim_stdout": result["stdout"],
            "hook_reached_victim": "HOOKED" in result["stderr"]}, time.monotonic() - t0)
    assert service.delete(f"/prebuilds/{victim}").status_code == 200


def test_a_tag_squatted_by_another_key_is_still_free_for_you(service, record):
    name = tag("squat")
    t0 = time.monotonic()
    assert prebuild(service, OTHER_HEADERS, name, "echo squatter > /app/who").status_code == 200
    via_run = service.post("/run", {
        "image": f"prebuilt-{name}", "code": "print(open('/app/who').read().strip())",
        "prebuild_spec": {"base_image": "python", "setup_script": "echo owner > /app/who"},
    }, headers=HEADERS, timeout=700)
    assert via_run.status_code == 200, via_run.text
    assert via_run.json()["stdout"] == "owner\n"
    record("key 2 squats a tag ahead of key 1", via_run.json()["stdout"], time.monotonic() - t0)
    for headers in (HEADERS, OTHER_HEADERS):
        assert service.delete(f"/prebuilds/{name}", headers=headers).status_code == 200


def _gateway(network: str) -> str:
    """A bridge network's gateway; the engine's default bridge lists only its subnet, whose
    first address is docker0's."""
    config = json.loads(docker("network", "inspect", network, "--format", "{{json .IPAM.Config}}"))[0]
    if config.get("Gateway"):
        return config["Gateway"]
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


def _deployment_gateways(service) -> tuple[str, str]:
    return _gateway(f"code-runner-{service.deployment_id()}"), _gateway("bridge")


def _route_hex(dotted: str) -> str:
    return "".join(f"{int(octet):02X}" for octet in reversed(dotted.split(".")))


def test_a_setup_script_runs_confined(service, record):
    name = tag("confined")
    script = (
        "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status\n"
        "echo \"pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)\"\n"
        "echo \"memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)\"\n"
        "echo \"swap=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.swap.max)\"\n"
        "awk '$2 == \"00000000\" { print \"gateway=\" $3 }' /proc/net/route\n"
        "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null"
        " && echo raw=allowed || echo raw=refused\n"
        "mknod /tmp/dev-null c 1 3 2>/dev/null && echo mknod=allowed || echo mknod=refused\n"
    )
    t0 = time.monotonic()
    built = prebuild(service, HEADERS, name, script)
    assert built.status_code == 200, built.text
    log = service.get(f"/prebuilds/{name}").json()["build_log"]
    sandbox, default = _deployment_gateways(service)
    facts = dict(line.split("=", 1) for line in log.splitlines() if "=" in line and ":" not in line)
    record("setup script: capabilities, limits, network", {"log": log, "sandbox_gateway": sandbox}, time.monotonic() - t0)
    assert "CapEff:\t00000000000000fb" in log, log  # CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
    assert "NoNewPrivs:\t1" in log, log
    assert facts["pids"] == "512", log
    assert facts["memory"] == str(2048 << 20) and facts["swap"] == str(2048 << 20), log
    assert facts["raw"] == "refused" and facts["mknod"] == "refused", log
    assert facts["gateway"] == _route_hex(sandbox) != _route_hex(default), log
    assert service.delete(f"/prebuilds/{name}").status_code == 200


def test_a_setup_script_cannot_take_3_gib(service, record):
    name = tag("hog")
    t0 = time.monotonic()
    r = prebuild(service, HEADERS, name, "python3 -c 'b = bytearray(3 * 1024 ** 3); print(len(b))'")
    record("setup script allocates 3 GiB", r.json(), time.monotonic() - t0)
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("Build failed: ")
    assert "PREBUILD_MEMORY_MB" in r.json()["detail"]
    assert service.get(f"/prebuilds/{name}").json()["status"] == "failed"


def test_environment_counts_toward_the_payload_limit(service, record):
    body = {"code": "print(1)", "environment": {f"V{i}": "x" * (120 * 1024) for i in range(56)}}
    t0 = time.monotonic()
    r = service.post("/run", body)
    record("6.7 MiB of environment values", r.status_code, time.monotonic() - t0)
    assert r.status_code == 413 and r.json() == {"detail": "Code size exceeds the limit."}
    many = service.post("/run", {"code": "print(1)", "environment": {f"V{i}": "1" for i in range(300)}})
    assert many.status_code == 422 and many.json()["detail"][0]["loc"] == ["body", "environment"], many.text


def test_metrics_token_alone_reads_metrics(instance_factory, record):
    inst = instance_factory(env={"METRICS_TOKEN": "scrape-only", "WORKERS": "1"})
    with_key = inst.get("/metrics")
    wrong = inst.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = inst.get("/metrics", headers={"Authorization": "Bearer scrape-only"})
    record("an API key scrapes /metrics under METRICS_TOKEN", with_key.status_code, None)
    assert with_key.status_code == 401 and wrong.status_code == 403, (with_key.text, wrong.text)
    assert right.status_code == 200 and "code_runner_queue_depth" in right.text, right.text[:300]
