"""What a task's page shows of its story: the timeline, and the Undo offered to its viewer."""

from __future__ import annotations

from django.utils import timezone

from . import undo
from .story import timeline_of


def context(task_sid: str, *, viewer: str | None, can_edit: bool, deleted: bool = False) -> dict:
    """The timeline (each Taskdeck change marked revertible for someone who may edit an
    existing task) and the viewer's own latest change still within the undo window."""
    entries = timeline_of(task_sid)
    writable = can_edit and not deleted
    for entry in entries:
        entry.revertible = writable and undo.reversal(entry.record) is not None
    # The records are in the entries already: no other query for the offer.
    records = [entry.record for entry in entries if entry.record is not None]
    offer = undo.latest_undoable(records, viewer) if writable and viewer else None
    return {
        "timeline": entries,
        "timeline_sid": task_sid,
        "undo_offer": offer,
        "undo_until": (offer.completed + undo.undo_window()) if offer is not None else None,
        "undo_words": undo.describe(undo.reversal(offer)) if offer is not None else "",
        "timeline_now": timezone.now(),
    }
