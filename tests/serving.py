"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it,
for the tests that need real processes (127.0.0.1 only)."""

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
def gunicorn(
    tmp_path: Path,
    env: dict[str, str],
    *,
    collect_static: bool = False,
    output: tuple[Path, Path] | None = None,
) -> Iterator[str]:
    """Migrate (and collect static files when pages are served with production storage),
    start gunicorn on a free loopback port, wait for /livez, yield its URL, stop it.
    ``output``: files for its stdout and stderr (else discarded); the access log is off
    unless ``env`` sets GUNICORN_ACCESS_LOG."""
    port = free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir(exist_ok=True)
    env = {
        "GUNICORN_ACCESS_LOG": "",
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
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
    streams = [path.open("ab") for path in output] if output else []
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=streams[0] if streams else subprocess.DEVNULL,
        stderr=streams[1] if streams else subprocess.DEVNULL,
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
        for stream in streams:
            stream.close()
