"""Views as code: the JSON that ``manage.py taskdeck_views export`` writes and ``import``
reads::

    {"views": [{"name": "VIP waiting", "workspace": "Support", "shared": true,
                "query": "status=pending&where=vip%20%3D%3D%20true",
                "alert": {"count_above": 3, "oldest_wait_above_seconds": 120,
                          "webhook": "https://hooks.example.com/services/T000/B000/XXX"}}]}

A personal view carries its ``"owner"`` too. Importing is idempotent: a view is known by
its workspace and name (and owner, for a personal one); one already as the file says is
left alone, one that differs is changed, a new one created, each change audited. Every
entry is checked before anything is written, so a file with one bad entry changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from tasks_app.identity import Identity
from tasks_app.taskrouter import service as taskrouter

from . import store
from .forms import SavedViewForm
from .models import SavedView


class ImportError_(ValueError):
    """The file cannot be imported; the message lists every problem, by entry."""


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"created {name}" for name in self.created]
        lines += [f"changed {name}" for name in self.changed]
        lines += [f"unchanged {name}" for name in self.unchanged]
        total = (
            f"{len(self.created)} created, {len(self.changed)} changed, "
            f"{len(self.unchanged)} unchanged"
        )
        return [*lines, total]


def export() -> dict:
    views = SavedView.objects.order_by("workspace_name", "workspace_sid", "owner", "name")
    return {"views": [view.as_dict() for view in views]}


def export_text() -> str:
    return json.dumps(export(), indent=2, ensure_ascii=False) + "\n"


def _entry_form(entry: Any, number: int) -> tuple[SavedViewForm | None, str, list[str]]:
    where = f"view {number}"
    if not isinstance(entry, dict):
        return None, "", [f"{where}: not an object"]
    name = entry.get("name")
    where = f"view {number} ({name!r})" if name else where
    problems = [
        f"{where}: unknown key {key!r}"
        for key in entry
        if key not in ("name", "workspace", "shared", "query", "alert", "owner")
    ]
    alert = entry.get("alert") or {}
    if not isinstance(alert, dict):
        return None, "", [*problems, f"{where}: alert must be an object"]
    problems += [
        f"{where}: unknown alert key {key!r}"
        for key in alert
        if key not in ("count_above", "oldest_wait_above_seconds", "webhook")
    ]
    try:
        workspace = taskrouter.resolve_workspace(str(entry.get("workspace") or ""))
    except taskrouter.NotFound:
        return None, "", [*problems, f"{where}: there is no workspace {entry.get('workspace')!r}"]
    data = {
        "name": name if isinstance(name, str) else "",
        "query": entry.get("query") or "",
        "shared": "on" if entry.get("shared") else "",
        "alert_count_above": _number(alert.get("count_above")),
        "alert_wait_above_seconds": _number(alert.get("oldest_wait_above_seconds")),
        "alert_webhook": alert.get("webhook") or "",
    }
    form = SavedViewForm(data, workspace=workspace)
    try:
        valid = form.is_valid()  # the filters name queues and workflows TaskRouter knows
    except taskrouter.TaskRouterError as error:
        return None, "", [*problems, f"{where}: cannot check it now: {error.user_message}"]
    if not valid:
        for field_name, errors in form.errors.items():
            problems += [f"{where}: {field_name}: {error}" for error in errors]
    return form, where, problems


def _number(value: Any) -> str:
    return "" if value is None else str(value)


def import_views(document: Any, *, actor: str) -> Report:
    """Apply the document (see the module's docstring); raises ImportError_ listing every
    problem, having changed nothing, when any entry is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("views"), list):
        raise ImportError_('The file must hold {"views": [ ... ]}.')
    identity = Identity(username=actor, role="admin", source="command")
    checked, problems, seen = [], [], set()
    for number, entry in enumerate(document["views"], start=1):
        form, where, found = _entry_form(entry, number)
        problems += found
        if form is None or found:
            continue
        owner = "" if form.cleaned_data["shared"] else (entry.get("owner") or actor)
        key = (form.workspace.sid, owner, form.cleaned_data["name"])
        if key in seen:
            problems.append(f"{where}: the file names this view twice")
        seen.add(key)
        checked.append((form, owner))
    if problems:
        raise ImportError_("\n".join(problems))
    report = Report()
    with transaction.atomic():
        for form, owner in checked:
            data = {**form.cleaned_data, "owner": owner}
            label = f"{form.cleaned_data['name']} ({form.workspace.friendly_name})"
            existing = SavedView.objects.filter(
                workspace_sid=form.workspace.sid, owner=owner, name=data["name"]
            ).first()
            if existing is None:
                store.create(
                    identity if not owner else Identity(owner, "admin", source="command"),
                    workspace_sid=form.workspace.sid,
                    workspace_name=form.workspace.friendly_name,
                    data=data,
                    actor=actor,
                )
                report.created.append(label)
                continue
            # A personal view is changed as its owner would (the trail names the importer).
            as_owner = identity if not owner else Identity(owner, "admin", source="command")
            changed = store.change(as_owner, existing, data, actor=actor)
            if changed:
                report.changed.append(f"{label}: {', '.join(changed)}")
            else:
                report.unchanged.append(label)
    return report
