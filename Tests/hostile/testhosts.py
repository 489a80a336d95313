"""Test hosts for the egress suites (test_egress.py, test_allowlist.py): each in a network
namespace of its own behind a veth pair, routed from the host, so that a sandbox's traffic to it
goes where traffic to the internet would; and a listener on every address of the host itself."""

import http.server
import socket
import subprocess
import threading


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=check)


def add_test_host(namespace: str, host_side: str, ns_side: str, prefix: int, command: list[str]) -> subprocess.Popen:
    """Creates the namespace with `ns_side`, the host's end with `host_side`, and starts `command`
    in it; returns the process."""
    sh("ip", "netns", "add", namespace)
    sh("ip", "link", "add", f"{namespace}-h", "type", "veth", "peer", "name", f"{namespace}-n")
    sh("ip", "link", "set", f"{namespace}-n", "netns", namespace)
    sh("ip", "addr", "add", f"{host_side}/{prefix}", "dev", f"{namespace}-h")
    sh("ip", "link", "set", f"{namespace}-h", "up")
    sh("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{ns_side}/{prefix}", "dev", f"{namespace}-n")
    sh("ip", "netns", "exec", namespace, "ip", "link", "set", f"{namespace}-n", "up")
    sh("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
    sh("ip", "netns", "exec", namespace, "ip", "route", "add", "default", "via", host_side)
    return subprocess.Popen(["ip", "netns", "exec", namespace, *command],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def remove_test_host(namespace: str) -> None:
    sh("ip", "link", "del", f"{namespace}-h", check=False)
    sh("ip", "netns", "del", namespace, check=False)


class HostListener(http.server.ThreadingHTTPServer):
    """The test's own listener on the host: by default on every IPv4 address, answering "host".
    Serves from a thread of its own once started; `shutdown()` stops it."""

    def __init__(self, address: str = "0.0.0.0", answer: bytes = b"host", family: int = socket.AF_INET):
        self.address_family = family

        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        super().__init__((address, 0), Answer)
        threading.Thread(target=self.serve_forever, daemon=True).start()
