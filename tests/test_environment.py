"""Settings from the environment: an empty value is the default, everywhere; .env.example
works as it stands; a TaskRouter Taskdeck could only answer 502 from stops start-up."""

from __future__ import annotations

import ast
import runpy
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import env
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tests.serving import ROOT, bare_environment, env_example

SETTINGS = ROOT / "dashboard" / "settings.py"


def load_settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> dict:
    """dashboard/settings.py run afresh with exactly ``values`` as Taskdeck's environment
    (the test run's own settings stay as they are)."""
    for name in env_example():
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_an_empty_variable_means_its_default(monkeypatch):
    for name in ("A_STR", "A_BOOL", "AN_INT", "A_FLOAT", "A_LIST"):
        monkeypatch.setenv(name, "  ")
    assert env.env_str("A_STR", "db") == "db"
    assert env.env_bool("A_BOOL", True) is True
    assert env.env_bool("A_BOOL", None) is None
    assert env.env_int("AN_INT", 7) == 7
    assert env.env_float("A_FLOAT", 2.5) == 2.5
    assert env.env_list("A_LIST", ["a", "b"]) == ["a", "b"]
    monkeypatch.setenv("A_LIST", " , ")
    assert env.env_list("A_LIST", ["a"]) == ["a"]
    monkeypatch.setenv("A_BOOL", "off")
    assert env.env_bool("A_BOOL", True) is False


def test_env_example_as_it_stands_gives_the_documented_defaults(monkeypatch, tmp_path):
    values = {**env_example(), "DJANGO_SECRET_KEY": "env-example-tests-only"}
    settings = load_settings(monkeypatch, **values)
    assert settings["TASKDECK_TASKS_BACKEND"] == "db"  # `TASKDECK_TASKS_BACKEND=` stopped it
    assert settings["TASKDECK_RATE_BUDGET"] is None  # on against Twilio, as documented
    assert settings["TASKROUTER_BASE_URL"] == settings["EMBEDDED_SANDBOX_URL"]
    assert settings["DATABASES"]["default"]["NAME"] == str(ROOT / "var" / "taskdeck.sqlite3")
    assert settings["SANDBOX_DB_PATH"] == ROOT / "var" / "sandbox.sqlite3"
    assert settings["ALLOWED_HOSTS"] == ["taskdeck.example.com"]
    assert settings["TASKDECK_TITLE_ATTRIBUTES"] == ["customer.name", "name", "from"]
    assert settings["LOGGING"]["handlers"]["console"]["formatter"] == "json"


def test_an_empty_rate_budget_keeps_the_fleet_budget_on_against_a_real_taskrouter(monkeypatch):
    settings = load_settings(
        monkeypatch,
        DJANGO_DEBUG="1",
        TASKDECK_RATE_BUDGET="",
        TASKROUTER_BASE_URL="https://taskrouter.twilio.com",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
    )
    assert settings["TASKDECK_RATE_BUDGET"] is None  # None: on, because this is not the sandbox


def test_env_example_reads_the_same_in_a_shell_as_with_docker_or_systemd():
    # `set -a; . ./.env` in a shell must not cut a value at a ';' or expand a '$'.
    shell = subprocess.run(
        ["bash", "-c", "set -a; . ./.env.example; set +a; env -0"],
        cwd=ROOT,
        env=bare_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = dict(item.partition("=")[::2] for item in shell.split("\0") if item)
    assert {name: loaded.get(name) for name in env_example()} == env_example()


def test_a_relative_sandbox_path_is_taken_from_the_repository(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(monkeypatch, DJANGO_DEBUG="1", SANDBOX_DB_PATH="var/other.sqlite3")
    assert settings["SANDBOX_DB_PATH"] == ROOT / "var" / "other.sqlite3"


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, "no TaskRouter credentials"),
        ({"TWILIO_ACCOUNT_SID": DEVELOPMENT_CREDENTIALS.account_sid}, "no TaskRouter credentials"),
        ({"TWILIO_API_KEY": "SK" + "1" * 32}, "must be set together"),
    ],
)
def test_an_external_taskrouter_without_credentials_stops_start_up_with_the_fix(
    monkeypatch, credentials, expected
):
    with pytest.raises(ImproperlyConfigured) as stopped:
        load_settings(
            monkeypatch,
            DJANGO_DEBUG="1",
            TASKROUTER_BASE_URL="http://127.0.0.1:8765",
            **credentials,
        )
    message = str(stopped.value)
    assert "\n" not in message
    assert "TASKROUTER_BASE_URL=http://127.0.0.1:8765: every page would answer 502" in message
    assert expected in message
    assert f"TWILIO_ACCOUNT_SID={DEVELOPMENT_CREDENTIALS.account_sid}" in message  # the fix


def test_an_external_taskrouter_with_credentials_starts(monkeypatch):
    settings = load_settings(
        monkeypatch,
        DJANGO_DEBUG="1",
        TASKROUTER_BASE_URL="http://127.0.0.1:8765/",
        TWILIO_ACCOUNT_SID=DEVELOPMENT_CREDENTIALS.account_sid,
        TWILIO_AUTH_TOKEN=DEVELOPMENT_CREDENTIALS.auth_token,
    )
    assert settings["TASKROUTER_BASE_URL"] == "http://127.0.0.1:8765"


def test_a_base_url_that_is_not_a_url_stops_start_up(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="must be an http"):
        load_settings(
            monkeypatch,
            DJANGO_DEBUG="1",
            TASKROUTER_BASE_URL="taskrouter.twilio.com",
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="token",
        )


def direct_environment_reads(path: Path) -> list[str]:
    """``os.environ.get(...)``, ``os.environ[...]`` read, ``os.getenv(...)`` in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            reads = ast.unparse(node.func) in ("os.environ.get", "os.getenv")
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            reads = ast.unparse(node.value) == "os.environ"
        else:
            continue
        if reads:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_taskdecks_code_reads_the_environment_only_through_dashboard_env():
    # So an empty value means the default everywhere. (bench/ reads the variables its own
    # parent process sets, and its two user-facing ones with `or`.)
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    code = [
        ROOT / name
        for name in tracked
        if not name.startswith(("tests/", "bench/")) and name != "dashboard/env.py"
    ]
    assert ROOT / "gunicorn.conf.py" in code
    assert [read for path in code for read in direct_environment_reads(path)] == []
