"""The body parser against Python's `json` module (issue 14): thousands of generated and mutated
bodies, each sent to POST /run, and the service's verdict (422 `json_invalid` or not) compared
with what Python's `json.loads` decides for the same bytes.

Python is the oracle because the original service parsed bodies with it. Where this service
deliberately refuses what Python accepts (Sources/Queue/JSONParser.swift documents each), the
oracle refuses too, and the test says which rule it applied:
- `NaN`, `Infinity`, `-Infinity` (no JSON encoding to store or send back);
- strings with a lone surrogate escape (`"\\ud800"`), which parsers disagree on, even in a member
  that a later duplicate key replaces;
- numbers beyond a double's range (`1e400`, a 400-digit integer), which Python keeps as inf or int;
- nesting deeper than 64 arrays and objects.
Everything else must match: trailing commas, comments, single quotes, leading zeros, control
characters, invalid UTF-8, a byte order mark, odd whitespace, trailing text, duplicate keys.

No generated body can run: a valid one never has a `code` key (checked before sending), so every
answer is a 422 and the whole run takes seconds. The generator is seeded (FUZZ_SEED, default 14)
so a failure is reproducible; FUZZ_CASES sets how many bodies (default 3000).
"""

import json
import math
import os
import random

import requests

from test_body_parsing import DEPTH_LIMIT, service_headers

SEED = int(os.environ.get("FUZZ_SEED", "14"))
CASES = int(os.environ.get("FUZZ_CASES", "3000"))

KEYS = ["timeout", "image", "files", "stdin", "a", "b", "é", "\u2028", "", "name", "content"]
STRINGS = ["", "x", "print(1)", "é", "\u00ff", "\U0001f600", "tab\there", "quote\"d", "back\\slash", "\u2028"]
NUMBERS = ["0", "-0", "1", "-1", "42", "1.5", "-2.25e3", "1E+2", "1e-400", "9223372036854775807",
           "9223372036854775808", "-9223372036854775809", "0.000001", "123456789012345678901234567890"]
ESCAPES = ["\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\u0041", "\\u00e9", "\\ud83d\\ude00"]
# what mutations insert: each one breaks JSON in some ways and is harmless in others
TOKENS = [b",", b"]", b"}", b"[", b"{", b":", b'"', b"\\", b"0", b"-", b".", b"e", b"+", b" ", b"\t",
          b"\n", b"\r", b"\x0b", b"\x0c", b"\x00", b"\x1f", b"\x7f", b"/", b"//c\n", b"/*c*/", b"'",
          b"NaN", b"Infinity", b"-Infinity", b"true", b"nul", b"null", b"\xff", b"\xc0\xaf",
          b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xef\xbb\xbf", b"\xe2\x80\xa8", b"\xc2\xa0",
          b"\\ud800", b"\\udc00", b"\\u12", b"\\x41", b"01", b"1e400", b"1.", b".5", b"\xc3"]


class ConstantRefused(ValueError):
    """`NaN`, `Infinity` or `-Infinity`, which Python's `json` accepts and this service does not."""


def refuse_constant(name: str):
    raise ConstantRefused(name)


def has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def documented_refusal(value, depth: int = 1) -> str | None:
    """The rule of this service's parser that refuses a value Python accepted, if any."""
    if isinstance(value, list) and depth > DEPTH_LIMIT:  # arrays and objects (Members)
        return "nesting deeper than 64"
    if isinstance(value, float) and not math.isfinite(value):
        return "number beyond a double"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1.7976931348623157e308:
        return "number beyond a double"
    if isinstance(value, str) and has_lone_surrogate(value):
        return "lone surrogate"
    if isinstance(value, Members):
        for key, item in value:
            if has_lone_surrogate(key):
                return "lone surrogate"
            if rule := documented_refusal(item, depth + 1):
                return rule
    elif isinstance(value, list):
        for item in value:
            if rule := documented_refusal(item, depth + 1):
                return rule
    return None


class Members(list):
    """An object's members as parsed, duplicates included: this service's parser refuses a lone
    surrogate or a huge number in a member that a later duplicate key replaces, too."""


def last_wins(value):
    """The value as Python's `json` makes it (the last of duplicate keys wins)."""
    if isinstance(value, Members):
        return {key: last_wins(item) for key, item in value}
    if isinstance(value, list):
        return [last_wins(item) for item in value]
    return value


def oracle(body: bytes) -> tuple[bool, str, object]:
    """(valid, why, value): Python's verdict on the bytes, with the documented refusals."""
    try:
        text = body.decode("utf-8")  # strict: overlong forms, encoded surrogates, > U+10FFFF refused
    except UnicodeDecodeError as error:
        return False, f"python: {error.reason}", None
    try:
        members = json.loads(text, parse_constant=refuse_constant, object_pairs_hook=Members)
    except ConstantRefused as error:
        return False, f"documented: {error} has no JSON encoding", None
    except (ValueError, RecursionError) as error:
        return False, f"python: {error}", None
    if rule := documented_refusal(members):
        return False, f"documented: {rule}", None
    return True, "python: valid", last_wins(members)


def random_string(rng: random.Random) -> str:
    parts = [json.dumps(rng.choice(STRINGS), ensure_ascii=rng.random() < 0.5)[1:-1]]
    if rng.random() < 0.4:
        parts.append(rng.choice(ESCAPES))
    return '"' + "".join(parts) + '"'


def random_value(rng: random.Random, depth: int) -> str:
    kind = rng.random()
    if depth >= 6 or kind < 0.35:
        return rng.choice([random_string(rng), rng.choice(NUMBERS), "true", "false", "null"])
    space = rng.choice(["", " ", "\n  ", "\t", "\r\n"])
    if kind < 0.65:
        items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        return "[" + space + ("," + space).join(items) + space + "]"
    members = []
    for _ in range(rng.randint(0, 4)):
        key = json.dumps(rng.choice(KEYS), ensure_ascii=rng.random() < 0.5) if rng.random() < 0.9 else random_string(rng)
        members.append(key + rng.choice([":", " : ", ":\n"]) + random_value(rng, depth + 1))
    if members and rng.random() < 0.15:
        members.append(members[0])  # a duplicate key: the last wins, as in Python
    return "{" + space + ("," + space).join(members) + space + "}"


def mutate(rng: random.Random, body: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(body))
        action = rng.random()
        if action < 0.5:
            body = body[:at] + rng.choice(TOKENS) + body[at:]
        elif action < 0.8 and body:
            body = body[:at] + body[at + 1:]
        elif body:
            body = body[:at] + rng.choice(TOKENS) + body[at + 1:]
    return body


def generated_bodies(rng: random.Random, count: int):
    special = [b"", b" ", b"{}", b"[]", b"{,}", b"[1,]", b'{"a":1,}', b"\xef\xbb\xbf{}", b"{} x", b"{}\n",
               b"\x0c{}", b"{\xc2\xa0}", b'"\\ud800"', b'"\\ud83d\\ude00"', b"[1e400]", b"[-1e400]", b"[1e-400]",
               b"[NaN]", b"[-Infinity]", b"[" * (DEPTH_LIMIT + 1) + b"]" * (DEPTH_LIMIT + 1),
               b"[" * DEPTH_LIMIT + b"]" * DEPTH_LIMIT, b"[" + b"9" * 400 + b"]", b'{"a": 01}', b'["\x1f"]',
               b'["\x7f"]', b'{"a":1}{"b":2}', b"[1 2]", b'{"a" 1}', b"tru", b"[.5]", b"[1.]", b"[-]",
               b"[+1]", b"[0x10]", b'["\\x41"]', b'["\\u12"]', b"'a'", b"{a:1}", b"/*c*/{}", b"{}//c"]
    yield from special
    for _ in range(count - len(special)):
        body = random_value(rng, 0).encode()
        yield mutate(rng, body) if rng.random() < 0.7 else body


def service_verdict(response) -> tuple[bool, str]:
    """(valid, why): the service refused the bytes as JSON, or decided on the fields."""
    assert response.status_code == 422, (response.status_code, response.text[:300])
    details = response.json()["detail"]
    if details and details[0]["type"] == "json_invalid":
        return False, details[0]["ctx"]["error"]
    return True, details[0]["type"] if details else "no detail"


def test_body_parser_agrees_with_python_json(service, record):
    rng = random.Random(SEED)
    disagreements, verdicts, skipped = [], {"valid": 0, "invalid": 0, "documented": 0}, 0
    with requests.Session() as session:
        session.headers.update(service_headers())
        for body in generated_bodies(rng, CASES):
            valid, why, value = oracle(body)
            if valid and isinstance(value, dict) and "code" in value:
                skipped += 1  # a run request: not what this test is about
                continue
            response = session.post(service.url + "/run", data=body, timeout=30)
            if body == b"":
                assert response.status_code == 422 and response.json()["detail"][0]["type"] == "missing", response.text
                continue
            served_valid, served_why = service_verdict(response)
            verdicts["documented" if why.startswith("documented") else "valid" if valid else "invalid"] += 1
            if served_valid != valid:
                disagreements.append(f"{body[:120]!r}: python {why!r}, service {served_why!r}")
    record(f"body fuzz ({CASES} bodies, seed {SEED})", None, None, **verdicts, skipped=skipped,
           disagreements=len(disagreements))
    assert verdicts["valid"] > 200 and verdicts["invalid"] > 200, verdicts  # the generator reaches both sides
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(disagreements[:40])
