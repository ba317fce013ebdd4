"""PostgreSQL and Redis for the tests that need them (127.0.0.1 only).

Locally a missing server skips those tests with one line saying so; with CI=true it fails
them, so a CI run cannot pass without having tested them."""

from __future__ import annotations

import os
import socket

import pytest

# Not database 0, which a developer's own Taskdeck (or another suite) may flush.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _missing(what: str) -> None:
    message = f"{what} is not reachable on 127.0.0.1"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}, and CI=true needs it", pytrace=False)
    pytest.skip(f"{message}; these tests need it")


def require_redis() -> str:
    if not _reachable(6379):
        _missing("Redis")
    return REDIS_URL


def require_postgres() -> str:
    if not _reachable(5432):
        _missing("PostgreSQL")
    return POSTGRES_URL
