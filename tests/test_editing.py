"""Editing a task safely: stored versions, conflicts made visible, only valid actions."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import htmx_headers as htmx

pytestmark = pytest.mark.django_db


def section_html(html: str, name: str) -> str:
    match = re.search(rf'<section class="task-actions edit-{name}".*?</section>', html, re.S)
    assert match, f"no {name} section"
    return match.group(0)


def editor_token(html: str, name: str) -> str:
    found = re.search(rf'name="editor-{name}" value="([^"]+)"', section_html(html, name))
    return found.group(1)


def open_page(client, sid: str) -> str:
    response = client.get(f"/w/Support/tasks/{sid}/")
    assert response.status_code == 200
    return response.content.decode()


def page_tokens(html: str) -> dict[str, str]:
    """Every form's version token on a page, by field name, as htmx sends them with a save
    (the browser journeys prove it does: tests/browser/test_saving_in_turn_journeys.py)."""
    found = re.findall(
        r'name="(editor-[a-z]+)" value="([^"]+)" id="editor-[a-z]+" data-editor', html
    )
    return dict(found)


def post_section(
    client, sid: str, name: str, token: str, *, page: dict[str, str] | None = None, **fields
) -> object:
    data = {**(page or {}), f"editor-{name}": token}
    data |= {f"{name}-{k}": v for k, v in fields.items()}
    return client.post(f"/w/Support/tasks/{sid}/edit/{name}/", data, **htmx(f"edit-{name}"))


def advanced_token(body: str, name: str) -> str | None:
    """The new version token a save hands another form of the page (out of band)."""
    match = re.search(
        rf'name="editor-{name}" value="([^"]+)" id="editor-{name}" data-editor-token hx-swap-oob',
        body,
    )
    return match.group(1) if match else None


# --- only valid actions -------------------------------------------------------------------


@pytest.mark.parametrize("status", rules.STATUSES)
def test_the_status_form_offers_exactly_the_valid_transitions_and_explains_the_rest(
    client, sandbox, status
):
    sid = sandbox.task_sid(status)
    status_form = section_html(open_page(client, sid), "status")
    offered = set(re.findall(r'name="status-assignment_status" value="(\w+)"', status_form))
    assert offered == set(rules.allowed_transitions(status))
    if status in rules.CLOSED_STATUSES:
        assert "TaskRouter does not change closed tasks" in status_form
    else:
        for target in set(rules.REQUESTABLE_STATUSES) - offered:
            assert (
                f"is not offered because {rules.transition_refusal(status, target)}" in status_form
            )


@pytest.mark.parametrize("status", rules.STATUSES)
@pytest.mark.parametrize("target", rules.REQUESTABLE_STATUSES)
def test_a_transition_not_offered_is_refused_by_the_form_before_taskrouter(
    client, sandbox, writes, status, target
):
    sid = sandbox.task_sid(status)
    html = open_page(client, sid)
    if status in rules.CLOSED_STATUSES:
        html = section_html(html, "status")
        assert 'name="editor-' not in html  # no form at all on a closed task
        return
    response = post_section(
        client,
        sid,
        "status",
        editor_token(html, "status"),
        assignment_status=target,
        reason="runbook step 4",
    )
    allowed = target in rules.allowed_transitions(status)
    assert response.status_code == (200 if allowed else 422)
    assert len(writes) == (1 if allowed else 0)
    if allowed:
        assert sandbox.fetch(sid).assignment_status == target


def test_cancel_without_a_reason_is_refused_at_the_field(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(
        client, sid, "status", editor_token(html, "status"), assignment_status="canceled"
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Say why you cancel this task" in body
    assert 'aria-invalid="true"' in body
    assert writes == []


# --- saving and stored versions -------------------------------------------------------------


def test_saving_the_priority_sends_the_stored_version_and_shows_the_new_one(
    client, sandbox, writes
):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    html = open_page(client, sid)
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="7")
    body = response.content.decode()
    assert response.status_code == 200
    assert writes[0]["if_match"] == before.etag
    after = sandbox.fetch(sid)
    assert after.priority == 7
    assert "Saved priority." in body
    # The read-only parts of the page are refreshed out of band (the version on hover).
    assert 'id="task-facts" aria-labelledby="facts-heading" hx-swap-oob="true"' in body
    assert f'id="task-updated" data-etag="{after.etag}"' in body


def test_saving_two_parts_of_the_page_in_turn_is_not_a_conflict(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    first = post_section(
        client,
        sid,
        "priority",
        editor_token(html, "priority"),
        page=page_tokens(html),
        priority="3",
    )
    # The save moved the channel form to the new version; the browser swapped its token in.
    channel_token = advanced_token(first.content.decode(), "channel")
    assert channel_token and channel_token != editor_token(html, "channel")
    second = post_section(client, sid, "channel", channel_token, task_channel="chat")
    assert first.status_code == second.status_code == 200
    task = sandbox.fetch(sid)
    assert (task.priority, task.task_channel_unique_name) == (3, "chat")


def test_a_change_made_elsewhere_under_an_open_form_is_a_conflict_not_an_overwrite(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    sandbox.change(sid, priority=55)
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="9")
    body = response.content.decode()
    assert response.status_code == 409
    assert sandbox.fetch(sid).priority == 55  # nothing overwritten
    assert "The task changed since you opened it" in body
    row = re.search(r"<tr class=\"diff-changed\"><th scope=\"row\">Priority</th>(.*?)</tr>", body)
    assert row and re.findall(r"<td>(.*?)</td>", row.group(1))[:2] == ["0", "9"]
    assert "55" in row.group(1)
    assert 'value="9"' in body  # what they typed survives
    # Applying it to the current version (the fresh editor in the conflict form) works.
    applied = post_section(client, sid, "priority", editor_token(body, "priority"), priority="9")
    assert applied.status_code == 200
    assert sandbox.fetch(sid).priority == 9


def test_discarding_a_conflicted_change_shows_the_current_task(client, sandbox):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, priority=44)
    response = client.get(f"/w/Support/tasks/{sid}/edit/priority/", **htmx("edit-priority"))
    assert response.status_code == 200
    assert 'value="44"' in response.content.decode()


def test_a_form_whose_field_was_changed_by_another_form_on_the_page_gets_a_conflict(
    client, sandbox
):
    sid = sandbox.task_sid("assigned")
    html = open_page(client, sid)
    status = post_section(
        client,
        sid,
        "status",
        editor_token(html, "status"),
        assignment_status="completed",
        reason="resolved",
        attributes='{"disposition": "ok"}',
    )
    assert status.status_code == 200
    # The attributes form still shows the attributes from before: saving it would revert
    # the "disposition" just added, so it is a conflict.
    stale = post_section(
        client, sid, "attributes", editor_token(html, "attributes"), attributes='{"a": 1}'
    )
    assert stale.status_code == 409


def test_status_with_attributes_is_two_requests_attributes_first_and_both_reported(
    client, sandbox, writes
):
    sid = sandbox.task_sid("assigned")
    html = open_page(client, sid)
    response = post_section(
        client,
        sid,
        "status",
        editor_token(html, "status"),
        assignment_status="completed",
        reason="resolved",
        attributes='{"disposition": "solved"}',
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert [sorted(w["data"]) for w in writes] == [["Attributes"], ["AssignmentStatus", "Reason"]]
    assert all(w["if_match"] for w in writes)
    assert "Saved attributes." in body and "Completed the task." in body
    task = sandbox.fetch(sid)
    assert task.assignment_status == "completed" and task.attributes["disposition"] == "solved"
    assert task.reason == "resolved"


def test_when_a_workflow_target_keeps_the_priority_the_page_says_so(client, sandbox):
    sid = sandbox.vip_pending_sid()
    html = open_page(client, sid)
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="1")
    assert "TaskRouter kept priority 100 instead of 1" in response.content.decode()


# --- attributes ---------------------------------------------------------------------------


def test_invalid_json_attributes_are_refused_at_the_field_keeping_the_text(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    typed = '{"language": "es",, }'
    response = post_section(
        client, sid, "attributes", editor_token(html, "attributes"), attributes=typed
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Attributes is not valid JSON: Expecting property name" in body
    # Kept as typed, and escaped (the widget's escaping may spell a quote either way).
    assert typed in unescape(body)
    assert typed not in body
    assert writes == []


def test_attributes_longer_than_4096_characters_once_compacted_are_refused(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(
        client,
        sid,
        "attributes",
        editor_token(html, "attributes"),
        attributes='{"notes": "' + "x" * 4100 + '"}',
    )
    assert response.status_code == 422
    assert "at most 4,096 characters" in response.content.decode()


def test_attributes_that_are_not_an_object_are_refused(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(
        client, sid, "attributes", editor_token(html, "attributes"), attributes="[1, 2]"
    )
    assert response.status_code == 422
    assert "must be a JSON object" in response.content.decode()


def test_the_attributes_preview_lists_changes_key_by_key_without_writing(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    task = sandbox.fetch(sid)
    html = open_page(client, sid)
    edited = dict(task.attributes)
    edited["language"] = "de"
    edited["new_key"] = True
    edited.pop("skills", None)
    import json

    response = client.post(
        f"/w/Support/tasks/{sid}/edit/attributes/",
        {
            "editor-attributes": editor_token(html, "attributes"),
            "attributes-attributes": json.dumps(edited),
            "preview": "1",
        },
        **htmx("edit-attributes"),
    )
    body = response.content.decode()
    assert response.status_code == 200
    keys = re.findall(r'<th scope="row" class="mono">(\w+)</th>', body)
    assert set(keys) == {"language", "new_key"} | (
        {"skills"} if "skills" in task.attributes else set()
    )
    assert writes == []
    assert sandbox.fetch(sid).etag == task.etag


# --- start time and channel ----------------------------------------------------------------


def test_a_virtual_start_time_in_the_future_is_refused(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(
        client, sid, "start", editor_token(html, "start"), virtual_start_time="2999-01-01T00:00:00"
    )
    assert response.status_code == 422
    assert "cannot be in the future" in response.content.decode()


def test_move_to_the_front_puts_the_task_before_every_other_pending_task_in_its_queue(
    client, sandbox
):
    ws = sandbox.workspace_sid()
    query = taskrouter.TaskQuery(statuses=("pending",), task_queue_name="Billing")
    pending = list(taskrouter.iter_tasks(workspace_sid=ws, query=query))
    last = max(pending, key=lambda t: t.virtual_start_time)
    html = open_page(client, last.sid)
    response = post_section(client, last.sid, "start", editor_token(html, "start"), front="on")
    assert response.status_code == 200
    moved = sandbox.fetch(last.sid)
    others = [t.virtual_start_time for t in pending if t.sid != last.sid]
    assert moved.virtual_start_time < min(others)


# --- delete --------------------------------------------------------------------------------


def test_delete_with_the_stored_version_removes_the_task_and_returns_to_the_table(
    client, sandbox, writes
):
    sid = sandbox.task_sid("completed")
    html = open_page(client, sid)
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/delete/",
        {"editor-delete": editor_token(html, "delete")},
        **htmx("edit-delete"),
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/w/Support/tasks/"
    assert writes[0]["operation"] == "delete" and writes[0]["if_match"]
    with pytest.raises(taskrouter.NotFound):
        sandbox.fetch(sid)


def test_delete_of_a_task_changed_meanwhile_is_a_conflict(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    sandbox.change(sid, priority=12)
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/delete/",
        {"editor-delete": editor_token(html, "delete")},
        **htmx("edit-delete"),
    )
    assert response.status_code == 409
    assert "Delete the current version" in response.content.decode()
    assert sandbox.fetch(sid).priority == 12


def test_a_tampered_version_token_is_treated_as_expired(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    token = editor_token(open_page(client, sid), "priority")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = post_section(client, sid, "priority", forged, priority="8")
    assert response.status_code == 409
    assert "This form had expired" in response.content.decode()
    assert writes == []


def test_opening_a_task_page_writes_nothing_to_the_database(client, sandbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sid = sandbox.task_sid("pending")
    client.get("/w/Support/tasks/")  # signing in (once per person) is not the page's doing
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert client.get(f"/w/Support/tasks/{sid}/").status_code == 200
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []


def test_a_token_of_one_form_cannot_save_another(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(client, sid, "priority", editor_token(html, "channel"), priority="8")
    assert response.status_code == 409
    assert writes == []


def test_after_a_cancel_every_other_section_shows_the_task_is_closed(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = post_section(
        client,
        sid,
        "status",
        editor_token(html, "status"),
        page=page_tokens(html),
        assignment_status="canceled",
        reason="duplicate",
    )
    body = response.content.decode()
    assert response.status_code == 200
    for name in ("priority", "channel", "start", "send", "attributes"):
        redrawn = re.search(rf'<section class="task-actions edit-{name}"[^>]*hx-swap-oob', body)
        assert redrawn, name
    assert body.count("TaskRouter does not change closed tasks") == 6


def test_taskrouters_refusal_of_a_closed_task_is_in_plain_words(sandbox):
    sid = sandbox.task_sid("pending")
    task = sandbox.change(sid, assignment_status="canceled", reason="elsewhere")
    with pytest.raises(taskrouter.Rejected) as refused:
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=task.workspace_sid,
            task_sid=sid,
            if_match=task.etag,
            priority=3,
        )
    message = refused.value.user_message
    assert sid in message
    assert "account" not in message and task.account_sid not in message


# --- expired editors, failures, no JavaScript ------------------------------------------------


def test_an_unknown_editor_token_is_treated_as_a_conflict_keeping_the_input(client, sandbox):
    sid = sandbox.task_sid("pending")
    response = post_section(client, sid, "priority", "made-up-token", priority="8")
    body = response.content.decode()
    assert response.status_code == 409
    assert "This form had expired" in body
    assert 'value="8"' in body


def test_a_form_version_belongs_to_the_person_it_was_shown_to(client, sandbox, signed_in):
    sid = sandbox.task_sid("pending")
    token = editor_token(open_page(client, sid), "priority")
    stranger = signed_in("editor")  # the default client is an admin: another person
    response = post_section(stranger, sid, "priority", token, priority="8")
    assert response.status_code == 409
    assert "This form had expired" in response.content.decode()


def test_taskrouter_failing_during_a_save_keeps_the_input_and_says_so(
    client, sandbox, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    loopback_sandbox.faults.set("503;methods=POST")
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="77")
    body = response.content.decode()
    assert response.status_code == 503
    assert "TaskRouter had a problem" in body and "Nothing you typed is lost" in body
    assert 'value="77"' in body


def test_without_javascript_a_save_redirects_back_to_the_page_with_a_message(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/priority/",
        {"editor-priority": editor_token(html, "priority"), "priority-priority": "6"},
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Saved priority." in page


def test_without_javascript_a_validation_error_shows_the_whole_page(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/priority/",
        {"editor-priority": editor_token(html, "priority"), "priority-priority": "-5"},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "<html" in body and 'id="task-facts"' in body
    assert "Enter a whole number from 0 to 2,147,483,647." in body


# --- the table row ---------------------------------------------------------------------------


def row_token(html: str) -> str:
    return re.search(r'name="editor-row" value="([^"]+)"', html).group(1)


def test_the_row_editor_saves_priority_and_swaps_only_the_row(client, sandbox, writes):
    sid = sandbox.task_sid("reserved")
    editor = client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}"))
    html = editor.content.decode()
    assert editor.status_code == 200
    assert html.strip().startswith(f'<tr id="row-{sid}"') and 'data-editing="1"' in html
    offered = re.findall(r'<option value="(\w+)"', html)
    assert offered == ["canceled"]  # from reserved, only cancel may be requested
    response = client.post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"editor-row": row_token(html), "row-priority": "31", "row-assignment_status": ""},
        **htmx(f"row-{sid}"),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.strip().startswith(f'<tr id="row-{sid}"') and "data-editing" not in body
    assert '<td class="col-number">31</td>' in body
    assert writes[0]["if_match"]


def test_the_row_editor_refuses_a_cancel_without_reason(client, sandbox, writes):
    sid = sandbox.task_sid("pending")
    html = client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}")).content.decode()
    response = client.post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"editor-row": row_token(html), "row-assignment_status": "canceled", "row-reason": ""},
        **htmx(f"row-{sid}"),
    )
    assert response.status_code == 422
    assert "Say why you cancel this task" in response.content.decode()
    assert writes == []


def test_the_row_editor_shows_a_conflict_and_then_applies_to_the_current_version(client, sandbox):
    sid = sandbox.task_sid("pending")
    html = client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}")).content.decode()
    sandbox.change(sid, priority=64)
    conflict = client.post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"editor-row": row_token(html), "row-priority": "2", "row-assignment_status": ""},
        **htmx(f"row-{sid}"),
    )
    body = conflict.content.decode()
    assert conflict.status_code == 409
    assert "The task changed since you opened it" in body and 'value="2"' in body
    applied = client.post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"editor-row": row_token(body), "row-priority": "2", "row-assignment_status": ""},
        **htmx(f"row-{sid}"),
    )
    assert applied.status_code == 200
    assert sandbox.fetch(sid).priority == 2


def test_closing_the_row_editor_redraws_the_row(client, sandbox):
    sid = sandbox.task_sid("pending")
    response = client.get(f"/w/Support/tasks/{sid}/row/?cols=language", **htmx(f"row-{sid}"))
    body = response.content.decode()
    assert body.strip().startswith(f'<tr id="row-{sid}"')
    assert "row-changed" not in body
    assert re.search(r'<td class="col-attribute">(en|es|fr|de)</td>', body)


# --- create ----------------------------------------------------------------------------------


def test_create_refuses_bad_input_at_each_field_and_keeps_it(client, writes):
    response = client.post(
        "/w/Support/tasks/new/",
        {"attributes": "{oops", "priority": "-1", "timeout": "0", "workflow": ""},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Attributes is not valid JSON" in body
    assert "Enter a whole number from 0 to 2,147,483,647." in body  # priority
    assert "Enter a whole number from 1 to 1,209,600." in body  # timeout
    assert "This field is required" in body  # two workflows: TaskRouter needs one named
    assert "{oops" in body
    assert writes == []


def test_create_makes_the_task_and_shows_it(client, sandbox):
    workflow = taskrouter.list_workflows(workspace_sid=sandbox.workspace_sid())[0]
    response = client.post(
        "/w/Support/tasks/new/",
        {
            "attributes": '{"customer": {"name": "Grace"}, "language": "es"}',
            "priority": "5",
            "timeout": "3600",
            "task_channel": "chat",
            "workflow": workflow.sid,
        },
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Created task WT" in page
    sid = re.search(r"/tasks/(WT[0-9a-f]{32})/", response["Location"]).group(1)
    task = sandbox.fetch(sid)
    assert task.attributes == {"customer": {"name": "Grace"}, "language": "es"}
    assert (task.timeout, task.task_channel_unique_name, task.etag) == (3600, "chat", "0")


def test_create_by_htmx_redirects_the_browser_to_the_new_task(client, sandbox):
    workflow = taskrouter.list_workflows(workspace_sid=sandbox.workspace_sid())[0]
    response = client.post(
        "/w/Support/tasks/new/",
        {"attributes": "{}", "workflow": workflow.sid},
        **htmx("create-form"),
    )
    assert re.fullmatch(r"/w/Support/tasks/WT[0-9a-f]{32}/", response["HX-Redirect"])


# --- nothing typed is lost, whatever fails ---------------------------------------------------


def test_without_javascript_a_save_during_an_outage_keeps_the_typed_value(
    client, sandbox, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)  # the workspace list is cached from here on
    loopback_sandbox.faults.set("503")
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/priority/",
        {"editor-priority": editor_token(html, "priority"), "priority-priority": "77"},
    )
    body = response.content.decode()
    assert response.status_code == 503
    assert "TaskRouter had a problem" in body and "Nothing you typed is lost" in body
    assert 'value="77"' in body


def test_an_expired_form_saved_during_an_outage_keeps_the_typed_value(
    client, sandbox, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    open_page(client, sid)
    loopback_sandbox.faults.set("503")
    response = post_section(client, sid, "priority", "made-up-token", priority="78")
    body = response.content.decode()
    assert response.status_code == 503
    assert 'value="78"' in body and "Nothing you typed is lost" in body


def test_an_htmx_save_failing_before_the_form_is_read_leaves_the_form_in_place(
    client, sandbox, loopback_sandbox, settings
):
    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    settings.TASKROUTER_DIRECTORY_TTL = 0
    from django.core.cache import cache

    cache.clear()  # the workspace lookup must now reach TaskRouter, which is down
    loopback_sandbox.faults.set("503")
    response = post_section(client, sid, "priority", editor_token(html, "priority"), priority="79")
    assert response.status_code == 503
    # The problem goes to the page's alert area; the section (and what was typed) stays.
    assert response["HX-Retarget"] == "#alerts"
    assert "TaskRouter" in response.content.decode()


def test_the_row_editor_shows_visibly_when_the_workflow_keeps_the_priority(client, sandbox):
    sid = sandbox.vip_pending_sid()
    html = client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx(f"row-{sid}")).content.decode()
    response = client.post(
        f"/w/Support/tasks/{sid}/row/edit/",
        {"editor-row": row_token(html), "row-priority": "1", "row-assignment_status": ""},
        **htmx(f"row-{sid}"),
    )
    body = response.content.decode()
    # A note row under the saved row, on screen, not only in the live region.
    note = re.search(rf'<tr class="row-note" data-note-for="{sid}">.*?</tr>', body, re.S)
    assert note and "TaskRouter kept priority 100 instead of 1" in note.group(0)


def test_before_saving_the_page_says_when_the_workflow_fixes_the_priority(client, sandbox):
    vip = sandbox.vip_pending_sid()
    priority_section = section_html(open_page(client, vip), "priority")
    assert "TaskRouter keeps 100 whatever is saved here" in priority_section
    ordinary = sandbox.task_sid("pending")
    assert "whatever is saved here" not in section_html(open_page(client, ordinary), "priority")


# --- roles -----------------------------------------------------------------------------------


def test_a_viewer_sees_the_task_and_its_history_but_no_form(sandbox, signed_in):
    viewer = signed_in("viewer")
    html = viewer.get(f"/w/Support/tasks/{sandbox.task_sid('pending')}/").content.decode()
    assert 'id="task-facts"' in html and ">Timeline<" in html
    assert 'name="editor-' not in html


def test_an_editor_is_not_offered_delete_and_is_refused_it(client, sandbox, signed_in, writes):
    sid = sandbox.task_sid("pending")
    editor = signed_in("editor")
    html = editor.get(f"/w/Support/tasks/{sid}/").content.decode()
    assert 'id="edit-priority"' in html and 'id="edit-delete"' not in html
    token = editor_token(open_page(client, sid), "delete")  # an admin's form
    response = editor.post(f"/w/Support/tasks/{sid}/edit/delete/", {"editor-delete": token})
    assert response.status_code == 403
    assert writes == []


def test_a_save_names_the_person_and_what_they_saw_in_the_audit_trail(client, sandbox):
    from tasks_app.models import AuditRecord

    sid = sandbox.task_sid("pending")
    html = open_page(client, sid)
    before = sandbox.fetch(sid).priority
    post_section(client, sid, "priority", editor_token(html, "priority"), priority="5")
    record = AuditRecord.objects.get(task_sid=sid)
    assert record.actor == "admin@example.com"
    assert record.outcome == "done"
    assert record.before["priority"] == before


def test_a_task_with_unreadable_attributes_is_never_saved_over_with_an_empty_stand_in(
    client, sandbox, writes
):
    sid = sandbox.task_sid("pending")
    with sandbox.store.write() as conn:
        conn.execute("UPDATE tasks SET attributes = ? WHERE sid = ?", ('{"a": NaN, "b": 1}', sid))
    html = open_page(client, sid)
    # The attributes editor starts from what TaskRouter holds, not from {}.
    assert "NaN" in section_html(html, "attributes")
    response = post_section(
        client,
        sid,
        "status",
        editor_token(html, "status"),
        assignment_status="canceled",
        reason="dup",
        attributes='{"c": 2}',
    )
    assert response.status_code == 422
    assert "cannot be merged" in response.content.decode()
    assert writes == []
