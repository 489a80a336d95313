"""Fixtures for the operations suite (metrics names, JSON logs) against a running service
started by scripts/run-ops-tests.sh (SERVICE_URL, SERVICE_LOG, OPS_API_KEY)."""
import os

import pytest
import requests


@pytest.fixture(scope="session")
def url():
    return os.environ["SERVICE_URL"]


@pytest.fixture(scope="session")
def session():
    s = requests.Session()
    s.headers["X-API-Key"] = os.environ["OPS_API_KEY"]
    return s


@pytest.fixture(scope="session")
def service_log():
    return os.environ["SERVICE_LOG"]
