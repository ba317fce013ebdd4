"""xdist groups that hold: ``--dist loadgroup`` runs each group on one worker."""

from __future__ import annotations

import pytest


def keep_xdist_group(items: list[pytest.Item], group: str) -> None:
    """Work around pytest-dev/pytest-xdist#1386 (open; fix proposed in PR #1388): since
    pytest 9.2 a node id lives in ``item._id`` (a NodeId), and xdist 3.8.0 still writes
    the "@group" suffix to the old ``item._nodeid``, where nothing reads it: every
    xdist_group is silently ignored and the browser tests spread over every worker, one
    Chromium each. Only when the suffix did not take, set it where pytest reads it.
    Remove this once xdist writes the suffix itself (the check below then never fires)."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # pytest < 9.2: xdist's own suffix works
        return
    suffix = f"@{group}"
    for item in items:
        if not item.nodeid.endswith(suffix) and isinstance(getattr(item, "_id", None), NodeId):
            item._id = NodeId.parse(item.nodeid + suffix)
