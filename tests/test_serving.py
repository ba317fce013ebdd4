"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.serving import gunicorn


def serve(tmp_path: Path, **env: str) -> Iterator[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "serving-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'taskdeck.sqlite3'}",
        "SANDBOX_DB_PATH": str(tmp_path / "sandbox.sqlite3"),
        "GUNICORN_WORKERS": "1",
        # Signing in is not what these tests are about; the pages they ask for need nobody.
        "TASKDECK_SSO_DISABLED": "1",
        **env,
    }
    for name in ("DJANGO_BEHIND_TLS_PROXY", "TASKDECK_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS"):
        if name not in env:
            environment.pop(name, None)
    with gunicorn(tmp_path, environment) as url:
        yield url


def claims_https(url: str) -> requests.Response:
    """A request from loopback that says it came through a TLS proxy."""
    return requests.get(
        f"{url}/no-such-page/",
        headers={"X-Forwarded-Proto": "https"},
        allow_redirects=False,
        timeout=10,
    )


def test_without_a_tls_proxy_gunicorn_does_not_believe_x_forwarded_proto_from_loopback(
    tmp_path,
):
    for url in serve(tmp_path, DJANGO_SECURE_SSL_REDIRECT="1"):
        response = claims_https(url)
        # Plain HTTP, so production settings send the browser to HTTPS; had gunicorn
        # believed the header, the request would count as HTTPS and get its 404.
        assert response.status_code == 301
        assert response.headers["Location"].startswith("https://")


def test_behind_a_tls_proxy_the_forwarded_scheme_is_believed_from_the_proxy(tmp_path):
    for url in serve(
        tmp_path,
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_BEHIND_TLS_PROXY="1",
        TASKDECK_FORWARDED_ALLOW_IPS="127.0.0.1",
    ):
        assert claims_https(url).status_code == 404
