"""Network: with allow_network, sandboxes sit on a dedicated bridge with inter-container traffic
disabled, so two concurrent sandboxes cannot reach each other.

This is the behaviour the sandbox table (Sources/Worker/Sandbox/SandboxSpec.swift) and issue 4 ask for. The first version attached allow_network runs
to Docker's default `bridge`, where sandbox B reached sandbox A; this test failed against it."""

import json
import socket
import uuid

LISTENER = r'''
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8765))
s.listen(16)
s.settimeout(0.5)
accepted = 0
deadline = time.time() + 40
while time.time() < deadline:
    try:
        c, addr = s.accept()
    except socket.timeout:
        continue
    accepted += 1
    try:
        c.sendall(b"listener-secret\n")
    finally:
        c.close()
print("accepted", accepted)
'''

CONNECTOR = r'''
import json, socket, sys
target = sys.argv[1]
out = {}
try:
    c = socket.create_connection((target, 8765), timeout=3)
    out["result"] = "CONNECTED"
    out["data"] = c.recv(100).decode(errors="replace")
except OSError as e:
    out["result"] = "BLOCKED"
    out["error"] = repr(e)
print(json.dumps(out))
'''


def container_ip(tools, container_id: str) -> tuple[str, str]:
    info = tools.inspect(container_id) or {}
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    for name, net in networks.items():
        if net.get("IPAddress"):
            return name, net["IPAddress"]
    return "", ""


def test_two_networked_sandboxes_cannot_reach_each_other(service, record, tools):
    marker = f"listener-{uuid.uuid4().hex[:10]}"
    job = service.submit({"code": LISTENER, "entrypoint": f"python3 main.py {marker}",
                          "allow_network": True, "timeout": 60})
    try:
        cid = tools.poll(lambda: tools.find_job_container(job, marker), 30, 0.1, "the listener's container")
        network, ip = tools.poll(lambda: container_ip(tools, cid)[1] and container_ip(tools, cid), 15, 0.1,
                                 "the listener's IP address")

        def listening():
            # the host can reach a container on a bridge: proves the listener is up, so that a
            # refusal below is the network's doing, not a listener that was not there yet
            try:
                with socket.create_connection((ip, 8765), timeout=1) as c:
                    return c.recv(100) == b"listener-secret\n"
            except OSError:
                return False
        tools.poll(listening, 30, 0.2, f"the listener on {ip}:8765")

        r, seconds = service.run({"code": CONNECTOR, "entrypoint": f"python3 main.py {ip}",
                                  "allow_network": True, "timeout": 20})
        assert r.status_code == 200, r.text
        result = r.json()
        facts = json.loads(result["stdout"]) if result["exit_code"] == 0 else {"raw": result}
        record("sandbox B connects to sandbox A (both allow_network)",
               {"network": network, "target": ip, **facts}, seconds)
        assert facts.get("result") == "BLOCKED", \
            f"sandbox B reached sandbox A at {ip}:8765 on network {network!r}: {facts}"
        assert network != "bridge", "allow_network runs must not use Docker's default bridge"
    finally:
        service.delete(f"/jobs/{job}")
        tools.poll(lambda: not tools.host_processes_with(marker), 30, 0.2, "the listener to go")


def test_networked_sandbox_gets_an_interface(service, record):
    code = ("import json, os\n"
            "print(json.dumps({'ifaces': sorted(os.listdir('/sys/class/net'))}))\n")
    r, seconds = service.run({"code": code, "allow_network": True})
    assert r.status_code == 200, r.text
    facts = json.loads(r.json()["stdout"])
    record("allow_network true: interfaces", facts, seconds)
    assert "lo" in facts["ifaces"] and len(facts["ifaces"]) >= 2
