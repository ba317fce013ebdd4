"""The README's tree of the repository is the repository: every directory it expands lists
exactly the files and directories git tracks there (``__init__.py`` aside)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_tree() -> dict[str, set[str]]:
    """Each expanded directory ("" is the root) and the entries the README lists in it.

    A line is an indent of two spaces per level, then names separated by single spaces
    (a trailing ``/`` marks a directory), then optionally two or more spaces and prose."""
    readme = (REPO / "README.md").read_text()
    development = readme[readme.index("## Development") :]
    block = re.search(r"```\n(.*?)```", development, re.S).group(1)
    listed: dict[str, set[str]] = {"": set()}
    parents = [""]  # the directory at each depth
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip(" "))) // 2
        names = re.split(r" {2,}", line.strip())[0].split(" ")
        del parents[depth + 1 :]
        parent = parents[depth]
        listed.setdefault(parent, set()).update(names)
        if names[-1].endswith("/"):
            parents.append(parent + names[-1])
    return listed


def tracked(directory: str) -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "--", directory or "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    entries = set()
    for path in files:
        rest = path[len(directory) :].split("/")
        entries.add(rest[0] + "/" if len(rest) > 1 else rest[0])
    return entries - {"__init__.py"}


def test_the_readme_tree_reads_as_a_tree():
    tree = readme_tree()
    assert {"", "dashboard/", "tasks_app/", "tasks_app/taskrouter/"} <= set(tree)


def test_every_directory_the_readme_expands_lists_what_git_tracks_there():
    for directory, listed in readme_tree().items():
        if not listed:
            continue
        actual = tracked(directory)
        assert listed == actual, (
            f"README's tree of {directory or 'the repository'}: "
            f"missing {sorted(actual - listed)}, not in git {sorted(listed - actual)}"
        )
