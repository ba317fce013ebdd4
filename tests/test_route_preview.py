"""Where a change will send a task: the route panel the task page's forms and the row editor
ask for while the person edits (task_route), and the "Send to a queue" form. The browser
journeys (tests/browser/test_route_journeys.py) drive the same through htmx."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from tests.conftest import htmx_headers as htmx
from tests.test_editing import editor_token, open_page, post_section, section_html

pytestmark = pytest.mark.django_db


def task_in(sandbox, *, queue: str, status: str = "pending") -> str:
    with sandbox.store.read() as conn:
        row = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "JOIN workflows w ON w.sid = t.workflow_sid WHERE t.workspace_sid = ? "
            "AND q.friendly_name = ? AND w.friendly_name = 'Support Routing' "
            "AND t.assignment_status = ? ORDER BY t.sid LIMIT 1",
            (sandbox.workspace_sid(), queue, status),
        ).fetchone()
    assert row, f"the seed has a {status} task in {queue}"
    return row["sid"]


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def route(client, sid: str, section: str, token: str, **fields) -> str:
    data = {f"editor-{section}": token} | {f"{section}-{k}": v for k, v in fields.items()}
    response = client.post(
        f"/w/Support/tasks/{sid}/route/{section}/", data, **htmx(f"route-{section}")
    )
    assert response.status_code == 200
    return text(response.content.decode())


def test_typed_attributes_say_which_filter_queue_and_priority_the_task_would_get(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    task = sandbox.fetch(sid)
    html = open_page(client, sid)
    token = editor_token(html, "attributes")
    assert "If saved: stays in General Support." in text(section_html(html, "attributes"))

    said = route(client, sid, "attributes", token, attributes=json.dumps(task.attributes | {
        "language": "es"}))  # fmt: skip
    assert "If saved: routed to Spanish Support (it is in General Support now)." in said
    assert 'Filter “Spanish speakers”: language == "es"' in said
    assert f"Priority stays {task.priority}." in said

    vip = route(client, sid, "attributes", token, attributes=json.dumps({"vip": True}))
    assert "routed to VIP Care" in vip
    assert "Filter “VIP customers”: vip == true" in vip
    assert "Priority 100, set by the workflow's target." in vip
    assert sandbox.fetch(sid).etag == task.etag  # previews write nothing


def test_attributes_that_are_not_json_are_said_in_place(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    token = editor_token(open_page(client, sid), "attributes")
    said = route(client, sid, "attributes", token, attributes='{"language": "es",')
    assert said.startswith("Not routed yet:")
    assert "JSON" in said


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        ("reserved", "A reserved task is not routed again when its attributes change"),
        ("assigned", "An assigned task is not routed again when its attributes change"),
    ],
)
def test_a_task_with_an_agent_is_not_routed_again_and_the_preview_says_where_a_new_one_would_go(
    client, sandbox, status, sentence
):
    sid = task_in(sandbox, queue="General Support", status=status)
    token = editor_token(open_page(client, sid), "attributes")
    said = route(client, sid, "attributes", token, attributes='{"language": "es"}')
    assert "If saved: stays in General Support." in said
    assert sentence in said
    assert "Spanish Support" in said


def test_send_to_a_queue_offers_the_change_and_names_what_no_simple_change_reaches(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    before = sandbox.fetch(sid)
    html = open_page(client, sid)
    send = section_html(html, "send")
    spanish = re.search(
        r'<option value="(WQ\w+)">Spanish Support: set language = "es"', unescape(send)
    )
    assert spanish, send
    words = text(send)
    assert 'Messaging : “Chat and SMS” (channel IN ["chat", "sms"]) is not a plain' in words
    token = editor_token(html, "send")

    said = route(client, sid, "send", token, queue=spanish.group(1))
    assert 'Sets language = "es".' in said
    assert "routed to Spanish Support" in said

    response = post_section(client, sid, "send", token, queue=spanish.group(1))
    assert response.status_code == 200
    after = sandbox.fetch(sid)
    assert after.task_queue_friendly_name == "Spanish Support"
    assert after.attributes == before.attributes | {"language": "es"}
    assert "Routed to Spanish Support (it was in General Support)." in text(
        section_html(response.content.decode(), "send")
    )


def test_send_to_a_queue_is_only_for_pending_tasks(client, sandbox):
    sid = task_in(sandbox, queue="General Support", status="assigned")
    send = text(section_html(open_page(client, sid), "send"))
    assert "Only a pending task is routed again by its workflow; this one is assigned." in send


def test_the_row_editor_previews_the_route_with_the_priority_typed(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    editor = client.get(f"/w/Support/tasks/{sid}/row/edit/", **htmx()).content.decode()
    token = re.search(r'name="editor-row" value="([^"]+)"', editor).group(1)
    assert re.search(r'<option value="WQ\w+">Spanish Support: set language = ', unescape(editor))
    queue = re.search(r'<option value="(WQ\w+)">Spanish Support', editor).group(1)
    said = route(client, sid, "row", token, priority="7", send_to=queue)
    assert "routed to Spanish Support" in said
    assert "Priority 7." in said


# --- Bulk: send to a queue ------------------------------------------------------------------


def queue_sid(sandbox, name: str) -> str:
    with sandbox.store.read() as conn:
        return conn.execute(
            "SELECT sid FROM task_queues WHERE workspace_sid = ? AND friendly_name = ?",
            (sandbox.workspace_sid(), name),
        ).fetchone()["sid"]


def test_a_bulk_send_names_each_tasks_destination_then_writes_each_with_its_version(
    client, sandbox, settings
):
    from tests.test_bulk import preview, results, run_to_the_end

    settings.TASKDECK_BULK_RATE = 500.0
    general = [task_in(sandbox, queue="General Support")]
    vip = task_in(sandbox, queue="VIP Care")
    reserved = task_in(sandbox, queue="General Support", status="reserved")
    sids = [*general, vip, reserved]
    versions = {sid: sandbox.fetch(sid).etag for sid in sids}
    spanish = queue_sid(sandbox, "Spanish Support")

    response, token = preview(client, action="send", queue=spanish, reason="caller speaks Spanish",
                              task=sids)  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200 and token
    rows = {
        sid: text(row) for sid, row in re.findall(r'id="bulk-item-(WT\w+)">(.*?)</tr>', body, re.S)
    }
    assert (
        'Spanish Support: filter “Spanish speakers” (language == "es"); sets language = "es".'
        in (rows[general[0]])
    )
    assert "is not enough: “VIP customers” (vip == true) comes first" in rows[vip]
    assert "Only a pending task is routed again by its workflow (it is reserved)." in rows[reserved]
    assert all(sandbox.fetch(sid).etag == versions[sid] for sid in sids)  # nothing written yet

    final = run_to_the_end(client, token)
    outcome = results(final)
    assert outcome == {general[0]: "done", vip: "skipped", reserved: "skipped"}
    sent = sandbox.fetch(general[0])
    assert sent.task_queue_friendly_name == "Spanish Support"
    assert sent.attributes["language"] == "es"
    assert sandbox.fetch(vip).etag == versions[vip]


def test_a_bulk_send_needs_a_queue(client):
    from tests.test_bulk import preview

    response, token = preview(client, action="send", task=["WT" + "0" * 32])
    assert response.status_code == 422 and not token
    assert "Choose the queue to send these tasks to." in response.content.decode()


# --- The route view's edges -----------------------------------------------------------------


def test_a_form_that_does_not_route_the_task_has_no_route_preview(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    response = client.post(f"/w/Support/tasks/{sid}/route/priority/", {}, **htmx())
    assert response.status_code == 404


def test_only_editors_ask_where_a_change_sends_a_task(sandbox):
    from django.test import Client

    from tests.identities import IDENTITIES

    sid = task_in(sandbox, queue="General Support")
    viewer = Client(headers=IDENTITIES["viewer"])
    response = viewer.post(f"/w/Support/tasks/{sid}/route/attributes/", {}, **htmx())
    assert response.status_code == 403


def test_without_a_valid_version_token_the_preview_reads_the_task_as_it_is(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    said = route(client, sid, "attributes", "not-a-token", attributes='{"language": "fr"}')
    assert "If saved: routed to French Support (it is in General Support now)." in said


def test_a_queue_nobody_offered_is_said_in_place_not_a_500(client, sandbox):
    sid = task_in(sandbox, queue="General Support")
    token = editor_token(open_page(client, sid), "send")
    said = route(client, sid, "send", token, queue="WQ" + "f" * 32)
    assert said.startswith("Not routed yet:")
