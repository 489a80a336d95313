"""Webhooks through the service (issue 18): a job with a `callback_url` is POSTed, signed, to a
receiver on loopback started by the test, once it finishes; failures are retried with back-off;
redirects are not followed; the address is checked again at delivery; and URLs to private,
link-local or the host's own addresses are refused at submission.

Each test starts an instance of its own with WEBHOOK_SECRET and WEBHOOK_ALLOW_CIDRS=127.0.0.0/8
(the receiver is on this machine's loopback, which is refused without it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import sqlite3
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SECRET = "hostile-webhook-secret"
WEBHOOKS_ON = {"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8"}


class Receiver:
    """A loopback HTTP server that answers each POST with the next scripted status (then 200)
    and hands every request to the test through a queue (no sleeping to wait for one)."""

    def __init__(self, statuses=(), location: str | None = None):
        self.statuses = list(statuses)
        self.location = location
        self.requests: queue.Queue = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.put((time.monotonic(), self.path, dict(self.headers), body))
                self.send_response(status)
                if receiver.location and status in (301, 302, 307, 308):
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook?from=test"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout: float = 60):
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no delivery reached the receiver within {timeout:.0f}s") from None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*statuses, location=None):
        r = Receiver(statuses, location)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_env(request):
    """The service's store: SQLite (its default), or a fresh database of its own on the tests'
    PostgreSQL server (scripts/postgres-server.sh, started when it does not run), dropped after."""
    if request.param == "sqlite":
        yield {}
        return
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    line = subprocess.run(["bash", os.path.join(root, "scripts", "postgres-server.sh"), "start"],
                          capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    url = line.split("=", 1)[1]
    port = url.rsplit(":", 1)[1].split("/")[0]
    socket_dir = os.environ.get("PG_SOCKET_DIR", "/var/tmp/code-runner-postgres-socket")
    database = f"cr_webhooks_{uuid.uuid4().hex[:10]}"

    def admin(sql: str):
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", socket_dir,
                        "-p", port, "-d", "postgres", "-c", sql], check=True, cwd="/")

    admin(f"CREATE DATABASE {database} OWNER code_runner")
    yield {"DATABASE_URL": url.rsplit("/", 1)[0] + "/" + database}
    admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def signature_ok(headers: dict, body: bytes) -> bool:
    timestamp = headers["X-Code-Runner-Timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Code-Runner-Signature"])


def wait_callback(inst, job_id: str, tools, done, timeout: float = 60) -> dict:
    """The job's `callback` once `done(callback)` holds (GET /jobs/{id}, polled)."""
    return tools.poll(lambda: (lambda c: c if c and done(c) else None)(inst.job(job_id)["callback"]), timeout,
                      interval=0.1, what=f"the callback of {job_id}")


def test_delivery_is_signed_and_carries_the_job(store_env, instance_factory, receiver, tools, record):
    inst = instance_factory(env={**WEBHOOKS_ON, **store_env})
    r = receiver()
    job_id = inst.submit({"code": "print('hello hook')", "callback_url": r.url})
    finished = inst.wait_job(job_id, 60)
    assert finished["callback"]["url"] == r.url
    _, path, headers, body = r.next()
    assert path == "/hook?from=test"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Code-Runner-Delivery"] == job_id
    assert abs(int(headers["X-Code-Runner-Timestamp"]) - time.time()) < 120
    assert signature_ok(headers, body)
    # a receiver that checks the signature refuses a changed body or timestamp
    assert not signature_ok(headers, body + b" ")
    assert not signature_ok({**headers, "X-Code-Runner-Timestamp": str(int(headers["X-Code-Runner-Timestamp"]) + 1)}, body)
    delivered = json.loads(body)
    assert delivered["job_id"] == job_id and delivered["status"] == "completed"
    assert delivered["result"]["stdout"] == "hello hook\n"
    # the same JSON as GET /jobs/{id}, but for the callback's own progress
    shown = inst.job(job_id)
    assert {k: v for k, v in delivered.items() if k != "callback"} == {k: v for k, v in shown.items() if k != "callback"}
    callback = wait_callback(inst, job_id, tools, lambda c: c["status"] == "delivered")
    assert callback == {"url": r.url, "status": "delivered", "attempts": 1, "last_error": None}
    record(f"webhook: signed delivery ({'postgres' if store_env else 'sqlite'})", callback, None)
    with pytest.raises(queue.Empty):  # exactly one delivery
        r.requests.get(timeout=1.0)


def test_a_failed_delivery_is_retried_with_backoff(instance_factory, receiver, tools, record):
    inst = instance_factory(env=WEBHOOKS_ON)
    r = receiver(503, 500)
    job_id = inst.submit({"code": "print(1)", "callback_url": r.url})
    first, _, headers1, body1 = r.next()
    pending = wait_callback(inst, job_id, tools, lambda c: c["attempts"] >= 1)
    assert pending["status"] == "pending" and "503" in (pending["last_error"] or ""), pending
    second, _, headers2, _ = r.next()
    third, _, headers3, _ = r.next(timeout=90)
    assert headers1["X-Code-Runner-Delivery"] == headers2["X-Code-Runner-Delivery"] == headers3["X-Code-Runner-Delivery"] == job_id
    # 5 s then 10 s (±10 %): the back-off doubles
    assert 4.0 <= second - first <= 8.0, second - first
    assert 8.5 <= third - second <= 14.0, third - second
    callback = wait_callback(inst, job_id, tools, lambda c: c["status"] == "delivered")
    assert callback["attempts"] == 3 and callback["last_error"] is None, callback
    record("webhook: 503, 500, then 200", {"gaps": [round(second - first, 2), round(third - second, 2)], **callback}, None)


def test_a_pending_delivery_survives_a_restart(store_env, instance_factory, receiver, tools, record):
    """The first attempt fails; the service stops before the retry is due; another instance on
    the same database makes it."""
    env = {**WEBHOOKS_ON, **store_env}
    inst = instance_factory(env=env)
    r = receiver(503)
    job_id = inst.submit({"code": "print(1)", "callback_url": r.url})
    r.next()
    wait_callback(inst, job_id, tools, lambda c: c["attempts"] >= 1)
    inst.stop()
    again = instance_factory(env=env, database=inst.database)
    _, _, headers, _ = r.next()
    assert headers["X-Code-Runner-Delivery"] == job_id
    callback = wait_callback(again, job_id, tools, lambda c: c["status"] == "delivered")
    assert callback["attempts"] == 2 and callback["last_error"] is None, callback
    record(f"webhook: retried after a restart ({'postgres' if store_env else 'sqlite'})", callback, None)


def test_redirects_are_not_followed(instance_factory, receiver, tools):
    inst = instance_factory(env=WEBHOOKS_ON)
    elsewhere = receiver()
    r = receiver(302, location=elsewhere.url)
    job_id = inst.submit({"code": "print(1)", "callback_url": r.url})
    r.next()
    callback = wait_callback(inst, job_id, tools, lambda c: c["attempts"] >= 1)
    assert "302" in (callback["last_error"] or "") and callback["status"] == "pending", callback
    with pytest.raises(queue.Empty):
        elsewhere.requests.get(timeout=1.0)


def test_the_address_is_checked_again_at_delivery(instance_factory, receiver, tools, record):
    """The stored URL changed to a private address after submission (as a name re-pointed by
    DNS would): the worker refuses to call it and says why."""
    inst = instance_factory(env=WEBHOOKS_ON)
    r = receiver()
    job_id = inst.submit({"code": "import time; time.sleep(1.5)", "callback_url": r.url})
    with sqlite3.connect(inst.database, timeout=30) as db:
        db.execute("UPDATE jobs SET callback_url = 'http://10.11.12.13:9/hook' WHERE public_id = ?", (job_id,))
    inst.wait_job(job_id, 60)
    callback = wait_callback(inst, job_id, tools, lambda c: c["attempts"] >= 1)
    assert callback["status"] == "pending" and "private" in (callback["last_error"] or ""), callback
    record("webhook: re-pointed to 10.11.12.13 before delivery", callback, None)
    with pytest.raises(queue.Empty):
        r.requests.get(timeout=0.5)


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://127.0.0.1:9/hook", "https://example.org/hook"])
def test_webhooks_are_off_without_a_secret(service, url, record):
    """The shared service runs without WEBHOOK_SECRET: any callback_url is a 422 at the field."""
    r = service.post("/jobs", {"code": "print(1)", "callback_url": url})
    record(f"webhook: submit {url} (webhooks off)", {"status": r.status_code}, None)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "callback_url"] and "WEBHOOK_SECRET" in detail["msg"], detail


def test_refusals_say_why(instance_factory, record):
    inst = instance_factory(env=WEBHOOKS_ON)
    for url, reason in [
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://100.64.0.1/", "carrier-grade"),
        ("http://0x0a000001/", "private"),
        ("file:///etc/passwd", "http or https"),
    ]:
        r = inst.post("/jobs", {"code": "print(1)", "callback_url": url})
        assert r.status_code == 422, (url, r.text)
        detail = r.json()["detail"][0]
        record(f"webhook: submit {url} (webhooks on)", {"status": r.status_code, "msg": detail["msg"]}, None)
        assert detail["loc"] == ["body", "callback_url"] and reason in detail["msg"], (url, detail)
