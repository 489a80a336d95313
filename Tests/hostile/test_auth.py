"""Authentication header edge cases: a 401/403 (or a 400 from the HTTP parser), never a 5xx.
Sent as raw bytes, since HTTP libraries refuse most of these values."""

import json
import time

import pytest

# refused before anything runs: /health after each test, one normal run after the module
NORMAL_RUN_PER_MODULE = True

BODY = json.dumps({"code": "print('auth')"}).encode()


def request(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    if body:
        lines += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


CASES = [
    # (id, headers, expected statuses)
    ("utf8-key", [(b"X-API-Key", "hostile-k\u00e9y".encode())], {403}),
    ("latin1-key", [(b"X-API-Key", b"hostile-k\xe9y")], {401, 403}),
    ("invalid-utf8-key", [(b"X-API-Key", b"\xff\xfe\xfd")], {401, 403}),
    ("right-key-plus-nonascii", [(b"X-API-Key", b"hostile-key\xc3\xa9")], {403}),
    ("emoji-key", [(b"X-API-Key", "\U0001F4A3".encode())], {403}),
    ("empty-key", [(b"X-API-Key", b"")], {401, 403}),
    ("spaces-key", [(b"X-API-Key", b"   ")], {401, 403}),
    ("key-with-tab", [(b"X-API-Key", b"hostile\tkey")], {401, 403}),
    ("huge-key", [(b"X-API-Key", b"k" * 60000)], {400, 401, 403, 413, 431}),
    ("wrong-key-garbage-bearer", [(b"X-API-Key", b"wrong"), (b"Authorization", b"Bearer garbage")], {403}),
    ("wrong-key-right-key-as-bearer", [(b"X-API-Key", b"wrong"), (b"Authorization", b"Bearer hostile-key")], {403}),
    ("nonascii-key-nonascii-bearer", [(b"X-API-Key", b"\xe9"), (b"Authorization", "Bearer \u00e9".encode())], {401, 403}),
    ("lowercase-bearer", [(b"Authorization", b"bearer hostile-key")], {401}),
    ("bearer-only-key-value", [(b"Authorization", b"Bearer hostile-key")], {401}),
    ("nonascii-bearer", [(b"Authorization", "Bearer t\u00f6ken".encode())], {401}),
    ("invalid-utf8-bearer", [(b"Authorization", b"Bearer \xff\xfe")], {401}),
    ("empty-authorization", [(b"Authorization", b"")], {401}),
    ("bare-bearer", [(b"Authorization", b"Bearer")], {401}),
    ("two-keys-wrong-first", [(b"X-API-Key", b"wrong"), (b"X-API-Key", b"hostile-key")], {200, 401, 403}),
    ("no-credentials", [], {401}),
]


@pytest.mark.parametrize("case_id, headers, expected", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("method, path", [("POST", "/run"), ("GET", "/jobs"), ("GET", "/images")])
def test_auth_edge_cases_never_5xx(service, record, tools, case_id, headers, expected, method, path):
    raw = request(method, path, headers, BODY if method == "POST" else b"")
    t0 = time.monotonic()
    status, head, body = tools.raw_http(service.port, raw)
    seconds = time.monotonic() - t0
    if path == "/run":
        record(f"auth {case_id}", {"status": status, "body": body[:200].decode(errors="replace")}, seconds)
    assert status != 0, "no HTTP answer (connection dropped)"
    assert status < 500, (status, body[:300])
    assert status in expected, (status, body[:300])
    if status == 401:
        assert b"www-authenticate: bearer" in head.lower(), head
        assert json.loads(body)["detail"] == "Not authenticated. Provide X-API-Key header or Authorization Bearer token."
    if status == 403:
        assert json.loads(body)["detail"] == "Invalid API Key"


def test_right_key_wins_over_garbage_bearer(service, record, tools):
    raw = request("POST", "/run", [(b"X-API-Key", b"hostile-key"), (b"Authorization", b"Bearer \xff garbage")], BODY)
    t0 = time.monotonic()
    status, head, body = tools.raw_http(service.port, raw, timeout=60)
    record("right key + non-ASCII garbage bearer", {"status": status, "body": body[:120].decode(errors="replace")},
           time.monotonic() - t0)
    assert status == 200, body[:300]
    assert json.loads(body)["stdout"] == "auth\n"
