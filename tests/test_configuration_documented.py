"""Every environment variable Taskdeck reads (its settings, gunicorn.conf.py, anything else
through dashboard/env.py) is documented where an operator looks: the README's Configuration
table and .env.example; and nothing documented is read by nothing."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list"}


def tracked_code() -> list[Path]:
    """The tracked Python outside tests."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO / name for name in tracked if not name.startswith("tests/")]


def variables_read() -> set[str]:
    """The first argument of every env_* call (dashboard/env.py's readers), from the source."""
    names = set()
    for path in tracked_code():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in READERS
            ):
                first = node.args[0]
                assert isinstance(first, ast.Constant), f"{path.name}:{node.lineno} by name only"
                names.add(first.value)
    return names


def readme_configuration_table() -> set[str]:
    readme = (REPO / "README.md").read_text()
    start = readme.index("## Configuration")
    section = readme[start : readme.index("\n## ", start + 1)]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def env_example() -> set[str]:
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M))


def test_the_reader_finds_what_settings_and_gunicorn_conf_read():
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "TASKDECK_BULK_RATE"} <= variables_read()
    assert {
        "GUNICORN_BIND",
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
        "GUNICORN_TIMEOUT",
        "GUNICORN_ACCESS_LOG",
        "TASKDECK_FORWARDED_ALLOW_IPS",
        "PROMETHEUS_MULTIPROC_DIR",
    } <= variables_read()


def test_every_variable_taskdeck_reads_is_in_the_readmes_configuration_table():
    missing = variables_read() - readme_configuration_table()
    assert not missing, f"add to README.md's Configuration table: {sorted(missing)}"


def test_every_variable_taskdeck_reads_is_in_env_example():
    missing = variables_read() - env_example()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def strings_in_the_code() -> set[str]:
    """Every string constant in the tracked Python outside tests (other processes, such
    as gunicorn's configuration, may read variables of their own)."""
    strings = set()
    for path in tracked_code():
        tree = ast.parse(path.read_text(), filename=str(path))
        strings.update(
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is str
        )
    return strings


def test_nothing_documented_is_a_variable_nothing_reads():
    stale = (readme_configuration_table() | env_example()) - strings_in_the_code()
    assert not stale, f"documented but read nowhere: {sorted(stale)}"
