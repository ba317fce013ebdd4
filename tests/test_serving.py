"""Taskdeck under gunicorn with the repository's gunicorn.conf.py, as `make serve` runs it;
and ten instances of it against PostgreSQL, within their connection pools."""

from __future__ import annotations

import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from tests.backends import require_postgres
from tests.serving import fleet, gunicorn


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


ROUNDS = 4  # per client, each a page that reads the audit trail and a readiness check


def test_a_fleet_of_ten_instances_holds_no_more_database_connections_than_its_pools(tmp_path):
    """README, "Connections": instances x GUNICORN_WORKERS x DATABASE_POOL_MAX, whatever
    the demand. Ten instances of gunicorn.conf.py's defaults (2 workers x 8 threads: 160
    threads) with pools of 2 may hold 40 connections; 60 clients hammer pages that use
    the database, and none of them may fail."""
    server = require_postgres()
    name = f"taskdeck_pool_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    instances, workers, pool = 10, 2, 2
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": "serving-tests-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": server.rsplit("/", 1)[0] + f"/{name}",
        "DATABASE_POOL_MAX": str(pool),
        # Eight threads share two connections: on a busy machine a page may wait its
        # turn longer than the default, and this test is about the bound, not the wait.
        "DATABASE_POOL_TIMEOUT": "60",
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
        "SANDBOX_DB_PATH": str(tmp_path / "sandbox.sqlite3"),
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": "8",
        "TASKDECK_SSO_DISABLED": "1",
        "LOG_LEVEL": "WARNING",
    }
    bound = instances * workers * pool
    peak, answers = 0, Counter()
    try:
        with fleet(tmp_path, environment, instances=instances, collect_static=True) as urls:
            stop = threading.Event()

            def connections_now() -> int:
                with psycopg.connect(server, autocommit=True) as conn:
                    return conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
                    ).fetchone()[0]

            def watch() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, connections_now())
                    stop.wait(0.02)

            def client(number: int) -> Counter:
                seen: Counter = Counter()
                with requests.Session() as session:
                    for round_ in range(ROUNDS):
                        url = urls[(number + round_) % instances]
                        for path in ("/readyz", "/audit/"):
                            seen[session.get(url + path, timeout=60).status_code] += 1
                return seen

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            with ThreadPoolExecutor(60) as pool_of_clients:
                for seen in pool_of_clients.map(client, range(60)):
                    answers += seen
            stop.set()
            watcher.join()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert answers == Counter({200: 60 * ROUNDS * 2})
    assert 0 < peak <= bound, f"{peak} connections at once; the pools allow {bound}"
