"""Checks HTTP responses against the service's OpenAPI 3.1 document.

`ContractChecker(document).check(method, url, status, headers, body)` returns the list of ways a
response breaks the document (empty when it conforms):
- the path and method must be an operation of the document, else the answer must be the
  contract's 404 `Not Found` (unknown path) or 405 `Method Not Allowed` (known path);
- the status code must be documented for the operation;
- the media type must be one the response documents, and a JSON body must match its schema
  (JSON Schema 2020-12, `date-time` checked);
- documented required response headers must be present.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:code-runner:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None and "T" in value


class ContractChecker:
    def __init__(self, document: dict):
        self.document = document
        self.registry = Registry().with_resource(
            DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012))
        self.templates = [(path, [s for s in path.split("/") if s]) for path in document.get("paths", {})]
        self._validators: dict[str, Draft202012Validator] = {}

    # ---------------------------------------------------------------- lookup
    def _resolve(self, node: dict) -> dict:
        """Follows a local `$ref` (responses, headers, parameters)."""
        while isinstance(node, dict) and "$ref" in node:
            node = self._pointer(node["$ref"].removeprefix("#"))
        return node

    def _pointer(self, pointer: str):
        node = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def match(self, path: str) -> list[str]:
        """Templates matching `path`, most literal segments first."""
        segments = [s for s in path.split("/") if s]
        found = []
        for template, parts in self.templates:
            if len(parts) == len(segments) and all(p.startswith("{") or p == s for p, s in zip(parts, segments)):
                found.append((sum(not p.startswith("{") for p in parts), template))
        return [template for _, template in sorted(found, reverse=True)]

    def validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            escaped = urllib.parse.quote(pointer, safe="/~")
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{DOCUMENT_URI}#{escaped}"}, registry=self.registry, format_checker=FORMATS)
        return self._validators[pointer]

    # ---------------------------------------------------------------- checking
    def check(self, method: str, url: str, status: int, headers, body: bytes) -> list[str]:
        method = method.lower()
        path = urllib.parse.urlsplit(url).path or "/"
        where = f"{method.upper()} {path} -> {status}"
        templates = self.match(path)
        operation_template = next((t for t in templates if method in self.document["paths"][t]), None)
        if operation_template is None:
            expected = (405, "Method Not Allowed") if templates else (404, "Not Found")
            problems = []
            if status != expected[0]:
                problems.append(f"{where}: not an operation of the document, expected {expected[0]}")
            elif method != "head":
                problems += self._check_json(where, body, "/components/schemas/Error", headers)
            return problems

        escaped_template = operation_template.replace("~", "~0").replace("/", "~1")
        responses = self.document["paths"][operation_template][method].get("responses", {})
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX" if f"{str(status)[0]}XX" in responses else "default"
        if key not in responses:
            return [f"{where}: status {status} not documented for {method.upper()} {operation_template} (documented: {', '.join(responses)})"]
        response = responses[key]
        pointer = f"/paths/{escaped_template}/{method}/responses/{key}"
        if "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = self._resolve(response)

        problems = []
        for name, header in (response.get("headers") or {}).items():
            header = self._resolve(header)
            if header.get("required") and name not in headers:
                problems.append(f"{where}: required header {name} missing")
        content = response.get("content") or {}
        if not content or method == "head":
            return problems
        media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media not in content:
            return problems + [f"{where}: Content-Type {media!r} not documented ({', '.join(content)})"]
        schema_pointer = f"{pointer}/content/{media.replace('/', '~1')}/schema"
        if media == "application/json":
            problems += self._check_json(where, body, schema_pointer, headers)
        elif "schema" in content[media]:
            text = body.decode("utf-8", errors="strict") if body is not None else ""
            problems += [f"{where}: {e.message}" for e in self.validator(schema_pointer).iter_errors(text)]
        return problems

    def _check_json(self, where: str, body: bytes, schema_pointer: str, headers) -> list[str]:
        media = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            return [f"{where}: Content-Type {media!r}, expected application/json"]
        try:
            value = json.loads(body)
        except ValueError as error:
            return [f"{where}: body is not JSON ({error})"]
        return [
            f"{where}: {'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message[:300]}"
            for e in self.validator(schema_pointer).iter_errors(value)
        ]
