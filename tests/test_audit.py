"""The audit trail: every write attempt recorded before it is sent and completed after,
never changed again, and readable at /audit/ and on a task's page even once it is gone."""

from __future__ import annotations

import csv
import html
import io
import os
import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks_app import audit
from tasks_app.models import AppendOnly, AuditRecord
from tasks_app.taskrouter import client
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.signals import task_write_started, task_written
from tests.identities import IDENTITIES

pytestmark = pytest.mark.django_db

EDITOR = "editor@example.com"
SCRIPT = "<script>alert(1)</script>"


def htmx(target: str) -> dict:
    return {"HX-Request": "true", "HX-Target": target}


def save_priority(browser: Client, sid: str, priority: str, *, meanwhile=None):
    """Open the task page, let ``meanwhile`` happen, then save the priority form."""
    html = browser.get(f"/w/Support/tasks/{sid}/").content.decode()
    section = re.search(r'<section class="task-actions edit-priority".*?</section>', html, re.S)
    token = re.search(r'name="editor-priority" value="([^"]+)"', section.group(0)).group(1)
    if meanwhile:
        meanwhile()
    return browser.post(
        f"/w/Support/tasks/{sid}/edit/priority/",
        {"editor-priority": token, "priority-priority": priority},
        headers=htmx("edit-priority"),
    )


def only_record(**filters) -> AuditRecord:
    records = list(AuditRecord.objects.filter(**filters))
    assert len(records) == 1, records
    return records[0]


def record(**fields) -> AuditRecord:
    defaults = {
        "write_id": uuid.uuid4().hex,
        "actor": EDITOR,
        "workspace_sid": "WS" + "0" * 32,
        "task_sid": "WT" + "1" * 32,
        "action": "update",
        "after": {"Priority": "5"},
    }
    return AuditRecord.objects.create(**(defaults | fields))


# --- One record per write attempt, naming the person ----------------------------------------


def edit_priority(task, priority: int):
    """The editor saves a priority on ``task`` at the version it was read at."""
    return taskrouter.update_task(
        actor=EDITOR,
        workspace_sid=task.workspace_sid,
        task_sid=task.sid,
        if_match=task.etag,
        priority=priority,
    )


def test_an_editors_save_leaves_a_completed_record_naming_them(signed_in, sandbox):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    assert save_priority(signed_in("editor"), sid, "7").status_code == 200
    entry = only_record(task_sid=sid)
    assert entry.actor == EDITOR and entry.action == "update"
    assert entry.outcome == AuditRecord.Outcome.DONE and entry.completed is not None
    assert entry.after == {"Priority": "7"}
    assert entry.if_match == before.etag
    assert entry.workspace_sid == before.workspace_sid
    assert entry.request_id.startswith("RQ") and entry.http_status == 200


def test_a_conflict_is_recorded_as_a_conflict_for_the_editor(signed_in, sandbox):
    sid = sandbox.task_sid("pending")
    response = save_priority(
        signed_in("editor"), sid, "7", meanwhile=lambda: sandbox.change(sid, priority=3)
    )
    assert response.status_code == 409
    entry = only_record(task_sid=sid, actor=EDITOR)
    assert entry.outcome == AuditRecord.Outcome.CONFLICT and entry.http_status == 412


def test_a_rejection_is_recorded_with_twilios_code(sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    with pytest.raises(taskrouter.Rejected):
        # TaskRouter does not complete a task nobody was assigned.
        taskrouter.update_task(
            actor=EDITOR,
            workspace_sid=task.workspace_sid,
            task_sid=sid,
            if_match=task.etag,
            assignment_status="completed",
            reason="done",
        )
    entry = only_record(task_sid=sid)
    assert entry.outcome == AuditRecord.Outcome.REJECTED
    assert entry.http_status == 400 and entry.error_code
    assert entry.reason == "done" and entry.actor == EDITOR


def test_an_upstream_failure_is_recorded_as_failed(signed_in, sandbox, loopback_sandbox):
    sid = sandbox.task_sid("pending")
    browser = signed_in("editor")

    def taskrouter_fails():
        loopback_sandbox.faults.set("503;methods=POST")

    assert save_priority(browser, sid, "7", meanwhile=taskrouter_fails).status_code == 503
    entry = only_record(task_sid=sid)
    assert entry.actor == EDITOR
    assert entry.outcome == AuditRecord.Outcome.FAILED
    assert entry.http_status == 503 and entry.error_code == 20503


def test_a_lost_answer_is_recorded_as_unknown(sandbox, loopback_sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    loopback_sandbox.faults.set("drop;methods=POST")
    with pytest.raises(taskrouter.Unavailable):
        edit_priority(task, 9)
    entry = only_record(task_sid=sid)
    assert entry.outcome == AuditRecord.Outcome.UNKNOWN and entry.completed is not None
    assert "cannot tell" in entry.message


def test_an_upstream_401_leaves_no_secret_in_the_trail_its_page_its_csv_or_the_log(
    sandbox, loopback_sandbox, settings, signed_in, caplog
):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    settings.TWILIO_AUTH_TOKEN = "wrong-token-s3cr3t"
    client.reset_sessions()
    with pytest.raises(taskrouter.AuthenticationFailed):
        edit_priority(task, 9)
    entry = only_record(task_sid=sid)
    assert entry.outcome == AuditRecord.Outcome.REJECTED and entry.http_status == 401
    admin = signed_in("admin")
    page = admin.get("/audit/").content.decode()
    export = b"".join(admin.get("/audit/", {"format": "csv"}).streaming_content).decode()
    stored = repr(list(AuditRecord.objects.values()))
    for text in (stored, page, export, caplog.text):
        assert "s3cr3t" not in text
    assert "credentials" in page  # the record says what went wrong, without the secret


def test_a_write_interrupted_after_the_intent_leaves_the_intent(sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)

    def crash(sender, **kwargs):
        raise RuntimeError("the process died here")

    task_write_started.connect(crash, dispatch_uid="test-crash")  # after the audit trail's
    try:
        with pytest.raises(RuntimeError):
            edit_priority(task, 9)
    finally:
        task_write_started.disconnect(dispatch_uid="test-crash")
    entry = only_record(task_sid=sid)
    assert entry.outcome == AuditRecord.Outcome.UNKNOWN and entry.completed is None
    assert entry.after == {"Priority": "9"} and entry.actor == EDITOR
    assert sandbox.fetch(sid).priority == task.priority  # nothing reached TaskRouter


def test_a_create_is_recorded_under_the_new_tasks_sid(sandbox):
    workspace_sid = sandbox.workspace_sid()
    workflow = taskrouter.list_workflows(workspace_sid=workspace_sid)[0]
    task = taskrouter.create_task(
        actor=EDITOR, workspace_sid=workspace_sid, workflow_sid=workflow.sid, attributes={"a": 1}
    )
    entry = only_record(actor=EDITOR)
    assert entry.action == "create" and entry.task_sid == task.sid
    assert entry.outcome == AuditRecord.Outcome.DONE


def test_each_bulk_write_is_recorded_for_the_person_who_started_the_job(signed_in, sandbox):
    sids = sandbox.task_sids("pending", limit=3)
    browser = signed_in("editor")
    preview = browser.post(
        "/w/Support/tasks/bulk/",
        {"action": "priority", "priority": "8", "task": sids},
        headers=htmx("bulk-panel"),
    )
    token = re.search(r"/bulk/([\w-]+)/run/", preview.content.decode()).group(1)
    run = f"/w/Support/tasks/bulk/{token}/run/"
    body = browser.post(run, {"step": "start"}, headers=htmx("bulk-panel")).content.decode()
    for _ in range(50):
        if 'value="continue"' not in body:
            break
        body = browser.post(run, {"step": "continue"}, headers=htmx("bulk-panel")).content.decode()
    entries = AuditRecord.objects.filter(task_sid__in=sids)
    assert sorted(e.task_sid for e in entries) == sorted(sids)
    assert {(e.actor, e.outcome) for e in entries} == {(EDITOR, AuditRecord.Outcome.DONE)}


def test_what_the_caller_saw_is_kept_as_before():
    details = {
        "write_id": uuid.uuid4().hex,
        "actor": EDITOR,
        "operation": "update",
        "workspace_sid": "WS" + "0" * 32,
        "task_sid": "WT" + "1" * 32,
        "data": {"Priority": "5"},
        "if_match": "7",
    }
    task_write_started.send(sender=__name__, seen={"priority": 1}, **details)
    task_written.send(sender=__name__, outcome=None, **details)
    entry = only_record(write_id=details["write_id"])
    assert entry.before == {"priority": 1} and entry.after == {"Priority": "5"}


# --- Append-only --------------------------------------------------------------------------------


def test_taskdeck_refuses_to_change_or_delete_a_record():
    entry = record()
    entry.reason = "rewritten"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditRecord.objects.filter(pk=entry.pk).update(actor="someone-else")
    with pytest.raises(AppendOnly):
        AuditRecord.objects.all().delete()
    assert AuditRecord.objects.get(pk=entry.pk).actor == EDITOR


def test_a_record_is_completed_once_and_never_again():
    entry = record()
    done = AuditRecord.Outcome.DONE
    assert AuditRecord.objects.filter(pk=entry.pk).complete(outcome=done, completed=timezone.now())
    later = {"outcome": AuditRecord.Outcome.FAILED, "completed": timezone.now()}
    assert AuditRecord.objects.filter(pk=entry.pk).complete(**later) == 0
    assert AuditRecord.objects.get(pk=entry.pk).outcome == done


def _postgres(django_db_blocker):
    """A connection to the PostgreSQL test database, or a skip (a failure on CI)."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    wrapper = DatabaseWrapper(
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "test",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "OPTIONS": {"connect_timeout": 3},
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "TIME_ZONE": None,
            "TEST": {},
        },
        alias="audit-postgres",
    )
    try:
        with django_db_blocker.unblock():
            wrapper.ensure_connection()
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 (database test) is required on CI: {error}")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 (database test) is not reachable")
    return wrapper


def test_postgresql_refuses_to_update_a_completed_record_or_delete_any(django_db_blocker):
    import importlib

    from django.db import DatabaseError

    append_only = importlib.import_module("tasks_app.migrations.0004_auditrecord_append_only")
    wrapper = _postgres(django_db_blocker)
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    with django_db_blocker.unblock():
        try:
            with wrapper.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {schema}")
                cursor.execute(f"SET search_path TO {schema}")
            with wrapper.schema_editor(atomic=False) as editor:
                editor.create_model(AuditRecord)
                append_only.create(None, editor)
            with wrapper.cursor() as cursor:
                insert = (
                    "INSERT INTO tasks_app_auditrecord (write_id, actor, started, workspace_sid, "
                    "task_sid, action, after, reason, if_match, outcome, message, request_id) "
                    "VALUES (%s, %s, now(), 'WS1', %s, %s, '{}', '', '', 'unknown', '', '') "
                    "RETURNING id"
                )
                cursor.execute(insert, ["w1", EDITOR, "", "create"])
                intent = cursor.fetchone()[0]
                # The one change allowed: an intent completed (a create learns its SID).
                cursor.execute(
                    "UPDATE tasks_app_auditrecord SET outcome = 'done', completed = now(), "
                    "task_sid = 'WT1' WHERE id = %s",
                    [intent],
                )
                for statement in (
                    "UPDATE tasks_app_auditrecord SET outcome = 'failed' WHERE id = %s",
                    "UPDATE tasks_app_auditrecord SET completed = NULL WHERE id = %s",
                    "DELETE FROM tasks_app_auditrecord WHERE id = %s",
                ):
                    with pytest.raises(DatabaseError, match="audit record"):
                        cursor.execute(statement, [intent])
                cursor.execute(insert, ["w2", EDITOR, "WT2", "update"])
                other = cursor.fetchone()[0]
                with pytest.raises(DatabaseError, match="only be completed"):
                    cursor.execute(
                        "UPDATE tasks_app_auditrecord SET actor = 'mallory', completed = now() "
                        "WHERE id = %s",
                        [other],
                    )
                with pytest.raises(DatabaseError, match="cannot be deleted"):
                    cursor.execute("DELETE FROM tasks_app_auditrecord WHERE id = %s", [other])
                cursor.execute(
                    "SELECT actor, outcome FROM tasks_app_auditrecord ORDER BY id",
                )
                assert cursor.fetchall() == [(EDITOR, "done"), (EDITOR, "unknown")]
        finally:
            with wrapper.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            wrapper.close()


# --- Reading the trail ------------------------------------------------------------------------


def test_admins_read_everyones_records_and_editors_only_their_own(signed_in):
    record(actor=EDITOR, reason="mine")
    record(actor="someone@example.com", reason="theirs")
    everyone = signed_in("admin").get("/audit/").content.decode()
    assert "mine" in everyone and "theirs" in everyone
    own = signed_in("editor").get("/audit/").content.decode()
    assert "mine" in own and "theirs" not in own
    # Asking for someone else's records by name changes nothing for an editor.
    asked = signed_in("editor").get("/audit/", {"person": "someone@example.com"})
    assert "theirs" not in asked.content.decode()


def test_the_trail_filters_by_task_person_workspace_outcome_and_time(signed_in):
    now = timezone.now()
    record(task_sid="WT" + "a" * 32, reason="by task")
    record(actor="other@example.com", reason="by person")
    record(workspace_sid="WS" + "b" * 32, reason="by workspace")
    record(outcome=AuditRecord.Outcome.CONFLICT, reason="by outcome")
    record(started=now - timedelta(days=3), reason="by time")
    admin = signed_in("admin")

    def shown(**query) -> set[str]:
        body = admin.get("/audit/", query).content.decode()
        return set(re.findall(r"by (?:task|person|workspace|outcome|time)", body))

    assert shown(task="WT" + "a" * 32) == {"by task"}
    assert shown(person="OTHER@example.com") == {"by person"}
    assert shown(workspace="WS" + "b" * 32) == {"by workspace"}
    assert shown(outcome="conflict") == {"by outcome"}
    until = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    assert shown(until=until) == {"by time"}


def test_the_workspace_filter_offers_names_and_keeps_what_a_link_asked_for(signed_in):
    workspaces = taskrouter.list_workspaces()
    support = next(w for w in workspaces if w.friendly_name == "Support")
    gone = "WS" + "b" * 32  # a workspace TaskRouter no longer lists; its records remain
    record(workspace_sid=support.sid, reason="in support")
    record(workspace_sid=gone, reason="in a deleted one")
    admin = signed_in("admin")

    def menu(**query) -> tuple[list[tuple[str, str]], str | None, str]:
        response = admin.get("/audit/", query)
        body = response.content.decode()
        select = re.search(r'<select name="workspace".*?</select>', body, re.S).group(0)
        options = [
            (value, html.unescape(label))
            for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
        ]
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        return options, chosen and chosen.group(1), body

    options, chosen, _ = menu()
    assert options[0] == ("", "Any workspace") and chosen == ""
    assert sorted(options[1:]) == sorted((w.sid, w.friendly_name) for w in workspaces)
    options, chosen, body = menu(workspace=support.sid)
    assert chosen == support.sid and "in support" in body and "in a deleted one" not in body
    # A runbook's link to a workspace TaskRouter does not list still filters, and says which.
    options, chosen, body = menu(workspace=gone)
    assert (gone, gone) in options and chosen == gone
    assert "in a deleted one" in body and "in support" not in body
    # A mistyped one is kept where it was asked for, with the reason beside it.
    options, chosen, body = menu(workspace="WS-oops")
    assert chosen == "WS-oops" and 'id="id_workspace-error"' in body


def test_a_bad_filter_is_explained_at_its_field(signed_in):
    response = signed_in("admin").get("/audit/", {"task": "not-a-sid"})
    assert response.status_code == 400
    assert "field-error" in response.content.decode()


def test_the_trail_is_paged(signed_in):
    for number in range(55):
        record(reason=f"write number {number}")
    admin = signed_in("admin")
    first = admin.get("/audit/").content.decode()
    assert first.count("write number") == 50 and 'rel="next"' in first
    second = admin.get("/audit/", {"page": "2"}).content.decode()
    assert second.count("write number") == 5 and 'rel="prev"' in second


def test_the_csv_export_holds_the_filtered_records_with_formulas_disarmed(signed_in):
    record(reason='=HYPERLINK("http://evil.example")', after={"Attributes": '{"x": 1}'})
    record(reason="+1", actor="other@example.com")
    response = signed_in("admin").get("/audit/", {"format": "csv", "person": EDITOR})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["reason"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[0]["actor"] == EDITOR and rows[0]["outcome"] == "unknown"


def test_script_payloads_in_a_record_render_inert_on_the_page_and_in_the_csv(signed_in):
    record(
        reason=SCRIPT,
        after={SCRIPT: SCRIPT, "Attributes": f'{{"{SCRIPT}": "{SCRIPT}"}}'},
        message=SCRIPT,
        outcome=AuditRecord.Outcome.FAILED,
    )
    admin = signed_in("admin")
    page = admin.get("/audit/").content.decode()
    assert SCRIPT not in page and "&lt;script&gt;" in page
    export = b"".join(admin.get("/audit/", {"format": "csv"}).streaming_content).decode()
    assert SCRIPT in export  # CSV is data, not HTML: kept as written, in a quoted cell


# --- A task's history, even once TaskRouter has forgotten it ---------------------------------


def test_a_deleted_tasks_link_shows_its_history_instead_of_a_bare_404(sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    taskrouter.update_task(
        actor=EDITOR,
        workspace_sid=task.workspace_sid,
        task_sid=sid,
        if_match=task.etag,
        assignment_status="canceled",
        reason=f"customer hung up {SCRIPT}",
    )
    current = sandbox.fetch(sid)
    taskrouter.delete_task(
        actor="admin@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=sid,
        if_match=current.etag,
    )
    response = Client(headers=IDENTITIES["viewer"]).get(f"/tasks/{sid}/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "no longer has this task" in body
    assert EDITOR in body and "admin@example.com" in body
    assert "customer hung up" in body and SCRIPT not in body


def test_a_task_taskdeck_never_touched_is_still_a_plain_404(signed_in):
    response = signed_in("viewer").get("/tasks/WT" + "f" * 32 + "/")
    assert response.status_code == 404
    assert 'id="task-timeline-title"' not in response.content.decode()


def test_the_trail_says_what_each_write_asked_for_as_the_timeline_does(signed_in):
    record(after={"Priority": "7"}, reason="a priority")
    record(after={"AssignmentStatus": "canceled", "Reason": "duplicate"}, reason="a cancel")
    record(after={"TaskChannel": "chat", "Priority": "3"}, reason="two fields")

    body = signed_in("admin").get("/audit/").content.decode()
    actions = dict(
        (reason, action)
        for action, reason in re.findall(
            r"<td>([^<]*)</td>\s*<td>[^<]*</td>\s*<td class=\"audit-reason\">([^<]*)</td>", body
        )
    )

    assert actions == {
        "a priority": "Set priority to 7",
        "a cancel": "Cancel",  # the reason has a column of its own
        "two fields": "Set priority to 3; Set channel to chat",
    }


def test_a_change_to_taskdecks_own_settings_reads_in_words_on_the_trail(signed_in):
    audit.record_change(
        actor="admin@example.com",
        action="target",
        workspace_sid="WS" + "0" * 32,
        summary="Set Billing's service level target to 30 s (was 120 s)",
        before={"seconds": 120},
        after={"seconds": 30},
    )

    page = signed_in("admin").get("/audit/")

    assert page.status_code == 200
    assert "Set Billing&#x27;s service level target to 30 s (was 120 s)" in page.content.decode()
    record = AuditRecord.objects.get(action="target")
    assert record.outcome == AuditRecord.Outcome.DONE
    assert record.completed is not None
    assert (record.before, record.after) == ({"seconds": 120}, {"seconds": 30})


def test_a_settings_change_without_a_person_is_refused():
    with pytest.raises(ValueError, match="person"):
        audit.record_change(
            actor=" ", action="view", workspace_sid="", summary="x", before=None, after=None
        )
