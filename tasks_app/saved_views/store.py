"""Saving, sharing, changing and removing views, and choosing a landing view: who may do
what, and an audit record for every change (``tasks_app.audit.record_change``).

- Anyone with a role saves the table they look at as a personal view, changes and removes
  their own personal views, and picks a landing view among the views they can use.
- Editors (and admins) share views, and change and remove shared views.
- Admins remove any view, someone else's personal view included.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from tasks_app import audit
from tasks_app.identity import Identity

from .models import AlertState, LandingView, SavedView

ACTION = "view"


class NotAllowed(Exception):
    """The person may not do this to this view; the message says why."""


class NameTaken(Exception):
    """Another view of the same scope has the name."""


def usable(identity: Identity, workspace_sid: str | None = None) -> QuerySet[SavedView]:
    """The views this person can open: the shared ones and their own."""
    views = SavedView.objects.filter(Q(owner="") | Q(owner=identity.username))
    if workspace_sid is not None:
        views = views.filter(workspace_sid=workspace_sid)
    return views


def may_change(identity: Identity, view: SavedView) -> bool:
    if view.shared:
        return identity.can_edit
    return view.owner == identity.username


def may_remove(identity: Identity, view: SavedView) -> bool:
    return may_change(identity, view) or identity.has_role("admin")


def _fields(data: dict, identity: Identity) -> dict:
    shared = bool(data.get("shared"))
    return {
        "name": data["name"],
        "query": data.get("query") or "",
        "owner": "" if shared else data.get("owner") or identity.username,
        "alert_count_above": data.get("alert_count_above"),
        "alert_wait_above_seconds": data.get("alert_wait_above_seconds"),
        "alert_webhook": data.get("alert_webhook") or "",
    }


def create(
    identity: Identity,
    *,
    workspace_sid: str,
    workspace_name: str,
    data: dict,
    actor: str | None = None,
) -> SavedView:
    """A new view from a SavedViewForm's cleaned data (``actor``: who the audit trail
    names, when not the identity itself: the person running an import)."""
    fields = _fields(data, identity)
    if not fields["owner"] and not identity.can_edit:
        raise NotAllowed("Only editors share views; save it as your own view.")
    view = SavedView(
        workspace_sid=workspace_sid,
        workspace_name=workspace_name,
        created_by=identity.username,
        **fields,
    )
    try:
        with transaction.atomic():
            view.save()
            AlertState.objects.create(view=view)
            audit.record_change(
                actor=actor or identity.username,
                action=ACTION,
                workspace_sid=workspace_sid,
                summary=f"Saved the {'shared' if view.shared else 'personal'} view “{view.name}”",
                before=None,
                after=view.as_dict(),
            )
    except IntegrityError:
        raise NameTaken(_taken(view)) from None
    return view


def change(
    identity: Identity, view: SavedView, data: dict, *, actor: str | None = None
) -> list[str]:
    """Apply a SavedViewForm's cleaned data; returns what changed, in words (empty: nothing)."""
    if not may_change(identity, view):
        raise NotAllowed(_refusal(view))
    fields = _fields({**data, "owner": view.owner or identity.username}, identity)
    if view.shared != (not fields["owner"]) and not identity.can_edit:
        raise NotAllowed("Only editors share views.")
    before = view.as_dict()
    changed = [name for name, value in fields.items() if getattr(view, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(view, name, fields[name])
    try:
        with transaction.atomic():
            view.save()
            if not view.has_alert:  # no alert, nothing firing (and nothing to resolve)
                AlertState.objects.filter(view=view).update(state=AlertState.State.OK)
            audit.record_change(
                actor=actor or identity.username,
                action=ACTION,
                workspace_sid=view.workspace_sid,
                summary=f"Changed the view “{view.name}” ({', '.join(_words(changed))})",
                before=before,
                after=view.as_dict(),
            )
    except IntegrityError:
        view.refresh_from_db()
        raise NameTaken(_taken(view)) from None
    return _words(changed)


def share(identity: Identity, view: SavedView) -> None:
    if not identity.can_edit:
        raise NotAllowed("Only editors share views.")
    if view.shared:
        return
    if view.owner != identity.username:
        raise NotAllowed("You can share your own views and no one else's.")
    change(identity, view, {**editable_fields(view), "shared": True})


def remove(identity: Identity, view: SavedView) -> None:
    if not may_remove(identity, view):
        raise NotAllowed(
            "Only editors remove shared views."
            if view.shared
            else "Only its owner or an admin removes a personal view."
        )
    before = view.as_dict()
    with transaction.atomic():
        audit.record_change(
            actor=identity.username,
            action=ACTION,
            workspace_sid=view.workspace_sid,
            summary=f"Removed the {'shared' if view.shared else 'personal'} view “{view.name}”",
            before=before,
            after=None,
        )
        view.delete()


def set_landing(identity: Identity, view: SavedView | None) -> None:
    """``view`` becomes what ``/`` opens for this person (None: the default table)."""
    current = LandingView.objects.filter(username=identity.username).select_related("view")
    before_view = current.first().view if current.exists() else None
    if view is not None and not usable(identity).filter(pk=view.pk).exists():
        raise NotAllowed("You can land only on a shared view or one of your own.")
    if (before_view and before_view.pk) == (view and view.pk):
        return
    with transaction.atomic():
        if view is None:
            LandingView.objects.filter(username=identity.username).delete()
        else:
            LandingView.objects.update_or_create(
                username=identity.username, defaults={"view": view}
            )
        target = view or before_view
        audit.record_change(
            actor=identity.username,
            action="landing",
            workspace_sid=target.workspace_sid if target else "",
            summary=f"Landing view: “{view.name}”" if view else "Landing view: the default table",
            before={"landing": before_view.name} if before_view else None,
            after={"landing": view.name} if view else {"landing": None},
        )


def landing_of(username: str) -> SavedView | None:
    choice = LandingView.objects.filter(username=username).select_related("view").first()
    if choice is None:
        return None
    view = choice.view
    if view.owner not in ("", username):  # no longer theirs to use
        return None
    return view


def editable_fields(view: SavedView) -> dict:
    """What a person may change of a view, as its form and `change` take it."""
    return {
        "name": view.name,
        "query": view.query,
        "shared": view.shared,
        "alert_count_above": view.alert_count_above,
        "alert_wait_above_seconds": view.alert_wait_above_seconds,
        "alert_webhook": view.alert_webhook,
    }


_WORDS = {
    "name": "name",
    "query": "filters",
    "owner": "sharing",
    "alert_count_above": "alert count",
    "alert_wait_above_seconds": "alert wait",
    "alert_webhook": "webhook",
}


def _words(fields: list[str]) -> list[str]:
    return [_WORDS.get(name, name) for name in fields]


def _taken(view: SavedView) -> str:
    scope = "A shared view" if view.shared else "One of your views"
    return f"{scope} in this workspace is already called “{view.name}”; pick another name."


def _refusal(view: SavedView) -> str:
    if view.shared:
        return "Only editors change shared views."
    return "Only its owner changes a personal view."
