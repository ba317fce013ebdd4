"""What a saved view may hold: one form for the page and for ``taskdeck_views import``."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from django import forms
from django.conf import settings
from django.http import QueryDict

from tasks_app import counts
from tasks_app.forms import TaskFilterForm
from tasks_app.taskrouter import service as taskrouter

# The table's parameters a view keeps: which tasks, in which order, with which columns.
# (A page token names one page of one read; "format" is the CSV export.)
KEPT_PARAMETERS = tuple(n for n in TaskFilterForm.base_fields if n not in ("page",))


def allowed_hosts() -> list[str]:
    return [h.strip().lower() for h in settings.TASKDECK_ALERT_WEBHOOK_HOSTS if h.strip()]


def allowed_hosts_text() -> str:
    """Where alerts may go, as the view page and the delivery log say it."""
    allowed = allowed_hosts()
    if allowed:
        return ", ".join(allowed)
    return "no host yet (whoever runs Taskdeck lists them in TASKDECK_ALERT_WEBHOOK_HOSTS)"


def webhook_refusal(url: str) -> str | None:
    """Why Taskdeck will not send to ``url`` (None: it may). Only hosts listed in
    TASKDECK_ALERT_WEBHOOK_HOSTS (a host, or host:port) receive anything."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "A webhook is an http:// or https:// address."
    host = parts.hostname.lower()
    with_port = f"{host}:{parts.port}" if parts.port else host
    allowed = allowed_hosts()
    if host in allowed or with_port in allowed:
        return None
    if not allowed:
        return (
            f"Taskdeck sends alerts to no host yet: {host} must be listed in "
            "TASKDECK_ALERT_WEBHOOK_HOSTS (ask whoever runs Taskdeck)."
        )
    return (
        f"{host} is not a host Taskdeck may send alerts to; TASKDECK_ALERT_WEBHOOK_HOSTS "
        f"allows {', '.join(allowed)}."
    )


def canonical_query(query: str) -> QueryDict:
    """The table's own parameters from a query string (or a table URL), in the form's
    order; anything else (a page token, tracking tags) is dropped."""
    text = (query or "").strip()
    if "?" in text:
        text = text.split("?", 1)[1]
    given = QueryDict(text)
    kept = QueryDict(mutable=True)
    for name in KEPT_PARAMETERS:
        values = [v for v in given.getlist(name) if v != ""]
        if values:
            kept.setlist(name, values)
    return kept


def encode(query: QueryDict) -> str:
    """A query string as the views-as-code files write it: spaces as %20, commas kept."""
    pairs = [(name, value) for name in query for value in query.getlist(name)]
    return urlencode(pairs, quote_via=quote, safe=",")


class SavedViewForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Name", error_messages={"required": "Give the view a name."}
    )
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    shared = forms.BooleanField(required=False, label="Shared with everyone")
    alert_count_above = forms.IntegerField(
        required=False, min_value=0, max_value=1_000_000, label="Alert when more than (tasks)"
    )
    alert_wait_above_seconds = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=30 * 24 * 3600,
        label="Alert when the oldest waits longer than (seconds)",
    )
    alert_webhook = forms.URLField(
        required=False, max_length=500, label="Webhook", assume_scheme="https"
    )

    def __init__(self, data=None, *, workspace: taskrouter.Workspace, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.workspace = workspace

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name

    def clean_query(self) -> str:
        kept = canonical_query(self.cleaned_data["query"])
        if not kept:  # the table without parameters: its landing view, said explicitly
            kept = canonical_query(counts.LANDING_QUERY)
        table = TaskFilterForm(
            kept,
            queues=taskrouter.list_task_queues(workspace_sid=self.workspace.sid),
            workflows=taskrouter.list_workflows(workspace_sid=self.workspace.sid),
        )
        if not table.is_valid():
            problems = [f"{n}: {' '.join(e)}" if n != "__all__" else " ".join(e)
                        for n, e in table.errors.items()]  # fmt: skip
            raise forms.ValidationError("The table's filters are not valid: " + "; ".join(problems))
        return encode(kept)

    def clean_alert_webhook(self) -> str:
        url = self.cleaned_data["alert_webhook"].strip()
        if url:
            refusal = webhook_refusal(url)
            if refusal:
                raise forms.ValidationError(refusal)
        return url

    def clean(self) -> dict:
        data = super().clean()
        has_alert = (
            data.get("alert_count_above") is not None
            or data.get("alert_wait_above_seconds") is not None
        )
        if data.get("alert_webhook") and not has_alert:
            self.add_error(
                "alert_webhook",
                "A webhook needs a condition: a count to stay under, or a longest wait.",
            )
        return data
