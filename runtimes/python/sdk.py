"""Code Runner SDK for Python: `from sdk import set_metadata, get_metadata`.

set_metadata(data)      store any JSON-serialisable value as the run's metadata (each call
                        replaces the previous value); the service returns it as `metadata`.
get_metadata()          the value stored last, or None when nothing was set.
load_file(path)         read a file from the flow's WebDAV store (QM_WEBDAV_URL).
save_file(path, data)   write a file to the flow's WebDAV store (QM_WEBDAV_URL).
"""

import json
import os
import tempfile
import urllib.error
import urllib.request

__all__ = ["set_metadata", "get_metadata", "load_file", "save_file"]

METADATA_DIR = "/metadata"
METADATA_FILE = os.path.join(METADATA_DIR, ".quartermaster_metadata.json")


def set_metadata(data):
    """Set structured result metadata to be returned to the backend. Accepts any JSON-serializable data."""
    text = json.dumps(data)
    fd, tmp = tempfile.mkstemp(dir=METADATA_DIR, prefix=".metadata-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, METADATA_FILE)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def get_metadata():
    """Get previously set metadata. Returns None if not set."""
    try:
        with open(METADATA_FILE, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    if not text.strip():
        return None
    return json.loads(text)


def _webdav_url(path, what):
    base = os.environ.get("QM_WEBDAV_URL")
    if not base:
        raise RuntimeError(
            f"{what}() is only available during flow execution. "
            "For test runs, use mounted environments instead."
        )
    return base.rstrip("/") + "/" + path.lstrip("/")


def load_file(path):
    """Load a text file from the flow's file store."""
    url = _webdav_url(path, "load_file")
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise FileNotFoundError(f"File not found: {path}") from None
        raise RuntimeError(f"Failed to load file: {e}") from None
    except (urllib.error.URLError, OSError) as e:
        raise RuntimeError(f"Failed to load file: {e}") from None


def save_file(path, content):
    """Save a file (str or bytes) to the flow's file store."""
    url = _webdav_url(path, "save_file")
    body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except (urllib.error.URLError, OSError) as e:
        raise RuntimeError(f"Failed to save file: {e}") from None
