"""Per-request allowlists (issue 15, item 3): a run with `allowed_hosts` reaches those hosts, only
through the deployment's allowlist proxy (squid) that HTTP_PROXY/HTTPS_PROXY point it at, and
nothing else — every refusal at once, not a hang.

Every destination is created by this module: test hosts in network namespaces of their own, at
documentation ("public") addresses and one private address, each given names in /etc/hosts
(which the proxy reads; the entries go when the module ends):
- allowed.test, www.allowed.test, pypi.test -> 198.51.100.20: HTTP on 80 and HTTPS (a
  self-signed certificate) on 443, with a package index holding a wheel made here;
- other.test -> 198.51.100.30: HTTP and HTTPS, never allowed;
- rebind.test -> 10.213.8.10: a name that resolves to a private address (what DNS rebinding
  would hand the proxy);
- v6only.test -> ::1, where a listener of the test's own answers: the host's loopback over IPv6;
- dual.test -> 198.51.100.20 and ::1: a dual-stack name;
plus a listener of the test's own on all of the host's IPv4 addresses.
"""

import base64
import hashlib
import io
import json
import os
import socket
import subprocess
import tempfile
import time
import zipfile

import pytest

from conftest import poll
from testhosts import HostListener, add_test_host, remove_test_host, sh

HOSTS = {  # name: (namespace, host side, namespace side, prefix)
    "allowed": ("cral-ok", "198.51.100.21", "198.51.100.20", 30),
    "other": ("cral-no", "198.51.100.29", "198.51.100.30", 30),
    "rebind": ("cral-pv", "10.213.8.1", "10.213.8.10", 24),
}
NAMES = {
    "allowed.test": "198.51.100.20", "www.allowed.test": "198.51.100.20", "pypi.test": "198.51.100.20",
    "other.test": "198.51.100.30", "rebind.test": "10.213.8.10",
}
NAMES6 = {"v6only.test": "::1", "dual.test": "::1"}  # dual.test has an IPv4 address too (below)
HOSTS_MARKER = "# code-runner test_allowlist.py"

# serves argv[1] (a directory) over HTTP on 80 and HTTPS on 443 (certificate argv[2]); a GET of
# /who answers the host's name (argv[3])
SERVER = r'''
import http.server, os, ssl, sys, threading
root, certificate, name = sys.argv[1], sys.argv[2], sys.argv[3].encode()
class Answer(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kw):
        super().__init__(*args, directory=root, **kw)
    def do_GET(self):
        if self.path == "/who":
            self.send_response(200)
            self.send_header("Content-Length", str(len(name)))
            self.end_headers()
            self.wfile.write(name)
            return
        super().do_GET()
    def log_message(self, *args):
        pass
plain = http.server.ThreadingHTTPServer(("0.0.0.0", 80), Answer)
secure = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Answer)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(certificate)
secure.socket = context.wrap_socket(secure.socket, server_side=True)
threading.Thread(target=secure.serve_forever, daemon=True).start()
plain.serve_forever()
'''

# runs in the sandbox: each probe (stdin: JSON list of [label, kind, target]) and what happened
PROBE = r'''
import base64, json, os, socket, ssl, sys, time, urllib.parse, urllib.request
proxy = urllib.parse.urlsplit(os.environ.get("HTTPS_PROXY", "http://0.0.0.0:1"))
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE

def fetch(url):
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    with opener.open(url, timeout=8) as answer:
        return "answered " + answer.read().decode()

def direct(url):
    url = url.replace("GATEWAY", proxy.hostname)  # the proxy listens on the bridge's gateway
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=8) as answer:
        return "answered " + answer.read().decode()

def tunnel(target):
    connect_to, server_name = target.split(" ")
    conn = socket.create_connection((proxy.hostname, proxy.port), timeout=8)
    auth = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
    conn.sendall(f"CONNECT {connect_to}:443 HTTP/1.1\r\nHost: {connect_to}:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = conn.recv(4096).decode(errors="replace")
    if " 200 " not in head.split("\r\n")[0]:
        return "refused " + head.split("\r\n")[0]
    secure = context.wrap_socket(conn, server_hostname=server_name)
    secure.sendall(f"GET /who HTTP/1.0\r\nHost: {server_name}\r\n\r\n".encode())
    answer = b""
    while chunk := secure.recv(4096):
        answer += chunk
    return "answered " + answer.decode().split("\r\n\r\n", 1)[-1]

def raw(request_line):
    request_line = request_line.replace("GATEWAY", f"{proxy.hostname}:{proxy.port}")
    conn = socket.create_connection((proxy.hostname, proxy.port), timeout=8)
    auth = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
    conn.sendall(f"{request_line} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = conn.recv(4096).decode(errors="replace").split("\r\n")[0]
    return ("answered " if " 200 " in head else "refused ") + head

def no_credentials(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": f"http://{proxy.hostname}:{proxy.port}"}))
    with opener.open(url, timeout=8) as answer:
        return "answered " + answer.read().decode()

def embedded_dns(name):
    # Docker's embedded resolver stays at 127.0.0.11 under the bind-mounted resolv.conf: asked
    # directly, it must not get an answer from outside (a channel out of the sandbox)
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"".join(
        bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\x00\x00\x01\x00\x01"
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(6)
    udp.sendto(query, ("127.0.0.11", 53))
    try:
        answer = udp.recv(4096)
    except OSError as error:
        return f"failed {type(error).__name__}"
    code, count = answer[3] & 0x0F, int.from_bytes(answer[6:8], "big")
    return f"answered rcode {code}, {count} answers" if count else f"refused rcode {code}"

def resolve(name):
    return "resolved " + socket.gethostbyname(name)

results = {}
for label, kind, target in json.load(sys.stdin):
    started = time.monotonic()
    try:
        outcome = globals()[kind](target)
    except urllib.error.HTTPError as error:
        outcome = f"refused {error.code}"
    except Exception as error:
        reason = getattr(error, "reason", error)
        outcome = "refused connection" if isinstance(reason, ConnectionRefusedError) else f"failed {type(reason).__name__}: {reason}"
    results[label] = {"target": target, "outcome": outcome, "seconds": round(time.monotonic() - started, 3)}
print(json.dumps({"proxy": f"{proxy.hostname}:{proxy.port}", "results": results}))
'''


def make_wheel(directory: str) -> None:
    """A wheel `crdemo` 1.0 (its module says `VALUE = 'from the allowed index'`), under a PEP 503 index."""
    files = {
        "crdemo/__init__.py": b"VALUE = 'from the allowed index'\n",
        "crdemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: crdemo\nVersion: 1.0\n",
        "crdemo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()) + "crdemo-1.0.dist-info/RECORD,,\n"
    files["crdemo-1.0.dist-info/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    os.makedirs(f"{directory}/packages")
    os.makedirs(f"{directory}/simple/crdemo")
    with open(f"{directory}/packages/crdemo-1.0-py3-none-any.whl", "wb") as out:
        out.write(buffer.getvalue())
    with open(f"{directory}/simple/crdemo/index.html", "w") as out:
        out.write('<html><body><a href="/packages/crdemo-1.0-py3-none-any.whl">crdemo-1.0-py3-none-any.whl</a></body></html>\n')


def remove_test_hosts():
    for namespace, *_ in HOSTS.values():
        remove_test_host(namespace)


def write_hosts_entries(add: bool):
    with open("/etc/hosts") as hosts:
        kept = [line for line in hosts.read().splitlines() if not line.endswith(HOSTS_MARKER)]
    if add:
        kept += [f"{address} {name} {HOSTS_MARKER}" for name, address in NAMES.items()]
        kept += [f"{address} {name} {HOSTS_MARKER}" for name, address in NAMES6.items()]
        kept.append(f"198.51.100.20 dual.test {HOSTS_MARKER}")
    with open("/etc/hosts", "w") as hosts:  # in place: /etc/hosts may be a bind mount
        hosts.write("\n".join(kept) + "\n")


@pytest.fixture(scope="module")
def test_hosts():
    remove_test_hosts()
    workdir = tempfile.mkdtemp(prefix="cral.")
    certificate = f"{workdir}/server.pem"
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-days", "1", "-subj", "/CN=allowed.test", "-addext",
       "subjectAltName=DNS:allowed.test,DNS:www.allowed.test,DNS:pypi.test,DNS:other.test",
       "-keyout", f"{workdir}/key.pem", "-out", f"{workdir}/cert.pem")
    with open(certificate, "w") as out:
        out.write(open(f"{workdir}/cert.pem").read() + open(f"{workdir}/key.pem").read())
    servers = []
    for name, (namespace, host_side, ns_side, prefix) in HOSTS.items():
        root = f"{workdir}/{name}"
        os.makedirs(root)
        if name == "allowed":
            make_wheel(root)
        servers.append(add_test_host(namespace, host_side, ns_side, prefix, ["python3", "-c", SERVER, root, certificate, name]))
    write_hosts_entries(add=True)
    listener = HostListener()
    listener6 = HostListener("::1", b"host6", socket.AF_INET6)  # the host's IPv6 loopback
    try:
        for name, (_, _, ns_side, _) in HOSTS.items():
            # the host reaches each test host: a refusal from a sandbox is the policy's
            poll(lambda: answers(f"http://{ns_side}/who", name), 20, 0.2, f"{name} test host")
        assert answers(f"http://[::1]:{listener6.server_address[1]}/", "host6")
        yield {"listener_port": listener.server_address[1], "listener6_port": listener6.server_address[1]}
    finally:
        listener.shutdown()
        listener6.shutdown()
        for server in servers:
            server.kill()
            server.wait(timeout=10)
        remove_test_hosts()
        write_hosts_entries(add=False)
        subprocess.run(["rm", "-rf", workdir], check=False)


def answers(url: str, name: str) -> bool:
    try:
        return subprocess.run(["curl", "-s", "-m", "2", "--noproxy", "*", url], capture_output=True, text=True,
                              timeout=5).stdout == name
    except subprocess.TimeoutExpired:
        return False  # not listening yet


def probe(service, allowed_hosts: list[str] | None, probes: list[tuple[str, str, str]], allow_network: bool = False) -> dict:
    body = {"code": PROBE, "stdin": json.dumps(probes), "timeout": 60}
    if allowed_hosts is not None:
        body["allowed_hosts"] = allowed_hosts
    if allow_network:
        body["allow_network"] = True
    response, _ = service.run(body)
    assert response.status_code == 200, response.text[:500]
    result = response.json()
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    return json.loads(result["stdout"])


def test_allowlisted_run_reaches_its_hosts_through_the_proxy_and_nothing_else(service, record, test_hosts):
    port = test_hosts["listener_port"]
    port6 = test_hosts["listener6_port"]
    found = probe(service, ["allowed.test", "*.allowed.test", "rebind.test", "198.51.100.30", "v6only.test", "dual.test"], [
        ("allowed name, HTTP", "fetch", "http://allowed.test/who"),
        ("allowed name, HTTPS", "fetch", "https://allowed.test/who"),
        ("wildcard name, HTTPS", "fetch", "https://www.allowed.test/who"),
        ("allowed address", "fetch", "http://198.51.100.30/who"),
        ("name not allowed, HTTP", "fetch", "http://other.test/who"),
        ("name not allowed, HTTPS", "fetch", "https://other.test/who"),
        ("name not allowed, same address as an allowed one", "fetch", "http://pypi.test/who"),
        ("address not allowed", "fetch", "http://198.51.100.20/who"),
        ("allowed name resolving to a private address", "fetch", "http://rebind.test/who"),
        ("the private address itself", "fetch", "http://10.213.8.10/who"),
        ("tunnel to an allowed name, its own server name", "tunnel", "allowed.test allowed.test"),
        ("tunnel to an allowed name asking for another (fronting)", "tunnel", "allowed.test other.test"),
        ("the proxy without credentials", "no_credentials", "http://allowed.test/who"),
        ("squid's cache manager, by an allowed name", "raw", "GET cache_object://allowed.test/active_requests"),
        ("squid's cache manager, by its own address", "raw", "GET http://GATEWAY/squid-internal-mgr/active_requests"),
        ("an allowed name for the host's IPv6 loopback", "fetch", f"http://v6only.test:{port6}/"),
        ("an allowed dual-stack name", "fetch", "http://dual.test/who"),
        ("direct to the allowed host", "direct", "http://198.51.100.20/who"),
        ("direct to the host listener via the proxy's address", "direct", f"http://GATEWAY:{port}/"),
        ("direct to the API via the proxy's address", "direct", f"http://GATEWAY:{service.port}/health"),
        ("DNS", "resolve", "allowed.test"),
        ("Docker's embedded DNS, asked directly", "embedded_dns", "pypi.org"),
    ])
    record("allowlisted run: every destination", None, None, **found)
    results = found["results"]
    proxy_address = found["proxy"].split(":")[0]
    expected = {
        "allowed name, HTTP": "answered allowed",
        "allowed name, HTTPS": "answered allowed",
        "wildcard name, HTTPS": "answered allowed",
        "allowed address": "answered other",
        "tunnel to an allowed name, its own server name": "answered allowed",
        "name not allowed, HTTP": "refused 403",
        "name not allowed, HTTPS": "refused 403",  # the CONNECT's answer
        "name not allowed, same address as an allowed one": "refused 403",
        "address not allowed": "refused 403",
        "allowed name resolving to a private address": "refused 403",
        "the private address itself": "refused 403",
        "the proxy without credentials": "refused 407",
        "squid's cache manager, by an allowed name": "refused HTTP/1.1 403",
        "an allowed dual-stack name": "answered allowed",
        # squid cut the tunnel when the hello named other.test (an SSL error's reason is a string)
        "tunnel to an allowed name asking for another (fronting)": "failed str: UNEXPECTED_EOF_WHILE_READING",
    }
    for label, outcome in expected.items():
        assert results[label]["outcome"].startswith(outcome), (label, results[label])
    # the cache manager by the proxy's own address: no list names it, so the host check refuses it
    assert results["squid's cache manager, by its own address"]["outcome"].startswith("refused HTTP/1.1 403"), results
    # ::1 is the host's: never reached (squid's IPv6 is refused by the kernel), at once
    assert "host6" not in results["an allowed name for the host's IPv6 loopback"]["outcome"], results
    assert results["an allowed name for the host's IPv6 loopback"]["outcome"].startswith(("refused", "failed")), results
    for label in ("direct to the allowed host", "direct to the host listener via the proxy's address",
                  "direct to the API via the proxy's address"):
        assert results[label]["outcome"] == "refused connection", (label, results[label])
    assert results["DNS"]["outcome"].startswith("failed"), results["DNS"]
    embedded = results["Docker's embedded DNS, asked directly"]["outcome"]
    assert not embedded.startswith("answered"), embedded
    for label, result in results.items():
        if label != "Docker's embedded DNS, asked directly":  # a resolver's own timeout
            assert result["seconds"] < 2, (label, result)  # refused at once, never a timeout
    assert proxy_address.count(".") == 3, found


def test_direct_connections_to_the_hosts_addresses_are_refused(service, record, test_hosts):
    port = test_hosts["listener_port"]
    addresses = [line.split()[3].split("/")[0] for line in sh("ip", "-4", "-o", "addr", "show").stdout.splitlines()]
    probes = [(f"listener at {address}", "direct", f"http://{address}:{port}/") for address in addresses
              if not address.startswith("127.")]
    found = probe(service, ["allowed.test"], probes)
    record("allowlisted run: direct connections to the host's addresses", None, None, **found)
    assert len(found["results"]) >= 2, found  # at least the host's own interface and a bridge
    for label, result in found["results"].items():
        assert result["outcome"] == "refused connection", (label, result)
        assert result["seconds"] < 2, (label, result)


def test_pip_installs_from_an_allowed_index_and_nothing_else(service, record, test_hosts):
    script = ("pip install --no-cache-dir --disable-pip-version-check --target /tmp/site "
              "--index-url https://pypi.test/simple --trusted-host pypi.test crdemo && "
              "python3 -c 'import sys; sys.path.insert(0, \"/tmp/site\"); import crdemo; print(crdemo.VALUE)'")
    started = time.monotonic()
    response, _ = service.run({"code": "", "entrypoint": script, "allowed_hosts": ["pypi.test"], "timeout": 120})
    record("allowlisted run: pip install from the allowed index", response, round(time.monotonic() - started, 3))
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["exit_code"] == 0, body["stderr"][-2000:]
    assert body["stdout"].strip().endswith("from the allowed index"), body["stdout"][-1000:]
    # the same index under a name the run was not given: refused at once, no retries that hang
    started = time.monotonic()
    refused, _ = service.run({"code": "", "entrypoint": script.replace("pypi.test", "other.test"),
                              "allowed_hosts": ["pypi.test"], "timeout": 120})
    seconds = round(time.monotonic() - started, 3)
    record("allowlisted run: pip from an index not allowed", refused, seconds)
    assert refused.status_code == 200, refused.text[:500]
    outcome = refused.json()
    assert outcome["exit_code"] != 0, outcome
    assert "No matching distribution found for crdemo" in outcome["stderr"], outcome
    assert "from the allowed index" not in outcome["stdout"], outcome
    assert seconds < 10, seconds  # a 403 pip does not retry, not a timeout


def test_networked_runs_without_an_allowlist_cannot_use_the_proxy(service, record, test_hosts):
    first = probe(service, ["allowed.test"], [("allowed", "fetch", "http://allowed.test/who")])
    assert first["results"]["allowed"]["outcome"] == "answered allowed", first
    proxy = first["proxy"]
    found = probe(service, None, [("the allowlist proxy", "direct", f"http://{proxy}/")], allow_network=True)
    record("networked run: the allowlist proxy", None, None, **found)
    assert found["results"]["the allowlist proxy"]["outcome"] == "refused connection", found


def test_policy_has_the_allowlist_chain(service, test_hosts):
    probe(service, ["allowed.test"], [("allowed", "fetch", "http://allowed.test/who")])
    dep = service.deployment_id()
    rules = sh("iptables", "-S", f"CR-{dep}-al").stdout
    assert "--dport 23128 -j RETURN" in rules, rules
    assert sh("iptables", "-C", "DOCKER-USER", "-i", f"ca-{dep}", "-j", f"CR-{dep}-no", check=False).returncode == 0
    assert sh("iptables", "-C", "INPUT", "-i", f"ca-{dep}", "-j", f"CR-{dep}-al", check=False).returncode == 0
