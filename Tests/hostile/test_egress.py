"""Egress policy of networked sandboxes (issue 15): a run with `allow_network` reaches public
addresses and nothing else — not the host itself (its gateway address, its other addresses, the
API), not private (RFC 1918) or link-local (cloud metadata) addresses — and each refusal is
immediate, not a hang.

Every destination is created by this module: three test hosts, each in a network namespace of
its own behind a veth pair, each serving its name over HTTP —
- "public" at 198.51.100.10 (a documentation range, routed from the host like the internet),
- "private" at 10.213.7.10,
- "metadata" at 169.254.169.254 (where clouds serve instance credentials),
plus a listener of the test's own on all of the host's addresses. The host reaches each of them
(checked first), so a refusal inside the sandbox is the policy's doing.

Before the policy (the service as of issue 14) the private and metadata hosts answered from a
networked sandbox, and so did the host's listener and the API through the bridge's gateway.
"""

import json
import time

import pytest
import requests

from conftest import poll
from testhosts import HostListener, add_test_host, remove_test_host, sh

HOSTS = {  # name: (namespace, host side, namespace side, prefix, port)
    "public": ("creg-pub", "198.51.100.1", "198.51.100.10", 24, 8080),
    "private": ("creg-priv", "10.213.7.1", "10.213.7.10", 24, 8080),
    "metadata": ("creg-meta", "169.254.169.1", "169.254.169.254", 24, 80),
}

SERVER = r'''
import http.server, sys
name = sys.argv[2].encode()
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(name)))
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Answer).serve_forever()
'''

# runs in the sandbox: GETs each URL (argv: JSON list of [label, url]); prints what happened
PROBE = r'''
import json, socket, sys, time, urllib.request
results = {}
gateway = None
with open("/proc/net/route") as routes:
    for line in routes.readlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            gateway = socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
for label, url in json.loads(sys.argv[1]):
    url = url.replace("GATEWAY", gateway or "0.0.0.0")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=8) as answer:
            outcome = "answered " + answer.read().decode()
    except Exception as error:
        reason = getattr(error, "reason", error)
        outcome = "refused" if isinstance(reason, ConnectionRefusedError) else f"failed {type(reason).__name__}: {reason}"
    results[label] = {"url": url, "outcome": outcome, "seconds": round(time.monotonic() - started, 3)}
print(json.dumps({"gateway": gateway, "results": results}))
'''


def remove_test_hosts():
    for namespace, *_ in HOSTS.values():
        remove_test_host(namespace)


@pytest.fixture(scope="module")
def test_hosts():
    remove_test_hosts()
    servers = []
    for name, (namespace, host_side, ns_side, prefix, port) in HOSTS.items():
        servers.append(add_test_host(namespace, host_side, ns_side, prefix, ["python3", "-c", SERVER, str(port), name]))
    listener = HostListener()
    try:
        for name, (_, _, ns_side, _, port) in HOSTS.items():
            # the host reaches each test host: a refusal from a sandbox is the policy's
            poll(lambda: answers(f"http://{ns_side}:{port}/", name), 20, 0.2, f"{name} test host")
        yield {"listener_port": listener.server_address[1]}
    finally:
        listener.shutdown()
        for server in servers:
            server.kill()
            server.wait(timeout=10)
        remove_test_hosts()


def answers(url: str, name: str) -> bool:
    try:
        return requests.get(url, timeout=2).text == name
    except requests.RequestException:
        return False  # not listening yet


def host_addresses() -> list[str]:
    """The host's own IPv4 addresses but loopback and the bridges (whose gateway is probed as such)."""
    out = sh("ip", "-4", "-o", "addr", "show").stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        device, address = fields[1], fields[3].split("/")[0]
        if device == "lo" or device.startswith(("docker", "br-", "cr-")):
            continue
        found.append(address)
    return found


def probe(service, targets: list[tuple[str, str]], allow_network: bool = True) -> dict:
    code = PROBE
    response, seconds = service.run({"code": code, "entrypoint": f"python3 main.py '{json.dumps(targets)}'",
                                     "allow_network": allow_network, "timeout": 60})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["exit_code"] == 0, body["stderr"][-2000:]
    return json.loads(body["stdout"])


def deployment(service) -> str:
    return service.deployment_id()


def test_networked_run_reaches_public_hosts_only(service, record, test_hosts):
    port = test_hosts["listener_port"]
    targets = [(name, f"http://{ns_side}:{p}/") for name, (_, _, ns_side, _, p) in HOSTS.items()]
    targets += [("host listener via the gateway", f"http://GATEWAY:{port}/"),
                ("the API via the gateway", f"http://GATEWAY:{service.port}/health")]
    targets += [(f"host listener at {address}", f"http://{address}:{port}/") for address in host_addresses()]
    found = probe(service, targets)
    record("networked run: every destination", None, None, **found)
    results = found["results"]
    assert results["public"]["outcome"] == "answered public", results["public"]
    refused = {label: result for label, result in results.items() if label != "public"}
    assert len(refused) >= 5, refused  # the test hosts, the gateway twice, the host's own addresses
    for label, result in refused.items():
        assert result["outcome"] == "refused", (label, result)
        assert result["seconds"] < 0.5, (label, result)  # refused at once: no timeout, no retransmission


def test_run_without_network_reaches_nothing(service, record, test_hosts):
    found = probe(service, [("public", "http://198.51.100.10:8080/")], allow_network=False)
    record("run without network: the public host", None, None, **found)
    outcome = found["results"]["public"]["outcome"]
    assert outcome.startswith("failed") and "answered" not in outcome, outcome


def test_rules_are_the_policy_and_repaired_when_removed(service, record, test_hosts):
    # a networked run has made sure the network and its rules exist
    probe(service, [("public", "http://198.51.100.10:8080/")])
    dep = deployment(service)
    chain, bridge = f"CR-{dep}", f"cr-{dep}"
    rules = sh("iptables", "-S", chain).stdout
    for needed in ("-d 10.0.0.0/8 -j", "-d 169.254.0.0/16 -j", "-d 172.16.0.0/12 -j", "-d 192.168.0.0/16 -j",
                   "--dport 53 -j RETURN"):
        assert needed in rules, rules
    # what a dockerd restart or an operator's flush could do: the jump goes, and comes back
    sh("iptables", "-D", "DOCKER-USER", "-i", bridge, "-j", chain)
    removed = time.monotonic()
    poll(lambda: sh("iptables", "-C", "DOCKER-USER", "-i", bridge, "-j", chain, check=False).returncode == 0,
         20, 0.2, "the worker to put the jump back")
    record("jump removed, then restored", None, round(time.monotonic() - removed, 3))
    found = probe(service, [("private", "http://10.213.7.10:8080/"), ("public", "http://198.51.100.10:8080/")])
    assert found["results"]["private"]["outcome"] == "refused", found
    assert found["results"]["public"]["outcome"] == "answered public", found


def test_without_a_firewall_networked_runs_are_503_and_health_says_why(instance_factory, record):
    # a worker that cannot find iptables cannot police the network: it must refuse, not run open
    inst = instance_factory(env={"PATH": "/usr/local/bin:/usr/bin:/bin", "WORKERS": "1"})
    health = poll(lambda: (lambda h: h if h.get("egress") == "unavailable" else None)(inst.health()), 30, 0.2,
                  "/health to report egress unavailable")
    record("no iptables: /health", None, None, health=health)
    assert "iptables" in (health.get("egress_problem") or ""), health
    refused, _ = inst.run({"code": "print(1)", "allow_network": True, "timeout": 20})
    record("no iptables: networked run", refused, None)
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"].startswith("Networked runs are unavailable: "), refused.text
    offline, _ = inst.run({"code": "print('offline')", "timeout": 20})
    assert offline.status_code == 200 and offline.json()["stdout"] == "offline\n", offline.text
