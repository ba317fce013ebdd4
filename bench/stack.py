"""The processes under test: sandboxes and dashboards on loopback, in a temporary directory.

`Stack` owns every subprocess and the temporary directory; leaving its ``with`` block (normally,
on an error or on Ctrl-C) ends the processes, first politely and then by force, and deletes
the directory. Nothing is written inside the repository.

Each server is its own process so that the sandbox and the dashboard never share a GIL: (b)
would otherwise pay for (a)'s CPU time twice.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxStore

REPO_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_AUTH = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)

# Configuration a developer's shell may carry that would change what is measured (a Redis
# cache, a longer timeout, another settings module...). The bench sets its own values.
_CONFIG_PREFIXES = ("DJANGO_", "TASKROUTER_", "TWILIO_", "SANDBOX_", "TASKDECK_", "GUNICORN_")
_CONFIG_NAMES = frozenset(
    {
        "DATABASE_URL",
        "DATABASE_CONN_MAX_AGE",
        "CACHE_URL",
        "REDIS_URL",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "PROMETHEUS_MULTIPROC_DIR",
        "WEB_CONCURRENCY",
    }
)

# How both the dashboard and the floor are served (worker class, workers, threads): one
# sync worker with one thread, one request at a time as the bench sends them, and no thread
# switching inside the worker.
SERVED_AS = ("sync", 1, 1)

_SANDBOX_URL = re.compile(r"TaskRouter sandbox on (http://\S+)")


class BenchError(RuntimeError):
    """The bench could not measure what it meant to (a server failed, a page was wrong)."""


@dataclass
class Sandbox:
    label: str
    seed_tasks: int
    db: Path
    log: Path
    process: subprocess.Popen[bytes]
    url: str = ""


@dataclass
class Dashboard:
    label: str
    sandbox: Sandbox
    log: Path
    process: subprocess.Popen[bytes]
    url: str


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it; a race is unlikely on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without any of Taskdeck's configuration variables."""
    return {
        key: value
        for key, value in environ.items()
        if not key.startswith(_CONFIG_PREFIXES) and key not in _CONFIG_NAMES
    }


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class Stack:
    """Temporary directory + subprocesses, all cleaned up on exit."""

    def __init__(self, *, cache_url: str = "") -> None:
        # The dashboards' cache: each worker's local memory (the default), or a shared one
        # (redis://...) as Taskdeck runs at scale.
        self.cache_url = cache_url
        self.dir = Path(tempfile.mkdtemp(prefix="taskdeck-bench-"))
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self.secret_key = secrets.token_urlsafe(50)

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- environment -----------------------------------------------------------------------

    def environ(self, *, taskrouter_url: str | None = None) -> dict[str, str]:
        """Production-like settings: DEBUG off, a real secret key, explicit hosts, SQLite in
        the temporary directory, the sandbox's development credentials, warnings-only logs
        (INFO would log every TaskRouter call, which a production deployment may or may not
        do; the issue asks for WARNING). No TLS on loopback, so no redirect or secure cookies.
        """
        env = clean_environ(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "TASKDECK_BENCH_STATIC_ROOT": str(self.dir / "staticfiles"),
                "DJANGO_DEBUG": "0",  # the Makefile exports DJANGO_DEBUG=1 for `make run`
                "DJANGO_SECRET_KEY": self.secret_key,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "DJANGO_SECURE_SSL_REDIRECT": "0",
                "DJANGO_SECURE_COOKIES": "0",
                # No SSO proxy in front of the bench: everyone is the development user.
                "TASKDECK_SSO_DISABLED": "1",
                "DATABASE_URL": f"sqlite:///{self.dir / 'taskdeck.sqlite3'}",
                "TWILIO_ACCOUNT_SID": DEVELOPMENT_CREDENTIALS.account_sid,
                "TWILIO_AUTH_TOKEN": DEVELOPMENT_CREDENTIALS.auth_token,
                "LOG_LEVEL": "WARNING",
                # Every (b) request must reach the sandbox: a shared read would answer the
                # bench's identical requests from the cache. The shared dashboard turns it on.
                "TASKROUTER_SHARED_READ_SECONDS": "0",
                "PYTHONUNBUFFERED": "1",  # logs reach the log files before a crash
            }
        )
        if taskrouter_url is not None:
            env["TASKROUTER_BASE_URL"] = taskrouter_url
        if self.cache_url:
            env["CACHE_URL"] = self.cache_url
        return env

    def spawn(
        self, label: str, argv: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        """Any other process of the stack (a worker), logging to ``<label>.log``."""
        return self._spawn(argv, log=self.dir / f"{label}.log", env=env)

    def _spawn(
        self, argv: Sequence[str], *, log: Path, env: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        out = log.open("ab")
        self._logs.append(out)
        process = subprocess.Popen(
            list(argv),
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self._processes.append(process)
        return process

    # --- the dashboard's own database and static files -------------------------------------

    def start_preparation(self) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
        """``migrate`` and ``collectstatic``, started together; `wait_preparation` joins them."""
        env = self.environ()
        jobs = []
        for name, argv in (
            ("migrate", ["migrate", "--noinput", "-v", "0"]),
            ("collectstatic", ["collectstatic", "--noinput", "-v", "0"]),
        ):
            log = self.dir / f"{name}.log"
            process = self._spawn([sys.executable, "manage.py", *argv], log=log, env=env)
            jobs.append((name, process, log))
        return jobs

    def wait_preparation(
        self, jobs: list[tuple[str, subprocess.Popen[bytes], Path]], timeout: float = 300
    ) -> None:
        deadline = time.monotonic() + timeout
        for name, process, log in jobs:
            try:
                code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise BenchError(f"manage.py {name} took too long:\n{log_tail(log)}") from None
            if code != 0:
                raise BenchError(f"manage.py {name} failed ({code}):\n{log_tail(log)}")

    # --- sandboxes -------------------------------------------------------------------------

    def start_sandbox(self, label: str, *, seed_tasks: int, static: bool = True) -> Sandbox:
        """Start ``runsandbox`` on a port the OS picks; it seeds its file first. Several can
        seed at once (each in its own process), so start them all before waiting.
        ``static=False``: TaskRouter's clock runs (events carry the real time)."""
        db = self.dir / f"sandbox-{label}.sqlite3"
        log = self.dir / f"sandbox-{label}.log"
        argv = [
            sys.executable,
            "manage.py",
            "runsandbox",
            "127.0.0.1:0",
            "--db",
            str(db),
            "--tasks",
            str(seed_tasks),
        ]
        if static:
            # Measured pages must not change between two reads: no seeded reservation
            # times out mid-run (TaskRouter's clock stopped).
            argv.append("--static")
        process = self._spawn(argv, log=log, env=self.environ())
        return Sandbox(label=label, seed_tasks=seed_tasks, db=db, log=log, process=process)

    def wait_sandbox(self, sandbox: Sandbox, timeout: float = 300) -> Sandbox:
        """Wait until the sandbox prints its URL (it is listening by then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _SANDBOX_URL.search(sandbox.log.read_text(errors="replace"))
            if found:
                sandbox.url = found.group(1)
                return sandbox
            if sandbox.process.poll() is not None:
                raise BenchError(
                    f"the {sandbox.label} sandbox exited ({sandbox.process.returncode}):\n"
                    f"{log_tail(sandbox.log)}"
                )
            time.sleep(0.05)
        raise BenchError(f"the {sandbox.label} sandbox did not start:\n{log_tail(sandbox.log)}")

    # --- dashboards ------------------------------------------------------------------------

    def _gunicorn(
        self, label: str, app: str, env: Mapping[str, str]
    ) -> tuple[Path, subprocess.Popen[bytes], str]:
        """gunicorn serving ``app`` with `SERVED_AS`: the dashboard and the floor alike."""
        config = self.dir / "gunicorn.conf.py"
        config.touch()  # so a gunicorn.conf.py in the working directory is not picked up
        port = free_port()
        log = self.dir / f"{label}.log"
        worker_class, workers, threads = SERVED_AS
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--config",
            str(config),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            worker_class,
            "--log-level",
            "warning",
        ]
        process = self._spawn(argv, log=log, env=env)
        return log, process, f"http://127.0.0.1:{port}"

    def start_dashboard(
        self, label: str, sandbox: Sandbox, *, shared_read_seconds: float = 0
    ) -> Dashboard:
        env = self.environ(taskrouter_url=sandbox.url)
        env["TASKROUTER_SHARED_READ_SECONDS"] = str(shared_read_seconds)
        log, process, url = self._gunicorn(f"dashboard-{label}", "dashboard.wsgi:application", env)
        return Dashboard(
            label=f"dashboard {label}", sandbox=sandbox, log=log, process=process, url=url
        )

    def start_floor(self, label: str, sandbox: Sandbox, workspace_sid: str) -> Dashboard:
        """The floor app (`bench.floor`) reading the same sandbox and workspace."""
        env = clean_environ(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.floor.settings",
                "FLOOR_TASKROUTER_URL": sandbox.url,
                "FLOOR_WORKSPACE_SID": workspace_sid,
                "FLOOR_ACCOUNT_SID": SANDBOX_AUTH[0],
                "FLOOR_AUTH_TOKEN": SANDBOX_AUTH[1],
                "FLOOR_SECRET": self.secret_key,
                "PYTHONUNBUFFERED": "1",
            }
        )
        log, process, url = self._gunicorn(f"floor-{label}", "bench.floor.wsgi:application", env)
        return Dashboard(label=f"floor {label}", sandbox=sandbox, log=log, process=process, url=url)

    def wait_dashboard(
        self, dashboard: Dashboard, timeout: float = 60, path: str = "/livez"
    ) -> Dashboard:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dashboard.process.poll() is not None:
                raise BenchError(
                    f"{dashboard.label} exited ({dashboard.process.returncode}):"
                    f"\n{log_tail(dashboard.log)}"
                )
            try:
                response = requests.get(dashboard.url + path, timeout=10)
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if response.status_code == 200:
                return dashboard
            raise BenchError(
                f"{dashboard.label} answered {path} with "
                f"{response.status_code}:\n{log_tail(dashboard.log)}"
            )
        raise BenchError(f"{dashboard.label} did not start:\n{log_tail(dashboard.log)}")

    # --- clean-up --------------------------------------------------------------------------

    def close(self) -> None:
        """End every process this stack started (SIGTERM, then SIGKILL), delete the directory.

        A second Ctrl-C while this runs is ignored: stopping half-way would leave servers
        behind, which is worse than waiting a few more seconds.
        """
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for process in self._processes:
                if process.poll() is None:
                    process.terminate()
            deadline = time.monotonic() + 10
            for process in self._processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self._processes.clear()
            for log in self._logs:
                log.close()
            self._logs.clear()
            shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous)


# --- facts about a sandbox ------------------------------------------------------------------


def workspace_sid(sandbox_url: str, friendly_name: str) -> str:
    """The SID of a workspace, asked of the sandbox like any API client would."""
    response = requests.get(
        f"{sandbox_url}/v1/Workspaces", params={"PageSize": 50}, auth=SANDBOX_AUTH, timeout=10
    )
    if response.status_code != 200:
        raise BenchError(f"GET /v1/Workspaces answered {response.status_code}: {response.text}")
    for workspace in response.json()["workspaces"]:
        if workspace["friendly_name"] == friendly_name:
            return workspace["sid"]
    raise BenchError(f"the sandbox has no workspace called {friendly_name!r}")


def count_tasks(db: Path, workspace: str) -> int:
    """How many tasks the workspace holds (TaskRouter's API gives no count, the file does)."""
    store = SandboxStore(db)
    try:
        return store.count_tasks(workspace)
    finally:
        store.close()
