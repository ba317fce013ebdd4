"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(tmp_path: Path, **env: str) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "serving-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'taskdeck.sqlite3'}",
        "SANDBOX_DB_PATH": str(tmp_path / "sandbox.sqlite3"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_ACCESS_LOG": "",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        # Signing in is not what these tests are about; the pages they ask for need nobody.
        "TASKDECK_SSO_DISABLED": "1",
        **env,
    }
    for name in ("DJANGO_BEHIND_TLS_PROXY", "TASKDECK_FORWARDED_ALLOW_IPS", "FORWARDED_ALLOW_IPS"):
        if name not in env:
            environment.pop(name, None)
    # Every page looks its person up in the database, as `make serve` migrates first.
    (tmp_path / "metrics").mkdir(exist_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "gunicorn exited at start-up"
            try:
                requests.get(f"{url}/livez", timeout=5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn never answered"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
