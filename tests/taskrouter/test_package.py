"""The package's lazy export table, its ``__all__`` (a literal, so linters and type checkers
read it) and its TYPE_CHECKING imports list the same names three times; this keeps them in
step, so a new service function cannot be exported in one place and missing in another."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys

from tasks_app import taskrouter


def _type_checking_imports() -> list[str]:
    tree = ast.parse(inspect.getsource(taskrouter))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    return [alias.name for node in block.body for alias in node.names]


def test_every_listed_name_is_exported_and_every_export_is_listed():
    assert sorted(taskrouter.__all__) == sorted(taskrouter._MODULE_OF)
    assert sorted(_type_checking_imports()) == sorted(taskrouter.__all__)
    for name in taskrouter.__all__:
        assert getattr(taskrouter, name).__name__ == name


def test_the_pure_modules_load_without_django_or_requests():
    """The sandbox imports rules and expressions from this package; it must not pull the
    service module (and with it Django settings and requests) in by doing so."""
    code = (
        "import sys; import tasks_app.taskrouter.rules, tasks_app.taskrouter.expressions; "
        "print(sorted(m for m in ('django.conf', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
