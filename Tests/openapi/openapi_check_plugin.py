"""pytest plugin: validates every HTTP response a test suite receives against the service's
OpenAPI document, and fails the run if any breaks it.

Load it with `-p openapi_check_plugin` (its directory on PYTHONPATH). The document is fetched
once from `$OPENAPI_DOCUMENT_URL` (default `$CODE_RUNNER_URL/openapi.json`). Every response that
`requests` receives (any session, any instance the suite starts) is checked by
`openapi_contract.ContractChecker`; streamed responses are skipped. At the end the plugin
reports how many responses it checked and every violation; any violation makes the run fail.
`OPENAPI_CHECK_REPORT` names a file that receives the counts as JSON.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest
import requests.adapters

from openapi_contract import ContractChecker

_state = {"checker": None, "checked": 0, "skipped": 0, "violations": [], "statuses": {}}


def _load_document() -> dict:
    url = os.environ.get("OPENAPI_DOCUMENT_URL") or os.environ.get("CODE_RUNNER_URL", "http://127.0.0.1:8000").rstrip("/") + "/openapi.json"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as answer:
        return json.load(answer)


def _wrap_send(original):
    def send(self, request, stream=False, **kwargs):
        response = original(self, request, stream=stream, **kwargs)
        checker = _state["checker"]
        if checker is None or stream:
            _state["skipped"] += 1
            return response
        try:
            problems = checker.check(request.method, request.url, response.status_code, response.headers, response.content)
        except Exception as error:  # a checker failure must not pass silently
            problems = [f"{request.method} {request.url}: checker error {error!r}"]
        _state["checked"] += 1
        key = f"{request.method} {response.status_code}"
        _state["statuses"][key] = _state["statuses"].get(key, 0) + 1
        _state["violations"] += problems
        return response
    return send


def pytest_configure(config):
    _state["checker"] = ContractChecker(_load_document())
    adapter = requests.adapters.HTTPAdapter
    if not getattr(adapter.send, "_openapi_checked", False):
        adapter.send = _wrap_send(adapter.send)
        adapter.send._openapi_checked = True


def pytest_terminal_summary(terminalreporter):
    violations = _state["violations"]
    terminalreporter.section("OpenAPI contract")
    terminalreporter.write_line(
        f"{_state['checked']} responses validated against /openapi.json "
        f"({_state['skipped']} streamed responses skipped), {len(violations)} violations")
    for problem in violations[:50]:
        terminalreporter.write_line(f"  VIOLATION {problem}")
    if len(violations) > 50:
        terminalreporter.write_line(f"  ... and {len(violations) - 50} more")
    report = os.environ.get("OPENAPI_CHECK_REPORT")
    if report:
        with open(report, "w") as file:
            json.dump({"checked": _state["checked"], "violations": violations, "statuses": _state["statuses"]}, file, indent=1)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    if _state["violations"] and session.exitstatus == 0:
        session.exitstatus = 1
