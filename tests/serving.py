"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it,
for the tests that need real processes (127.0.0.1 only)."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def env_example() -> dict[str, str]:
    """.env.example as `docker run --env-file` and systemd read it: NAME=value, literally."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def bare_environment(*layers: dict[str, str]) -> dict[str, str]:
    """A newcomer's shell: none of the test run's settings, only PATH and HOME, then each
    of ``layers`` over the ones before."""
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    for layer in layers:
        environment.update(layer)
    return environment


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """``manage.py check --deploy``, warnings counted as failures, in ``env``."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(tmp_path: Path, env: dict[str, str], *, collect_static: bool = False) -> Iterator[str]:
    """Migrate (and collect static files when pages are served with production storage),
    start gunicorn on a free loopback port, wait for /livez, yield its URL, stop it."""
    port = free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir(exist_ok=True)
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "off",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    commands = [["migrate", "--noinput"]] + (
        [["collectstatic", "--noinput"]] if collect_static else []
    )
    for command in commands:
        # collectstatic writes the repository's one STATIC_ROOT: one process at a time.
        with _exclusive(Path(tempfile.gettempdir()) / "taskdeck-tests-collectstatic.lock"):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
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
