"""``make loadtest``: many supervisors on several instances, one TaskRouter budget, measured.

100 simulated supervisors (Locust, headless) each open one of 10 distinct task-table views
(the full page) and refresh it every 10 s (the live refresh, as htmx asks for it; the
full page again every sixth time, as a reload) for 2 minutes, against 2 Taskdeck
instances (gunicorn, gunicorn.conf.py) sharing one PostgreSQL database and one Redis,
behind a stand-in SSO proxy (each supervisor signed in as themselves), with the sandbox
enforcing TaskRouter's rate limits over loopback. Then the same with one instance killed
halfway: the simulated load balancer sends its supervisors to the other one, as a real
one would.

Figures are counted where they happen: TaskRouter requests and 429s at the sandbox,
errors and latency at the supervisors. Everything runs on 127.0.0.1; the PostgreSQL
database is created for the run and dropped after it.

    python -m bench.loadtest [--users 100] [--seconds 120] [--kill-halfway | --both]
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import requests

from tasks_app.sandbox import Credentials, SandboxApp, SandboxServer, SandboxStore, ensure_seeded
from tasks_app.sandbox.ratelimit import RateLimiter

ROOT = Path(__file__).resolve().parent.parent
# An empty value is the default, as for every setting.
POSTGRES = os.environ.get("LOADTEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/test"
# A database of its own on the shared Redis: a test run elsewhere flushing database 0
# would empty the shared reads mid-run and be counted as extra TaskRouter requests.
REDIS = os.environ.get("LOADTEST_REDIS_URL") or "redis://127.0.0.1:6379/11"
INTERVAL = 10  # seconds between one supervisor's refreshes

# Ten distinct views supervisors keep open: filters, sorts and sizes a contact centre uses.
VIEWS = (
    "/w/Support/tasks/?status=pending",
    "/w/Support/tasks/?status=reserved",
    "/w/Support/tasks/?status=assigned",
    "/w/Support/tasks/?status=pending,reserved&sort=-priority",
    "/w/Support/tasks/?queue=VIP%20Care",
    "/w/Support/tasks/?status=pending&sort=created&size=100",
    "/w/Support/tasks/?where=language%20%3D%3D%20%22es%22",
    "/w/Support/tasks/",
    "/w/Sales%20%26%20Renewals/tasks/?status=pending",
    "/w/Sales%20%26%20Renewals/tasks/?sort=-priority&size=25",
)

# The simulated supervisors. Each keeps one view and one instance (as a sticky load
# balancer would); when its instance refuses the connection, the request goes to the
# other one, recorded under its own name so it is not mistaken for a page served.
LOCUSTFILE = """
import itertools
import os

from locust import HttpUser, constant, task

VIEWS = os.environ["LOADTEST_VIEWS"].split("|")
HOSTS = os.environ["LOADTEST_HOSTS"].split("|")
RELOAD_EVERY = int(os.environ["LOADTEST_RELOAD_EVERY"])
_numbers = itertools.count()


class Supervisor(HttpUser):
    wait_time = constant(int(os.environ["LOADTEST_INTERVAL"]))
    host = HOSTS[0]

    def on_start(self):
        number = next(_numbers)
        self.view = VIEWS[number % len(VIEWS)]
        first = number % len(HOSTS)
        self.hosts = HOSTS[first:] + HOSTS[:first]
        # What the SSO proxy in front would send: who this supervisor is, and their group.
        self.identity = {
            "X-Forwarded-Email": f"supervisor-{number}@example.com",
            "X-Forwarded-Groups": "supervisors",
        }
        self.refreshes = 0
        self.get(full_page=True)  # the page as the browser first loads it

    @task
    def refresh(self):
        self.refreshes += 1
        self.get(full_page=self.refreshes % RELOAD_EVERY == 0)

    def get(self, *, full_page):
        live = {"HX-Request": "true", "HX-Target": "task-rows"}
        headers = self.identity if full_page else {**self.identity, **live}
        name = self.view + (" (full page)" if full_page else "")
        for attempt, host in enumerate(self.hosts):
            last = attempt == len(self.hosts) - 1
            with self.client.get(
                host + self.view, name=name, headers=headers, catch_response=True
            ) as response:
                if response.status_code == 0 and not last:
                    response.request_meta["name"] = "moved to the other instance"
                    response.success()
                    continue
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                elif full_page and b"<html" not in response.content:
                    response.failure("not the full page")
                return
"""
# Every RELOAD_EVERY-th refresh of a supervisor is a full page (a reload), the rest live.
RELOAD_EVERY = 6


@dataclass
class Upstream:
    """What the sandbox was asked: task lists by (path, query), with their times."""

    started: float = field(default_factory=time.monotonic)
    lists: dict[tuple, list[float]] = field(default_factory=lambda: defaultdict(list))
    other: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.started = time.monotonic()
            self.lists.clear()
            self.other.clear()

    def wrap(self, app):
        def counting(environ, start_response):
            path = environ["PATH_INFO"]
            query = tuple(sorted(parse_qsl(environ.get("QUERY_STRING", ""))))
            with self.lock:
                if environ["REQUEST_METHOD"] == "GET" and path.endswith("/Tasks"):
                    self.lists[(path, query)].append(time.monotonic() - self.started)
                else:
                    self.other[environ["REQUEST_METHOD"] + " " + path.rsplit("/", 1)[-1]] += 1
            return app(environ, start_response)

        return counting

    def most_per_interval(self) -> int:
        """The most task-list requests one view cost in any of the run's 10-s intervals."""
        worst = 0
        for times in self.lists.values():
            buckets = Counter(int(t // INTERVAL) for t in times)
            worst = max(worst, *buckets.values())
        return worst


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"taskdeck_loadtest_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def _sandbox(workdir: Path, upstream: Upstream) -> Iterator[tuple[str, Credentials, RateLimiter]]:
    store = SandboxStore(workdir / "sandbox.sqlite3")
    ensure_seeded(store, tasks=600)
    credentials = Credentials(
        account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16)
    )
    limiter = RateLimiter()  # TaskRouter's documented limits, as runsandbox --rate-limits
    app = SandboxApp(store, credentials=credentials, rate_limits=limiter)
    server = SandboxServer(upstream.wrap(app)).start()
    try:
        yield server.url, credentials, limiter
    finally:
        server.stop()
        store.close()


def _environment(database: str, sandbox_url: str, credentials: Credentials) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TASKROUTER_", "TWILIO_", "TASKDECK_", "GUNICORN_"))
        and k not in ("DATABASE_URL", "CACHE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": database,
        "CACHE_URL": REDIS,
        "TASKROUTER_BASE_URL": sandbox_url,
        "TWILIO_ACCOUNT_SID": credentials.account_sid,
        "TWILIO_AUTH_TOKEN": credentials.auth_token,
        # One read of a view serves everyone refreshing it within the interval.
        "TASKROUTER_SHARED_READ_SECONDS": str(INTERVAL),
        # The supervisors come through an SSO proxy on this machine (LOCUSTFILE's headers).
        "TASKDECK_SSO_TRUSTED_PROXIES": "127.0.0.1/32",
        "TASKDECK_ROLE_GROUPS": "editor=supervisors",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "8",
        "GUNICORN_ACCESS_LOG": "off",
        "LOG_LEVEL": "WARNING",
    }


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _gunicorn(env: dict[str, str], workdir: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"],
        cwd=ROOT,
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{name}"),
        },
        start_new_session=True,  # its own process group: killing it kills its workers
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"gunicorn-{name}.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"instance {name} did not start; see {workdir}/gunicorn-{name}.log")
        try:
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return process, url
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"instance {name} never became ready")
        time.sleep(0.2)


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)


def _locust(workdir: Path, hosts: list[str], users: int, seconds: int) -> subprocess.Popen:
    locustfile = workdir / "supervisors.py"
    locustfile.write_text(LOCUSTFILE)
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{seconds}s",
        "--csv", str(workdir / "run"), "--only-summary", "--stop-timeout", "15",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=workdir,
        env={
            **os.environ,
            "LOADTEST_VIEWS": "|".join(VIEWS),
            "LOADTEST_HOSTS": "|".join(hosts),
            "LOADTEST_INTERVAL": str(INTERVAL),
            "LOADTEST_RELOAD_EVERY": str(RELOAD_EVERY),
        },
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "locust.log").open("w"),
    )


def _latency(workdir: Path) -> dict[str, str]:
    with (workdir / "run_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    pages = [r for r in rows if r["Name"].removesuffix(" (full page)") in VIEWS]
    served = sum(int(r["Request Count"]) for r in pages)
    full = sum(int(r["Request Count"]) for r in pages if r["Name"].endswith("(full page)"))
    failed = sum(int(r["Failure Count"]) for r in pages)
    moved = sum(int(r["Request Count"]) for r in rows if r["Name"] == "moved to the other instance")
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {
        "requests": str(served),
        "full pages": str(full),
        "errors": str(failed),
        "moved": str(moved),
        "p50": total["50%"],
        "p95": total["95%"],
        "p99": total["99%"],
    }


def run(*, users: int, seconds: int, kill_halfway: bool) -> bool:
    title = "one instance killed halfway" if kill_halfway else "two instances"
    print(f"\n== {users} supervisors, {len(VIEWS)} views every {INTERVAL} s, {seconds} s, {title}")
    upstream = Upstream()
    with (
        tempfile.TemporaryDirectory(prefix="taskdeck-loadtest-") as tmp,
        _postgres_database() as database,
    ):
        workdir = Path(tmp)
        with _sandbox(workdir, upstream) as (sandbox_url, credentials, limiter):
            env = _environment(database, sandbox_url, credentials)
            _manage(env, "migrate", "--noinput")
            _manage(env, "collectstatic", "--noinput")
            instances = [_gunicorn(env, workdir, name) for name in ("a", "b")]
            try:
                upstream.reset()
                limiter.reset()
                locust = _locust(workdir, [url for _, url in instances], users, seconds)
                if kill_halfway:
                    time.sleep(seconds / 2)
                    _stop(instances[1][0], signal.SIGKILL)
                    print(f"   killed instance b (SIGKILL) after {seconds / 2:.0f} s")
                locust.wait(timeout=seconds + 120)
            finally:
                for process, _ in instances:
                    _stop(process)
            figures = _latency(workdir)
            refused = limiter.refused
    intervals = seconds / INTERVAL
    lists = sum(len(times) for times in upstream.lists.values())
    worst = upstream.most_per_interval()
    rows = [
        ("pages requested by supervisors", figures["requests"], "about"
         f" {users * (seconds // INTERVAL + 1)}"),
        ("of which full pages (the rest live refreshes)", figures["full pages"],
         f"about {users * (1 + seconds // INTERVAL // RELOAD_EVERY)}"),
        ("distinct views TaskRouter was asked for", str(len(upstream.lists)),
         str(min(users, len(VIEWS)))),
        ("TaskRouter task lists per view per 10 s, worst", str(worst), "<= 1"),
        ("TaskRouter task lists per view per 10 s, mean",
         f"{lists / max(1, len(upstream.lists)) / intervals:.2f}", "<= 1"),
        ("other TaskRouter calls (directory, cached)", str(sum(upstream.other.values())), "few"),
        ("answers 429 at the sandbox", str(refused), "0"),
        ("errors seen by supervisors", figures["errors"], "0"),
        ("requests moved to the other instance", figures["moved"], "any"),
        ("page latency p50 / p95 / p99 (ms)",
         f"{figures['p50']} / {figures['p95']} / {figures['p99']}", "reported"),
    ]  # fmt: skip
    width = max(len(name) for name, _, _ in rows)
    print(f"   {'figure':<{width}}  {'measured':>16}  target")
    for name, measured, target in rows:
        print(f"   {name:<{width}}  {measured:>16}  {target}")
    for (path, query), times in upstream.lists.items():
        if max(Counter(int(t // INTERVAL) for t in times).values()) > 1:
            when = ", ".join(f"{t:.2f}" for t in times)
            print(f"   over target: {path} {dict(query)} read at {when} s")
    return worst <= 1 and refused == 0 and figures["errors"] == "0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=120)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--kill-halfway", action="store_true", help="only the run with a kill")
    mode.add_argument("--both", action="store_true", help="both runs, one after the other")
    options = parser.parse_args(argv)
    runs = [False, True] if options.both else [options.kill_halfway]
    results = [
        run(users=options.users, seconds=options.seconds, kill_halfway=kill) for kill in runs
    ]
    print("\nAll targets met." if all(results) else "\nSome targets were missed (see above).")
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
