"""A task's timeline, who changed it, and undo (tasks_app/timeline/)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.conf import settings

from tasks_app.index.models import TaskEvent
from tasks_app.models import AuditRecord
from tasks_app.taskrouter import client as taskrouter_client
from tasks_app.taskrouter import service as taskrouter
from tasks_app.timeline import story, undo, who
from tasks_app.titles import short_sid
from tests.index_helpers import follow_now
from tests.test_editing import editor_token, open_page, post_section

pytestmark = pytest.mark.django_db

COLLEAGUE = "colleague@example.com"


def api_client_update(sandbox, sid: str, **data: str) -> None:
    """Someone else's integration changes the task through TaskRouter's API directly
    (not through Taskdeck: no audit record)."""
    task = sandbox.fetch(sid)
    taskrouter_client.request(
        "POST",
        f"/v1/Workspaces/{task.workspace_sid}/Tasks/{sid}",
        data=data,
        headers={"If-Match": task.etag},
    )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# --- the timeline ----------------------------------------------------------------------------


def test_a_taskdeck_write_records_the_version_it_produced(sandbox):
    sid = sandbox.task_sid("pending")
    changed = sandbox.change(sid, priority=42)
    record = AuditRecord.objects.get(task_sid=sid)
    assert record.version_after == changed.etag


def test_the_events_of_a_taskdeck_save_name_the_person_not_an_api_client(client, sandbox):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid).priority
    html = open_page(client, sid)
    post_section(client, sid, "priority", editor_token(html, "priority"), priority=str(before + 5))
    follow_now()
    entries = story.timeline_of(sid)
    newest = entries[0]
    assert newest.who.text == "admin@example.com in Taskdeck"
    assert newest.text == f"Priority changed from {before} to {before + 5}"
    assert "task.updated" in newest.event_types  # from TaskRouter's own event, not the trail


def test_an_api_clients_change_is_named_as_one_with_its_account(sandbox):
    sid = sandbox.task_sid("pending")
    api_client_update(sandbox, sid, Priority="77")
    follow_now()
    newest = story.timeline_of(sid)[0]
    assert newest.who.kind == "api"
    assert newest.who.text == f"an API client (account {short_sid(settings.TWILIO_ACCOUNT_SID)})"
    assert newest.who.detail == settings.TWILIO_ACCOUNT_SID  # whole, as the name's title
    assert newest.text.endswith("to 77")


def test_the_task_page_shows_the_timeline_in_words(client, sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, assignment_status="canceled", reason="customer hung up")
    follow_now()
    page = text_of(open_page(client, sid))
    assert "Timeline" in page
    assert f"{COLLEAGUE} in Taskdeck Canceled: “customer hung up”" in page
    assert "Created in queue" in page


def test_a_write_whose_events_are_not_indexed_yet_is_in_the_timeline_from_the_trail(sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, priority=12)  # no follow round: the index has not seen it
    newest = story.timeline_of(sid)[0]
    assert (newest.who.text, newest.text, newest.outcome) == (
        f"{COLLEAGUE} in Taskdeck",
        "Set priority to 12",
        "done",
    )


def test_a_conflicted_write_is_in_the_timeline_as_an_attempt(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    sandbox.change(sid, priority=55)
    post_section(client, sid, "priority", editor_token(html, "priority"), priority="9")
    follow_now()
    attempt = next(e for e in story.timeline_of(sid) if e.outcome)
    assert attempt.who.name == "admin@example.com"
    assert "conflict" in attempt.outcome and attempt.text == "Set priority to 9"


def test_a_deleted_tasks_page_comes_from_the_index_with_who_canceled_it_and_why(client, sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, assignment_status="canceled", reason="duplicate of another call")
    task = sandbox.fetch(sid)
    # TaskRouter deletes it (an API client here: Taskdeck never wrote the delete).
    taskrouter_client.request(
        "DELETE",
        f"/v1/Workspaces/{task.workspace_sid}/Tasks/{sid}",
        headers={"If-Match": task.etag},
    )
    follow_now()
    for url in (f"/tasks/{sid}/", f"/w/Support/tasks/{sid}/"):
        response = client.get(url)
        page = text_of(response.content.decode())
        assert response.status_code == 404
        assert "TaskRouter no longer has this task" in page and "Deleted" in page
        assert f"{COLLEAGUE} in Taskdeck Canceled: “duplicate of another call”" in page
        assert "Revert" not in page and '<form method="post"' not in response.content.decode()


# --- who changed it --------------------------------------------------------------------------


def test_the_conflict_view_names_the_colleague_and_how_long_ago(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    sandbox.change(sid, priority=55)
    follow_now()
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="9")
    page = text_of(response.content.decode())
    assert response.status_code == 409
    found = re.search(
        r"Changed since you read it by: (.*?) , \d+ s ago \( .+? \): (.*?) Field", page
    )
    assert found, page
    assert found.groups() == (f"{COLLEAGUE} in Taskdeck", "Priority changed from 0 to 55")


def test_when_the_index_lags_the_conflict_reads_that_tasks_events_from_taskrouter(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    api_client_update(sandbox, sid, Priority="61")  # no follow round after this
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="9")
    page = text_of(response.content.decode())
    assert response.status_code == 409
    assert f"an API client (account {short_sid(settings.TWILIO_ACCOUNT_SID)})" in page
    assert f'title="{settings.TWILIO_ACCOUNT_SID}"' in response.content.decode()
    assert "to 61" in page
    assert TaskEvent.objects.filter(task_sid=sid).exists()  # the index learnt them too


def test_changes_between_two_versions_are_only_those_after_the_one_read(sandbox):
    sid = sandbox.task_sid("pending")
    read = sandbox.fetch(sid)
    sandbox.change(sid, priority=21)
    now = sandbox.change(sid, priority=22)
    follow_now()
    changes = who.changes_since(
        workspace_sid=read.workspace_sid, task_sid=sid, seen=read.etag, now=now.etag
    )
    assert [c.text.split()[-1] for c in changes] == ["21", "22"]
    assert (
        who.changes_since(
            workspace_sid=read.workspace_sid, task_sid=sid, seen=now.etag, now=now.etag
        )
        == []
    )


# --- undo ------------------------------------------------------------------------------------


def saved_priority(client, sandbox, sid: str, priority: int) -> str:
    html = open_page(client, sid)
    response = post_section(
        client, sid, "priority", editor_token(html, "priority"), priority=str(priority)
    )
    assert response.status_code == 200
    return response.content.decode()


def test_after_a_save_undo_is_offered_and_writes_the_value_from_before(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid).priority
    body = saved_priority(client, sandbox, sid, before + 3)
    record = AuditRecord.objects.get(task_sid=sid)
    assert f"/revert/{record.write_id}/" in body and ">Undo<" in body
    response = client.post(f"/w/Support/tasks/{sid}/revert/{record.write_id}/")
    assert response.status_code == 302
    assert sandbox.fetch(sid).priority == before
    assert writes[-1]["if_match"] == record.version_after
    undone = AuditRecord.objects.filter(task_sid=sid).first()
    assert undone.actor == "admin@example.com" and undone.outcome == "done"
    assert undone.reason.startswith("Undo of admin@example.com's change")
    assert "Undone: priority back to" in text_of(
        client.get(f"/w/Support/tasks/{sid}/").content.decode()
    )


def test_undo_after_a_colleagues_change_is_a_conflict_naming_them_never_an_overwrite(
    client, sandbox
):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid).priority
    saved_priority(client, sandbox, sid, before + 3)
    record = AuditRecord.objects.get(task_sid=sid)
    sandbox.change(sid, priority=90)
    response = client.post(f"/w/Support/tasks/{sid}/revert/{record.write_id}/")
    page = text_of(response.content.decode())
    assert response.status_code == 409
    assert sandbox.fetch(sid).priority == 90
    assert "Not undone: the task changed since admin@example.com's change" in page
    assert f"{COLLEAGUE} in Taskdeck" in page
    assert AuditRecord.objects.filter(task_sid=sid).first().outcome == "conflict"


def test_the_undo_offer_lasts_the_undo_window_and_revert_stays(client, sandbox, settings):
    sid = sandbox.task_sid("pending")
    saved_priority(client, sandbox, sid, 33)
    settings.TASKDECK_UNDO_SECONDS = 0
    page = open_page(client, sid)
    assert ">Undo<" not in page
    assert ">Revert<" in page


def test_a_status_change_is_never_offered_for_revert(client, sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, assignment_status="canceled", reason="wrong queue")
    record = AuditRecord.objects.get(task_sid=sid)
    assert undo.reversal(record) is None
    response = client.post(f"/w/Support/tasks/{sid}/revert/{record.write_id}/")
    assert response.status_code == 502
    assert "cannot be undone" in text_of(response.content.decode())


def test_a_viewer_cannot_revert(signed_in, sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, priority=8)
    record = AuditRecord.objects.get(task_sid=sid)
    viewer = signed_in("viewer")
    assert ">Revert<" not in viewer.get(f"/w/Support/tasks/{sid}/").content.decode()
    assert viewer.post(f"/w/Support/tasks/{sid}/revert/{record.write_id}/").status_code == 403
    assert sandbox.fetch(sid).priority == 8


def test_attributes_are_reverted_to_what_they_were(client, sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    html = open_page(client, sid)
    changed = {**task.attributes, "note": "typo"}

    response = post_section(
        client, sid, "attributes", editor_token(html, "attributes"), attributes=json.dumps(changed)
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    record = AuditRecord.objects.get(task_sid=sid)
    client.post(f"/w/Support/tasks/{sid}/revert/{record.write_id}/")
    assert taskrouter.fetch_task(workspace_sid=task.workspace_sid, task_sid=sid).attributes == (
        task.attributes
    )


# --- undo of a bulk job ----------------------------------------------------------------------


def free_pending_tasks(sandbox, count: int) -> list[str]:
    """Pending tasks whose workflow leaves their priority alone."""
    from tests.browser.test_saving_in_turn_journeys import tasks_in_free_queue

    return tasks_in_free_queue(sandbox, "pending", count)


def test_a_bulk_priority_change_is_undone_task_by_task_except_one_changed_since(
    client, sandbox, settings, writes
):
    from tests.test_bulk import HTMX, preview, results, run_to_the_end

    settings.TASKDECK_BULK_RATE = 500.0
    sids = free_pending_tasks(sandbox, 3)
    before = {sid: sandbox.fetch(sid).priority for sid in sids}
    _, token = preview(client, action="priority", priority="250", task=sids)
    finished = run_to_the_end(client, token)
    assert f"/bulk/{token}/undo/" in finished and ">Undo<" in finished
    sandbox.change(sids[0], priority=7)  # a colleague changes one of them meanwhile
    response = client.post(f"/w/Support/tasks/bulk/{token}/undo/", **HTMX)
    assert response.status_code == 200
    undo_token = response["HX-Redirect"].rstrip("/").split("/")[-1]
    body = run_to_the_end(client, undo_token, step="none")
    assert results(body) == {sids[0]: "conflict", sids[1]: "done", sids[2]: "done"}
    assert sandbox.fetch(sids[0]).priority == 7  # never overwritten
    for sid in sids[1:]:
        assert sandbox.fetch(sid).priority == before[sid]
    undone = AuditRecord.objects.filter(task_sid=sids[1]).first()
    assert undone.reason.startswith("Undo of the bulk priority change to 250")
    # Offered once: the job's page no longer offers it, and asking again is refused.
    assert ">Undo<" not in client.get(f"/w/Support/tasks/bulk/{token}/").content.decode()
    again = client.post(f"/w/Support/tasks/bulk/{token}/undo/", **HTMX)
    assert again.status_code == 409


def test_a_bulk_job_is_not_undoable_after_the_undo_window(client, sandbox, settings):
    from tests.test_bulk import HTMX, preview, run_to_the_end

    settings.TASKDECK_BULK_RATE = 500.0
    sids = free_pending_tasks(sandbox, 2)
    _, token = preview(client, action="priority", priority="250", task=sids)
    run_to_the_end(client, token)
    settings.TASKDECK_UNDO_SECONDS = 0
    assert ">Undo<" not in client.get(f"/w/Support/tasks/bulk/{token}/").content.decode()
    assert client.post(f"/w/Support/tasks/bulk/{token}/undo/", **HTMX).status_code == 409
    assert {sandbox.fetch(sid).priority for sid in sids} == {250}


# --- words, from events as TaskRouter sends them ---------------------------------------------


def event(n: int, kind: str, actor: tuple[str, str], **data: str) -> TaskEvent:
    return TaskEvent(
        pk=n,
        sid=f"EV{n:032d}",
        task_sid="WT" + "1" * 32,
        event_type=kind,
        date_ms=1_700_000_000_000 + n * 1000,
        actor_type=actor[0],
        actor_sid=actor[1],
        data={"task_sid": "WT" + "1" * 32, **data},
    )


def test_a_reservation_story_reads_as_a_supervisor_would_say_it():
    worker = ("worker", "WK" + "2" * 32)
    system = ("workspace", "WS" + "3" * 32)
    account = ("account", "AC" + "4" * 32)
    common = {"task_queue_name": "Billing", "task_priority": "1"}
    events = [
        event(
            1, "task.created", account, task_assignment_status="pending", task_version="0", **common
        ),
        event(
            2,
            "task-queue.entered",
            account,
            task_assignment_status="pending",
            task_version="0",
            **common,
        ),
        event(
            3,
            "reservation.created",
            system,
            task_assignment_status="reserved",
            task_version="1",
            worker_sid=worker[1],
            worker_name="Ana Lopez",
            **common,
        ),
        event(
            4,
            "reservation.accepted",
            worker,
            task_assignment_status="assigned",
            task_version="2",
            worker_sid=worker[1],
            worker_name="Ana Lopez",
            **common,
        ),
        event(
            5, "task.updated", worker, task_assignment_status="wrapping", task_version="3", **common
        ),
        event(
            6,
            "task.canceled",
            account,
            task_assignment_status="canceled",
            task_version="4",
            task_canceled_reason="customer hung up",
            **common,
        ),
    ]
    entries = story.build(events, [])
    said = [(e.who.text, e.text) for e in reversed(entries)]
    assert said == [
        ("an API client (account AC…4444)", "Created in queue Billing, priority 1"),
        ("an API client (account AC…4444)", "Entered queue Billing"),
        ("TaskRouter", "Reserved for Ana Lopez"),
        ("Ana Lopez", "Accepted by Ana Lopez"),
        ("Ana Lopez", "Status changed from assigned to wrapping"),
        ("an API client (account AC…4444)", "Canceled: “customer hung up”"),
    ]


def test_who_changed_it_names_a_taskdeck_write_even_when_taskrouters_events_cannot_be_read(
    sandbox, monkeypatch
):
    sid = sandbox.task_sid("pending")
    read = sandbox.fetch(sid)
    now = sandbox.change(sid, priority=31)

    def down(**kwargs):
        raise taskrouter.Unavailable("TaskRouter is not answering.")

    monkeypatch.setattr(taskrouter, "iter_event_pages", down)
    changes = who.changes_since(
        workspace_sid=read.workspace_sid, task_sid=sid, seen=read.etag, now=now.etag
    )
    assert [(c.who.text, c.text) for c in changes] == [
        (f"{COLLEAGUE} in Taskdeck", "Set priority to 31")
    ]
