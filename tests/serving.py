"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it,
for the tests that need real processes (127.0.0.1 only): one instance, or a fleet of them
sharing one database."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(tmp_path: Path, env: dict[str, str], *, collect_static: bool = False) -> Iterator[str]:
    """Migrate (and collect static files when pages are served with production storage),
    start gunicorn on a free loopback port, wait for /livez, yield its URL, stop it."""
    with fleet(tmp_path, env, instances=1, collect_static=collect_static) as urls:
        yield urls[0]


@contextmanager
def fleet(
    tmp_path: Path, env: dict[str, str], *, instances: int, collect_static: bool = False
) -> Iterator[list[str]]:
    """``instances`` gunicorn instances sharing one database (migrated once), each on a
    free loopback port with its own metrics directory; their URLs once all answer."""
    commands = [["migrate", "--noinput"]] + (
        [["collectstatic", "--noinput"]] if collect_static else []
    )
    for command in commands:
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    servers: list[subprocess.Popen] = []
    urls: list[str] = []
    try:
        for number in range(instances):
            port = free_port()
            metrics = tmp_path / f"metrics-{number}"
            metrics.mkdir(exist_ok=True)
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
                    cwd=ROOT,
                    env={
                        **env,
                        "GUNICORN_BIND": f"127.0.0.1:{port}",
                        "GUNICORN_ACCESS_LOG": "",
                        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"gunicorn-{number}.log").open("w"),
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60 + 10 * instances
        for server, url in zip(servers, urls, strict=True):
            while True:
                assert server.poll() is None, "gunicorn exited at start-up"
                try:
                    requests.get(f"{url}/livez", timeout=5)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "gunicorn never answered"
                    time.sleep(0.1)
        yield urls
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker still draining a slow client
                server.kill()
                server.wait(timeout=10)
