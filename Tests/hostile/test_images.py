"""Only the six runtimes and this service's prebuilt tags run; nothing is ever pulled."""

import time

import pytest

# refused before anything runs: /health after each test, one normal run after the module
NORMAL_RUN_PER_MODULE = True

HOSTILE_IMAGES = [
    "evil.example.com/x",
    "prebuilt-evil.example.com/x",
    "PYTHON",
    "prebuilt-../x",
    "../python",
    "python:latest",
    "python@sha256:" + "0" * 64,
    "docker.io/library/busybox",
    "busybox",
    "alpine",
    "code-runner-base",
    "prebuilt-",
    " python",
    "pyth\u00f6n",
]


def image_inventory(tools) -> set[str]:
    return set(tools.docker("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").split("\n"))


@pytest.mark.parametrize("image", HOSTILE_IMAGES)
def test_hostile_image_names_are_refused_and_never_pulled(service, record, tools, image):
    before = image_inventory(tools)
    since = int(time.time()) - 1
    t0 = time.monotonic()
    r = service.post("/run", {"code": "print('pwned')", "image": image}, timeout=60)
    seconds = time.monotonic() - t0
    record(f"image {image!r}", r, seconds)
    assert r.status_code in (404, 422), (r.status_code, r.text)
    assert "pwned" not in r.text
    if r.status_code == 422:
        assert any("image" in [str(p) for p in issue.get("loc", [])] for issue in r.json()["detail"]), r.text
    # the engine never pulled: no pull event since the request, no new image
    until = int(time.time()) + 1
    events = tools.docker("events", "--since", str(since), "--until", str(until),
                          "--filter", "type=image", "--filter", "event=pull", "--format", "{{json .}}")
    assert events.strip() == "", f"the engine pulled: {events}"
    assert image_inventory(tools) - before == set()


def test_prebuilt_tag_that_does_not_exist_is_404(service, record, tools):
    r = service.post("/run", {"code": "print(1)", "image": "prebuilt-nonexistent-hostile"})
    record("unknown prebuilt tag", r, None)
    assert r.status_code == 404, r.text
    assert r.json()["detail"].startswith("Image 'prebuilt-nonexistent-hostile' not found."), r.text
