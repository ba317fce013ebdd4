"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it,
for the tests that need real processes (127.0.0.1 only): one instance, or a fleet of them
sharing one database."""

from __future__ import annotations

import fcntl
import os
import shutil
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
# The roles the production-like servers map groups to (as tests/settings.py does).
ROLES = "admin=taskdeck-admins;editor=taskdeck-editors;viewer=taskdeck-viewers"


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


def production_environment(folder: Path, sandbox_file: Path, **overrides: str) -> dict[str, str]:
    """Taskdeck's environment as deployed (production settings, DEBUG off, a trusted proxy
    on 127.0.0.1, roles from groups), with its database and a copy of the seeded sandbox
    in ``folder``; nothing of the shell's own Taskdeck settings leaks in."""
    shutil.copyfile(sandbox_file, folder / "sandbox.sqlite3")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "production-like-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{folder / 'taskdeck.sqlite3'}",
        "SANDBOX_DB_PATH": str(folder / "sandbox.sqlite3"),
        "TASKDECK_SSO_TRUSTED_PROXIES": "127.0.0.1/32",
        "TASKDECK_ROLE_GROUPS": ROLES,
    }
    for name in ("TASKDECK_SSO_DISABLED", "CACHE_URL", "REDIS_URL", "DJANGO_BEHIND_TLS_PROXY"):
        environment.pop(name, None)
    return {**environment, **overrides}


def manage(environment: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    """``manage.py command`` in a process of its own, its output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


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
    with fleet(tmp_path, env, instances=1, collect_static=collect_static, output=output) as urls:
        yield urls[0]


@contextmanager
def fleet(
    tmp_path: Path,
    env: dict[str, str],
    *,
    instances: int,
    collect_static: bool = False,
    output: tuple[Path, Path] | None = None,
) -> Iterator[list[str]]:
    """``instances`` gunicorn instances sharing one database (migrated once), each on a
    free loopback port with its own metrics directory; their URLs once all answer.
    ``output``: files for the first instance's stdout and stderr (the others' stderr goes
    to gunicorn-N.log in ``tmp_path``)."""
    env = {"GUNICORN_ACCESS_LOG": "off", **env}
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
    servers: list[subprocess.Popen] = []
    urls: list[str] = []
    streams = []
    try:
        for number in range(instances):
            port = free_port()
            metrics = tmp_path / f"metrics-{number}"
            metrics.mkdir(exist_ok=True)
            if output and number == 0:
                streams = [path.open("ab") for path in output]
                stdout, stderr = streams
            else:
                stdout = subprocess.DEVNULL
                stderr = (tmp_path / f"gunicorn-{number}.log").open("w")
                streams.append(stderr)
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
                    cwd=ROOT,
                    env={
                        **env,
                        "GUNICORN_BIND": f"127.0.0.1:{port}",
                        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
                    },
                    stdout=stdout,
                    stderr=stderr,
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
        for stream in streams:
            stream.close()
