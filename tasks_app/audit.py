"""The audit trail: one `AuditRecord` per attempt to write to TaskRouter.

It listens at the service module's two signals, so no write can bypass it: edits, creates,
deletes and every item of a bulk job (whose writes run in worker threads: the actor comes
with each write's signal, never from the request or a thread-local).

- `task_write_started`: the intent is inserted before the request goes out (outcome
  "unknown"). If it cannot be recorded the signal raises and nothing is sent.
- `task_written`: the record is completed with the outcome, once. A crash in between
  leaves the intent, which is exactly what the trail should say: nobody knows.

Callers may pass ``seen`` (the fields as the person saw them) with the signal; the record
keeps it as "before" beside the data sent ("after"). The record's reason is the one sent
to TaskRouter, or else ``why`` (a priority change's reason, which TaskRouter does not take).

An intent whose process died before the outcome (a killed bulk worker) is completed later
by whoever finds out what happened (`settle`): once, like any other.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.db import DatabaseError
from django.db.models import QuerySet
from django.utils import timezone

from tasks_app import presentation, titles
from tasks_app.models import AuditRecord
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.signals import task_write_started, task_written
from tasks_app.timeline import story

logger = logging.getLogger(__name__)

Outcome = AuditRecord.Outcome
# The actions of writes to TaskRouter; any other action is a change to Taskdeck's settings.
TASK_WRITES = frozenset({"create", "update", "delete"})

# Cells a spreadsheet would run as a formula (or that hide one behind a tab or CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- Recording ----------------------------------------------------------------------------


def record_intent(
    sender: Any,
    *,
    write_id: str,
    actor: str,
    operation: str,
    workspace_sid: str,
    task_sid: str | None,
    data: dict[str, str],
    if_match: str | None,
    seen: dict[str, Any] | None = None,
    why: str | None = None,
    **extra: Any,
) -> None:
    AuditRecord.objects.create(
        write_id=write_id,
        actor=actor,
        workspace_sid=workspace_sid,
        task_sid=task_sid or "",
        action=operation,
        before=seen,
        after=dict(data),
        reason=data.get("Reason") or why or "",
        if_match=if_match or "",
    )


def classify(outcome: Any) -> dict[str, Any]:
    """The completion of a record, from what the service module's write ended with."""
    if outcome is None:
        return {
            "outcome": Outcome.UNKNOWN,
            "message": "Interrupted before TaskRouter's answer was known.",
        }
    if isinstance(outcome, taskrouter.TaskRouterError):
        fields = {
            "http_status": outcome.http_status,
            "error_code": outcome.code,
            "request_id": outcome.request_id or "",
            "message": outcome.user_message,
        }
        if isinstance(outcome, taskrouter.PreconditionFailed):
            return fields | {"outcome": Outcome.CONFLICT}
        if isinstance(outcome, taskrouter.Unavailable) and outcome.http_status is None:
            # The answer was lost (timeout, dropped connection): it may have landed.
            return fields | {"outcome": Outcome.UNKNOWN}
        status = outcome.http_status or 0
        if 400 <= status < 500 or isinstance(outcome, taskrouter.InvalidParameter):
            return fields | {"outcome": Outcome.REJECTED}
        return fields | {"outcome": Outcome.FAILED}
    body = getattr(outcome, "body", None)
    fields = {
        "outcome": Outcome.DONE,
        "http_status": getattr(outcome, "status", None),
        "request_id": getattr(outcome, "request_id", None) or "",
        # The version this write produced (a delete's answer has none).
        "version_after": (getattr(outcome, "etag", None) or "")[:64],
    }
    if isinstance(body, dict) and isinstance(body.get("sid"), str):
        # A create learns its task's SID here (an update's answer repeats the one it had).
        fields["task_sid"] = body["sid"][:34]
    return fields


def record_outcome(sender: Any, *, write_id: str, outcome: Any = None, **extra: Any) -> None:
    try:
        AuditRecord.objects.filter(write_id=write_id).complete(
            completed=timezone.now(), **classify(outcome)
        )
    except DatabaseError:
        # The write has happened (or not) whatever the trail says; the person must still
        # see TaskRouter's answer. The intent stays, with outcome unknown.
        logger.exception("could not complete audit record %s", write_id)


def record_change(
    *,
    actor: str,
    action: str,
    workspace_sid: str,
    summary: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    """A change to Taskdeck's own settings (a saved view, a service-level target), which
    never reaches TaskRouter: recorded complete, with what it was and what it became, in
    the same trail as the writes (admins read both in one place).

    ``action`` names the kind of change ("view", "target", ...; 16 characters at most),
    ``summary`` says it in words for the trail's Action column."""
    if not actor or not actor.strip():
        raise ValueError("A change to Taskdeck's settings needs the person making it.")
    now = timezone.now()
    return AuditRecord.objects.create(
        write_id=uuid.uuid4().hex,
        actor=actor,
        started=now,
        completed=now,
        workspace_sid=workspace_sid,
        task_sid="",
        action=action[:16],
        before=before,
        after=after or {},
        outcome=Outcome.DONE,
        message=summary,
    )


def settle(write_id: str, *, outcome: str, message: str, version_after: str = "") -> bool:
    """Give an intent left open by a process that died mid-write the outcome found since
    (a bulk job taken over re-reads the task and judges; ``version_after``: the version
    it found the write produced); False when it had one already."""
    return bool(
        AuditRecord.objects.filter(write_id=write_id).complete(
            completed=timezone.now(),
            outcome=outcome,
            message=message,
            version_after=(version_after or "")[:64],
        )
    )


def connect() -> None:
    """Called once from the app's ready(): the trail hears every write from then on."""
    task_write_started.connect(record_intent, dispatch_uid="taskdeck-audit-intent")
    task_written.connect(record_outcome, dispatch_uid="taskdeck-audit-outcome")


# --- Reading ------------------------------------------------------------------------------


def history_of(task_sid: str) -> QuerySet[AuditRecord]:
    """Every write attempt on one task, newest first (it outlives the task)."""
    return AuditRecord.objects.filter(task_sid=task_sid)


class AuditFilterForm(forms.Form):
    """The filters of /audit/: every field optional, every value checked."""

    task = forms.CharField(required=False, max_length=34, label="Task SID")
    person = forms.CharField(required=False, max_length=254)
    # Offered by name (`offer_workspaces`), sent as the SID: `?workspace=WS…` links work.
    workspace = forms.CharField(
        required=False, max_length=34, label="Workspace", widget=forms.Select
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any"), *Outcome.choices], label="Outcome"
    )
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def offer_workspaces(self, names: dict[str, str]) -> None:
        """The workspace menu: every workspace TaskRouter lists, by name, and whatever the
        request asked for that it does not (a workspace since deleted, whose records
        remain, or a mistyped link, kept so its error shows beside it)."""
        choices = [("", "Any workspace")]
        choices += sorted(names.items(), key=lambda item: (item[1].casefold(), item[0]))
        asked = self.data.get("workspace", "") if self.is_bound else ""
        if asked and asked not in names:
            choices.append((asked, asked))
        self.fields["workspace"].widget.choices = choices

    def clean_task(self) -> str:
        return self._sid("task", "WT")

    def clean_workspace(self) -> str:
        return self._sid("workspace", "WS")

    def _sid(self, name: str, prefix: str) -> str:
        value = self.cleaned_data[name].strip()
        if value:
            try:
                rules.validate_sid(value, prefix, param=name)
            except taskrouter.InvalidParameter as error:
                raise forms.ValidationError(error.user_message) from None
        return value

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "“Until” must be after “From”.")
        return data

    def apply(self, records: QuerySet[AuditRecord]) -> QuerySet[AuditRecord]:
        data = self.cleaned_data
        if data.get("task"):
            records = records.filter(task_sid=data["task"])
        if data.get("person"):
            records = records.filter(actor__iexact=data["person"].strip())
        if data.get("workspace"):
            records = records.filter(workspace_sid=data["workspace"])
        if data.get("outcome"):
            records = records.filter(outcome=data["outcome"])
        if data.get("since"):
            records = records.filter(started__gte=data["since"])
        if data.get("until"):
            records = records.filter(started__lte=data["until"])
        return records


def visible_to(identity: Any) -> QuerySet[AuditRecord]:
    """Admins read the whole trail; editors their own writes; anyone else nothing."""
    if identity is not None and identity.has_role("admin"):
        return AuditRecord.objects.all()
    if identity is not None and identity.has_role("editor"):
        return AuditRecord.objects.filter(actor=identity.username)
    return AuditRecord.objects.none()


@dataclass(frozen=True)
class AuditRow:
    """One record as the trail shows it: names first, SIDs as the detail."""

    record: AuditRecord
    action: str
    title: str  # the task's title (TASKDECK_TITLE_ATTRIBUTES), "" when nothing names it
    workspace: str  # the workspace's name, or its SID when TaskRouter cannot say

    @property
    def before_json(self) -> str:
        return presentation.pretty_json(self.record.before)

    @property
    def after_json(self) -> str:
        """What was sent; the attributes (sent as JSON text) shown as the object they are."""
        sent = dict(self.record.after or {})
        if isinstance(sent.get("Attributes"), str):
            with contextlib.suppress(ValueError):  # else shown as the text that was sent
                sent["Attributes"] = json.loads(sent["Attributes"])
        return presentation.pretty_json(sent)


def rows(records: Iterable[AuditRecord], names: dict[str, str]) -> list[AuditRow]:
    """The records as the trail shows them; ``names``: `workspace_names()`."""
    return [
        AuditRow(
            record=record,
            action=describe(record),
            title=title_of(record),
            workspace=names.get(record.workspace_sid, record.workspace_sid),
        )
        for record in records
    ]


def workspace_names() -> dict[str, str]:
    """Workspace names by SID (a shared, cached read); none when TaskRouter is down, and
    the trail shows SIDs instead: it never depends on TaskRouter answering."""
    try:
        return {w.sid: w.friendly_name for w in taskrouter.list_workspaces()}
    except taskrouter.TaskRouterError:
        return {}


def title_of(record: AuditRecord) -> str:
    """The task's title as the record knows it: what the person saw (an edit's snapshot,
    a bulk preview's title), else the attributes sent (a create)."""
    before = record.before if isinstance(record.before, dict) else {}
    title = before.get("title") or titles.attributes_title(before.get("attributes"))
    sent = (record.after or {}).get("Attributes")
    if not title and isinstance(sent, str):
        try:
            title = titles.attributes_title(json.loads(sent))
        except ValueError:
            title = ""
    return str(title or "")


def describe(record: AuditRecord) -> str:
    """What the write asked for, in words (the table's "Action" column), as the task's
    timeline words it: "Set priority to 7", "Change attributes: vip", "Cancel"."""
    if record.action not in TASK_WRITES:
        return record.message or record.action  # a change to Taskdeck's own settings
    return "; ".join(story.write_words(record, with_reason=False))


# --- CSV ----------------------------------------------------------------------------------

CSV_COLUMNS = (
    "started",
    "completed",
    "actor",
    "workspace_sid",
    "task_sid",
    "action",
    "outcome",
    "http_status",
    "error_code",
    "request_id",
    "if_match",
    "reason",
    "message",
    "before",
    "after",
)


def safe_cell(value: Any) -> str:
    """A cell as text that a spreadsheet shows and never runs: formulas get a ``'``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = _json(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def csv_rows(records: Iterable[AuditRecord]) -> Iterator[list[str]]:
    yield list(CSV_COLUMNS)
    for record in records:
        yield [safe_cell(getattr(record, column)) for column in CSV_COLUMNS]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(records: Iterable[AuditRecord]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in csv_rows(records):
        yield writer.writerow(row)
