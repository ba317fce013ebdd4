"""Where a change will send a task, in Chromium: the route panel follows what is typed on
the task page and in the row editor (htmx, debounced) and says where the task went after
the save; a bulk "send to Spanish Support" names each task's destination in its preview,
then writes. Each journey checks TaskRouter (the sandbox) for what really happened."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import settled

pytestmark = pytest.mark.both_modes

TABLE = "/w/Support/tasks/"
GENERAL = "General Support"


def tasks_in(sandbox, *, queue: str, status: str = "pending", limit: int = 1) -> list[str]:
    """Tasks of the Support Routing workflow in ``queue`` whose attributes no filter
    matches (the workflow's default queue) unless ``queue`` says otherwise."""
    with sandbox.store.read() as conn:
        rows = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "JOIN workflows w ON w.sid = t.workflow_sid WHERE t.workspace_sid = ? "
            "AND q.friendly_name = ? AND w.friendly_name = 'Support Routing' "
            "AND t.assignment_status = ? ORDER BY t.sid LIMIT ?",
            (sandbox.workspace_sid(), queue, status, limit),
        ).fetchall()
    sids = [row["sid"] for row in rows]
    assert len(sids) == limit, f"the seed has {limit} {status} tasks in {queue}"
    return sids


def test_the_task_page_says_where_typed_attributes_send_the_task_and_where_it_went(
    page: Page, sandbox
):
    (sid,) = tasks_in(sandbox, queue=GENERAL)
    task = sandbox.fetch(sid)
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-attributes")
    panel = section.locator("#route-attributes")
    expect(panel.locator(".route-headline")).to_have_text(f"If saved: stays in {GENERAL}.")
    expect(panel.locator(".route-filter")).to_have_text(
        "No filter matches: the workflow's default queue."
    )
    editor = section.get_by_label("Attributes (JSON)")

    # Typing is enough: the panel follows the text (no button pressed, nothing written).
    editor.fill(json.dumps(task.attributes | {"language": "es"}, indent=2))
    expect(panel.locator(".route-headline")).to_have_text(
        f"If saved: routed to Spanish Support (it is in {GENERAL} now)."
    )
    expect(panel.locator(".route-filter")).to_have_text(
        'Filter “Spanish speakers”: language == "es"'
    )
    expect(panel.locator(".route-priority")).to_have_text(f"Priority stays {task.priority}.")

    # Half-typed JSON: said in the panel, the text left as typed.
    broken = '{"language": "es", "vip": tru'
    editor.fill(broken)
    expect(panel.locator(".route-problem")).to_contain_text("Not routed yet:")
    expect(editor).to_have_value(broken)

    editor.fill(json.dumps(task.attributes | {"language": "es", "vip": True}, indent=2))
    expect(panel.locator(".route-headline")).to_have_text(
        f"If saved: routed to VIP Care (it is in {GENERAL} now)."
    )
    expect(panel.locator(".route-priority")).to_have_text(
        "Priority 100, set by the workflow's target."
    )
    assert sandbox.fetch(sid).etag == task.etag
    settled(page)

    section.get_by_role("button", name="Save attributes").click()
    expect(panel.locator(".route-headline")).to_have_text(
        f"Routed to VIP Care (it was in {GENERAL})."
    )
    expect(page.locator("#task-facts dt:text-is('Queue') + dd")).to_contain_text("VIP Care")
    after = sandbox.fetch(sid)
    assert after.task_queue_friendly_name == "VIP Care"
    assert after.priority == 100


def test_sending_a_task_to_a_queue_from_its_page_previews_the_change_then_routes_it(
    page: Page, sandbox
):
    (sid,) = tasks_in(sandbox, queue=GENERAL)
    before = sandbox.fetch(sid)
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-send")
    expect(section.locator("summary")).to_contain_text("Queues no simple change reaches")
    section.get_by_label("Queue").select_option(label='Spanish Support: set language = "es"')
    panel = section.locator("#route-send")
    expect(panel.locator(".route-change")).to_have_text('Sets language = "es".')
    expect(panel.locator(".route-headline")).to_have_text(
        f"If saved: routed to Spanish Support (it is in {GENERAL} now)."
    )
    settled(page)
    section.get_by_role("button", name="Send").click()
    expect(panel.locator(".route-headline")).to_have_text(
        f"Routed to Spanish Support (it was in {GENERAL})."
    )
    after = sandbox.fetch(sid)
    assert after.task_queue_friendly_name == "Spanish Support"
    assert after.attributes == before.attributes | {"language": "es"}


def test_the_row_editor_previews_where_send_to_routes_the_task_and_says_where_it_went(
    page: Page, sandbox
):
    page.goto(f"{TABLE}?status=pending&queue={GENERAL}&workflow=Support Routing")
    expect(page.locator("#live-controls")).to_be_visible()
    sid = page.locator("#task-rows > tr").first.get_attribute("data-sid")
    before = sandbox.fetch(sid)
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)

    row.get_by_label("Send to").select_option(label='Spanish Support: set language = "es"')
    panel = row.locator(f"#route-row-{sid}")
    expect(panel.locator(".route-headline")).to_have_text(
        f"If saved: routed to Spanish Support (it is in {GENERAL} now)."
    )
    expect(panel.locator(".route-filter")).to_have_text(
        'Filter “Spanish speakers”: language == "es"'
    )
    row.get_by_label("Priority").fill(str(before.priority + 5))
    row.get_by_label("Priority").dispatch_event("change")
    expect(panel.locator(".route-priority")).to_have_text(f"Priority {before.priority + 5}.")
    assert sandbox.fetch(sid).etag == before.etag
    settled(page)

    row.get_by_role("button", name="Save", exact=True).click()
    expect(row).not_to_have_attribute("data-editing", "1")
    note = page.locator(f"tr.row-note[data-note-for='{sid}'] .route-headline")
    expect(note).to_have_text(f"Routed to Spanish Support (it was in {GENERAL}).")
    after = sandbox.fetch(sid)
    assert after.task_queue_friendly_name == "Spanish Support"
    assert after.attributes["language"] == "es"
    assert after.priority == before.priority + 5


def test_a_bulk_send_to_spanish_support_names_each_tasks_destination_then_writes(
    page: Page, sandbox, settings
):
    settings.TASKDECK_BULK_RATE = 200
    pending = tasks_in(sandbox, queue=GENERAL, limit=2)
    (reserved,) = tasks_in(sandbox, queue=GENERAL, status="reserved")
    versions = {sid: sandbox.fetch(sid).etag for sid in (*pending, reserved)}
    page.goto(f"{TABLE}?status=pending,reserved&queue={GENERAL}&size=200")
    expect(page.locator("#live-controls")).to_be_visible()
    for sid in (*pending, reserved):
        page.get_by_role("checkbox", name=f"Select {sid}", exact=True).check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Action").select_option(label="Send to a queue (pending)")
    bar.get_by_label("Send to queue").select_option(label="Spanish Support")
    bar.get_by_role("button", name="Preview").click()

    panel = page.locator("#bulk-panel")
    expect(panel.locator("#bulk-heading")).to_have_text("Send to a queue: Spanish Support: 3 tasks")
    expect(panel.locator("#bulk-summary")).to_have_text("2 to change, 1 skipped.")
    for sid in pending:
        expect(panel.locator(f"#bulk-item-{sid} .bulk-destination")).to_contain_text(
            'Spanish Support: filter “Spanish speakers” (language == "es"); sets language = "es".'
        )
    expect(panel.locator(f"#bulk-item-{reserved}")).to_contain_text(
        "Only a pending task is routed again by its workflow (it is reserved)."
    )
    assert {sid: sandbox.fetch(sid).etag for sid in versions} == versions  # nothing written
    settled(page)

    panel.get_by_role("button", name="Send 2 tasks to Spanish Support").click()
    expect(panel.locator("#bulk-summary")).to_have_text("2 done, 1 skipped.")
    for sid in pending:
        expect(panel.locator(f"#bulk-item-{sid} .result")).to_have_text("Done")
        after = sandbox.fetch(sid)
        assert after.task_queue_friendly_name == "Spanish Support"
        assert after.attributes["language"] == "es"
    assert sandbox.fetch(reserved).etag == versions[reserved]
