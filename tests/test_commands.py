"""The README's commands as a newcomer runs them: a setting that cannot work stops them
with one line, .env.example starts Taskdeck as it stands, and what `make run` and
`make serve` start answers as the README says (real processes, 127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_until
from tests.serving import (
    ROOT,
    bare_environment,
    deploy_check,
    env_example,
    free_port,
    gunicorn,
)

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "dashboard.wsgi"]
SECRET = {"DJANGO_SECRET_KEY": "commands-tests-only-" + "x" * 40}
NO_CREDENTIALS = {"DJANGO_DEBUG": "1", "TASKROUTER_BASE_URL": "http://127.0.0.1:8765"}


def own_files(tmp_path: Path) -> dict[str, str]:
    """What must be the test's own: its database and sandbox file."""
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'taskdeck.sqlite3'}",
        "SANDBOX_DB_PATH": str(tmp_path / "sandbox.sqlite3"),
        "SANDBOX_SEED_TASKS": "20",
    }


@pytest.mark.parametrize(
    ("command", "environment", "named"),
    [
        pytest.param(
            ["manage.py", "check"], env_example(), "DJANGO_SECRET_KEY", id="env.example-as-written"
        ),
        pytest.param(
            ["manage.py", "migrate"],
            {"DJANGO_DEBUG": "1", "TASKDECK_TASKS_BACKEND": "celery"},
            "TASKDECK_TASKS_BACKEND",
            id="manage.py",
        ),
        # make run's command, with its reloader: the 502 on every page, said at once.
        pytest.param(
            ["manage.py", "runserver", "127.0.0.1:{port}"],
            NO_CREDENTIALS,
            "every page would answer 502",
            id="runserver-taskrouter-without-credentials",
        ),
        pytest.param(GUNICORN, NO_CREDENTIALS, "TWILIO_AUTH_TOKEN", id="gunicorn-taskrouter"),
        pytest.param(
            GUNICORN,
            {"DJANGO_DEBUG": "0", **SECRET, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"},
            "TASKDECK_SSO_TRUSTED_PROXIES",
            id="gunicorn-no-sso-proxy",
        ),
        pytest.param(
            GUNICORN,
            {"DJANGO_DEBUG": "1", "GUNICORN_WORKERS": "two"},
            "GUNICORN_WORKERS",
            id="gunicorn-conf",
        ),
        pytest.param(
            GUNICORN,
            {"DJANGO_DEBUG": "1", "TASKDECK_ROLE_GROUPS": "boss=ops"},
            "TASKDECK_ROLE_GROUPS",
            id="gunicorn-middleware",
        ),
    ],
)
def test_a_setting_that_cannot_work_stops_start_up_with_one_line(
    tmp_path, command, environment, named
):
    port = free_port()
    if command[0] == "manage.py":
        command = [sys.executable, *command]
    env = bare_environment(
        environment,
        own_files(tmp_path),
        {"GUNICORN_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
    )
    result = subprocess.run(
        [part.format(port=port) for part in command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1
    assert len(output) == 1, output
    assert output[0].startswith("Taskdeck cannot start: ")
    assert named in output[0]


def test_taskdeck_starts_with_env_example_loaded(tmp_path):
    # Values as written; only the secret key (required, never shipped) and the test's own
    # files and port (gunicorn() picks the port) are added.
    env = bare_environment(env_example(), SECRET, own_files(tmp_path))
    check = deploy_check(env)
    assert check.returncode == 0, check.stdout + check.stderr
    with gunicorn(tmp_path, env) as url:
        livez = requests.get(f"{url}/livez", headers={"Host": "taskdeck.example.com"}, timeout=10)
        assert livez.status_code == 200


# --- make run and make serve ----------------------------------------------------------------
# make runs a venv of the test's own whose python and gunicorn only record what they were
# asked to run and with which environment; the test then starts the real command with that
# environment, bound to 127.0.0.1 where make was asked for another address.

# Handed to make only: the test's server binds 127.0.0.1.
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RECORD_TO"], "a") as out:
    out.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
"""


def make(directory: Path, target: str, *variables: str, **env: str) -> tuple[str, list[dict]]:
    """``make target variables`` in a newcomer's shell; its output and what it started."""
    venv = directory / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("python", "gunicorn"):
        (venv / "bin" / tool).write_text(RECORDER.format(python=sys.executable))
        (venv / "bin" / tool).chmod(0o755)
    stamp = venv / ".installed-run"
    stamp.touch()
    later = time.time() + 3600  # newer than the lock file: nothing to install
    os.utime(stamp, (later, later))
    record = directory / "started.jsonl"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            target,
            f"VENV={venv}",
            f"SECRET_KEY_FILE={directory / 'secret-key'}",
            *variables,
        ],
        cwd=ROOT,
        env=bare_environment({"RECORD_TO": str(record)}, own_files(directory), env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    started = [json.loads(line) for line in record.read_text().splitlines()]
    for process in started:
        process["env"].pop("RECORD_TO")
    return result.stdout, started


def started_with(started: list[dict], *argv: str) -> dict:
    return next(process for process in started if process["argv"][: len(argv)] == list(argv))


@contextmanager
def runserver(env: dict[str, str], port: int) -> Iterator[str]:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its reloader's child goes with it
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert server.poll() is None, "runserver exited"
        try:
            requests.get(f"{url}/livez", timeout=5)
        except requests.RequestException:
            return False
        return True

    try:
        wait_until(answers, timeout=60)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def status_for_host(url: str, host: str) -> int:
    # Not /livez: health probes answer whatever the Host (load balancers send IPs).
    return requests.get(f"{url}/metrics", headers={"Host": host}, timeout=10).status_code


@pytest.mark.parametrize(
    ("host", "answered", "refused"),
    [
        pytest.param(
            EVERY_ADDRESS, ["taskdeck-laptop.example", "192.0.2.10"], [], id="every-address"
        ),
        pytest.param("127.0.0.1", ["localhost", "127.0.0.1"], ["taskdeck-laptop.example"], id="lo"),
    ],
)
def test_make_run_answers_the_host_names_its_host_allows(tmp_path, host, answered, refused):
    port = free_port()
    # DJANGO_DEBUG= as a copied .env leaves it: empty is unset, so make run's default holds.
    output, started = make(tmp_path, "run", f"HOST={host}", f"PORT={port}", DJANGO_DEBUG="")
    assert ("answers any Host name" in output) == (host == EVERY_ADDRESS)
    server = started_with(started, "manage.py", "runserver")
    assert server["argv"] == ["manage.py", "runserver", f"{host}:{port}"]
    with runserver(server["env"], port) as url:
        assert [status_for_host(url, f"{name}:{port}") for name in answered + refused] == [
            200
        ] * len(answered) + [400] * len(refused)


def test_make_serve_starts_as_the_readme_says(tmp_path):
    # No SSO proxy in front of it: the development user is let in (to the first workspace),
    # and make serve says so as it starts.
    output, started = make(tmp_path / "alone", "serve")
    assert "make serve: no SSO proxy" in output
    web = started_with(started, "-c", "gunicorn.conf.py", "dashboard.wsgi")
    assert web["env"]["GUNICORN_BIND"] == "127.0.0.1:8000"  # gunicorn() binds a free port
    # The same gunicorn, configuration and environment as make serve's, after the same
    # collectstatic and migrate.
    with gunicorn(tmp_path / "alone", web["env"], collect_static=True) as url:
        assert requests.get(f"{url}/", allow_redirects=False, timeout=30).status_code == 302
    # With a proxy named, sign-in is the proxy's: a request without its headers is refused.
    output, started = make(tmp_path / "proxy", "serve", TASKDECK_SSO_TRUSTED_PROXIES="127.0.0.1/32")
    assert "no SSO proxy" not in output
    web = started_with(started, "-c", "gunicorn.conf.py", "dashboard.wsgi")
    with gunicorn(tmp_path / "proxy", web["env"]) as url:  # static files collected above
        assert requests.get(f"{url}/", allow_redirects=False, timeout=30).status_code == 403
