"""Direct tests of `GET /openapi.json` against a running service (`CODE_RUNNER_URL`, API key in
`OPENAPI_API_KEY`): the document is valid OpenAPI 3.1, names every route the service serves,
and the checker really rejects answers that break it. The error answers probed here are
validated by `openapi_check_plugin` like every other response."""

from __future__ import annotations

import os

import pytest
import requests
from openapi_spec_validator import validate

from openapi_contract import ContractChecker

BASE = os.environ.get("CODE_RUNNER_URL", "http://127.0.0.1:8000").rstrip("/")
KEY = os.environ.get("OPENAPI_API_KEY", "test-key-1")
ROUTES = {
    ("get", "/"), ("get", "/health"), ("get", "/openapi.json"), ("get", "/images"), ("get", "/runtimes"),
    ("post", "/run"), ("post", "/jobs"), ("get", "/jobs"), ("get", "/jobs/{id}"), ("delete", "/jobs/{id}"),
    ("post", "/prebuild"), ("get", "/prebuilds"), ("get", "/prebuilds/{tag}"), ("delete", "/prebuilds/{tag}"),
    ("post", "/prebuilds/cleanup"), ("get", "/metrics"), ("get", "/jobs/{id}/files/{path}"), ("get", "/jobs/{id}/events"),
}
OPEN = {("get", "/"), ("get", "/health"), ("get", "/openapi.json")}


@pytest.fixture(scope="module")
def document() -> dict:
    answer = requests.get(BASE + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    if os.environ.get("OPENAPI_DOCUMENT_URL"):  # a draft document under test, served elsewhere
        return requests.get(os.environ["OPENAPI_DOCUMENT_URL"], timeout=10).json()
    return answer.json()


@pytest.fixture(scope="module")
def checker(document) -> ContractChecker:
    return ContractChecker(document)


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_document_names_every_route_and_its_security(document):
    operations = {(method, path) for path, item in document["paths"].items() for method in item if method != "parameters"}
    assert operations == ROUTES
    for method, path in ROUTES:
        security = document["paths"][path][method].get("security", document["security"])
        assert (security == []) == ((method, path) in OPEN), f"{method} {path}"


def test_every_operation_documents_its_errors(document):
    for method, path in ROUTES - OPEN:
        responses = document["paths"][path][method]["responses"]
        assert {"401", "403", "500", "503"} <= set(responses), f"{method} {path}"


@pytest.mark.parametrize("method, path, headers, body, status", [
    ("get", "/no-such-route", {}, None, 404),
    ("put", "/jobs", {}, None, 405),
    ("get", "/images", {}, None, 401),
    ("get", "/images", {"X-API-Key": "wrong"}, None, 403),
    ("post", "/run", {"X-API-Key": KEY, "Content-Type": "application/json"}, b"{not json", 422),
    ("post", "/run", {"X-API-Key": KEY}, b'{"code": "", "timeout": "x"}', 422),
    ("get", "/jobs?limit=0&status=nope", {"X-API-Key": KEY}, None, 422),
    ("get", "/jobs/unknown?wait=abc", {"X-API-Key": KEY}, None, 422),
    ("delete", "/jobs/unknown", {"X-API-Key": KEY}, None, 404),
    ("get", "/prebuilds/unknown", {"X-API-Key": KEY}, None, 404),
    ("post", "/prebuilds/cleanup?max_age_days=-1", {"X-API-Key": KEY}, None, 422),
    ("post", "/prebuild", {"X-API-Key": KEY}, b'{"tag": "Bad Tag!"}', 422),
    ("get", "/metrics", {"X-API-Key": KEY}, None, 200),
])
def test_error_answers_conform(checker, method, path, headers, body, status):
    answer = requests.request(method, BASE + path, headers=headers, data=body, timeout=30)
    assert answer.status_code == status, answer.text
    assert checker.check(method, BASE + path, answer.status_code, answer.headers, answer.content) == []


def test_checker_rejects_broken_answers(checker):
    json_headers = {"Content-Type": "application/json"}
    # a missing required field, a wrong type, an undocumented status, an unknown path, a wrong media type
    assert checker.check("get", BASE + "/health", 200, json_headers, b'{"status": "ok"}')
    assert checker.check("get", BASE + "/jobs/x", 200, json_headers,
                         b'{"job_id": 1, "kind": "run", "status": "done", "created_at": "now", "started_at": null,'
                         b' "finished_at": null, "attempts": 0, "error": null, "result": null}')
    assert checker.check("delete", BASE + "/jobs/x", 418, json_headers, b'{"detail": "teapot"}')
    assert checker.check("get", BASE + "/nowhere", 200, json_headers, b'{}')
    assert checker.check("get", BASE + "/metrics", 200, json_headers, b'{}')
    assert checker.check("post", BASE + "/jobs", 202, json_headers, b'{"job_id": "a", "status": "queued"}')  # no Location
    assert checker.check("post", BASE + "/run", 422, json_headers, b'{"detail": "a string"}')
