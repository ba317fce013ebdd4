"""What a supervisor does to tasks, in a real browser: edit a row in place, edit parts of
the task page, mistype JSON, forget a reason, collide with a colleague or with TaskRouter
itself, cancel twenty tasks at once, create and delete. Each test asserts what the user
would notice on screen, and checks TaskRouter (through the service module) for what
really happened.

Waiting is Playwright's: every ``expect`` retries until it holds (or times out); there
are no fixed sleeps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tasks_app import titles
from tasks_app.taskrouter import service as taskrouter

TABLE = "/w/Support/tasks/"
# A queue whose workflow target leaves the priority alone (Billing and VIP Care keep
# theirs), so a priority change is visible.
FREE_QUEUE = "Technical Support"
# Chromium logs every 4xx answer; form errors (422) and conflicts (409) are answers the
# app gives on purpose, and htmx swaps them in (static/js/taskdeck.js).
EXPECTED_STATUSES = r"status of (409|422) \("


# --- Helpers -----------------------------------------------------------------------------


def settled(page: Page) -> None:
    """Wait until htmx has finished every request, swap and settle (call it after waiting
    for a visible change; htmx processes swapped-in forms only when they settle)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def pending_in_free_queue(sandbox, limit: int = 1) -> list[str]:
    with sandbox.store.read() as conn:
        rows = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "WHERE t.workspace_sid = ? AND q.friendly_name = ? "
            "AND t.assignment_status = 'pending' ORDER BY t.sid LIMIT ?",
            (sandbox.workspace_sid(), FREE_QUEUE, limit),
        ).fetchall()
    sids = [row["sid"] for row in rows]
    assert len(sids) == limit, f"the seed should have {limit} pending tasks in {FREE_QUEUE}"
    return sids


def open_free_queue_table(page: Page, rows: int = 1) -> list[str]:
    """The table of pending tasks in FREE_QUEUE; the SIDs of its first ``rows`` rows."""
    page.goto(f"{TABLE}?status=pending&queue={FREE_QUEUE}")
    expect(page.locator("#live-controls")).to_be_visible()  # the page's script has run
    sids = page.locator("#task-rows > tr").evaluate_all("rows => rows.map(r => r.dataset.sid)")
    assert len(sids) >= rows, f"the seed should have {rows} pending tasks in {FREE_QUEUE}"
    return sids[:rows]


def preview_a_cancel(page: Page, sids: list[str], reason: str) -> Locator:
    """Tick ``sids`` in the table, ask for a cancel with ``reason``; the bulk bar."""
    for sid in sids:
        page.get_by_role("checkbox", name=f"Select {sid}", exact=True).check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Reason").fill(reason)
    bar.get_by_role("button", name="Preview").click()
    return bar


def fact(page: Page, label: str) -> Locator:
    """A value of the task page's facts list, by its term."""
    return page.locator(f"#task-facts dt:text-is('{label}') + dd")


def table_cell(page: Page, sid: str, header: str) -> Locator:
    labels = [t.strip(" \n\t▲▼•⇅") for t in page.locator("#task-table thead th").all_inner_texts()]
    assert header in labels, f"no column {header!r} in {labels}"
    return page.locator(f"#row-{sid} > :nth-child({labels.index(header) + 1})")


def mark_the_page(page: Page) -> None:
    """A full page load makes a new window object and loses this."""
    page.evaluate("window.__marker = 'same page'")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("window.__marker") == "same page", "the page was reloaded"


def diff_row(conflict: Locator, label: str) -> Locator:
    """A row of the conflict's table: the field, you saw, you asked for, now."""
    return conflict.locator("table.diff tbody tr").filter(
        has=conflict.page.get_by_role("rowheader", name=label, exact=True)
    )


@pytest.fixture
def second_user(new_context: Callable[..., BrowserContext], browser_problems) -> BrowserContext:
    """Another person's browser: its own context (own cookies, so its own session),
    watched by the same guard as the test's own page."""
    other = new_context()
    browser_problems.watch(other)
    return other


def flush(context: BrowserContext) -> None:
    """Deliver every console message of ``context``'s pages to the guard before the test
    ends (the guard flushes only the test's own context)."""
    for page in context.pages:
        page.evaluate("0")


# --- The table row's editor --------------------------------------------------------------


def test_editing_the_priority_in_a_table_row_swaps_only_that_row_and_announces_it(
    page: Page, sandbox
):
    sid, neighbour = open_free_queue_table(page, rows=2)
    mark_the_page(page)
    page.locator(f"#row-{neighbour}").evaluate("row => row.dataset.marker = 'untouched'")
    before = sandbox.fetch(sid)
    new_priority = before.priority + 17

    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)
    priority = row.get_by_label("Priority")
    expect(priority).to_have_value(str(before.priority))
    priority.fill(str(new_priority))
    row.get_by_role("button", name="Save", exact=True).click()

    expect(row).not_to_have_attribute("data-editing", "1")
    expect(table_cell(page, sid, "Priority")).to_have_text(str(new_priority))
    after = sandbox.fetch(sid)
    assert after.priority == new_priority
    expect(page.locator("#announcer")).to_have_text("Saved priority.")
    expect(page.locator(f"#row-{neighbour}")).to_have_attribute("data-marker", "untouched")
    expect(page.get_by_role("link", name=f"Edit {sid}", exact=True)).to_be_visible()
    assert_same_page(page)


# --- The task page's sections ------------------------------------------------------------


def test_saving_the_priority_on_the_task_page_swaps_its_section_and_refreshes_the_facts(
    page: Page, sandbox
):
    (sid,) = pending_in_free_queue(sandbox)
    before = sandbox.fetch(sid)
    page.goto(f"{TABLE}{sid}/")
    expect(page.locator("#task-updated")).to_have_attribute("data-etag", before.etag)
    mark_the_page(page)
    page.locator("#edit-attributes").evaluate("s => s.dataset.marker = 'untouched'")

    section = page.locator("#edit-priority")
    section.get_by_label("Priority").fill("23")
    section.get_by_role("button", name="Save priority").click()

    saved = section.locator(".banner-success")
    expect(saved).to_contain_text("Saved priority.")
    after = sandbox.fetch(sid)
    assert after.priority == 23 and after.etag != before.etag
    expect(saved).to_have_text("Saved priority.")
    expect(fact(page, "Priority")).to_have_text("23")
    expect(page.locator("#task-updated")).to_have_attribute("data-etag", after.etag)
    expect(section.get_by_label("Priority")).to_have_value("23")
    expect(page.locator("#announcer")).to_have_text("Saved priority.")
    expect(page.locator("#edit-attributes")).to_have_attribute("data-marker", "untouched")
    assert_same_page(page)


def test_invalid_json_attributes_are_explained_at_the_field_and_nothing_typed_is_lost(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    before = sandbox.fetch(sid)
    page.goto(f"{TABLE}{sid}/")
    # Typed but not saved in two other sections: a save elsewhere must leave them be.
    page.locator("#edit-priority").get_by_label("Priority").fill("4321")
    page.locator("#edit-status").get_by_label("Reason").fill("half-typed reason")

    typed = '{\n  "language": "es",,\n  "vip": true\n}'
    with pytest.raises(json.JSONDecodeError) as broken:
        json.loads(typed)
    section = page.locator("#edit-attributes")
    editor = section.get_by_label("Attributes (JSON)")
    editor.fill(typed)
    section.get_by_role("button", name="Save attributes").click()

    expected = (
        f"Attributes is not valid JSON: {broken.value.msg} "
        f"at line {broken.value.lineno}, column {broken.value.colno}."
    )
    assert "line 2," in expected
    editor = section.get_by_label("Attributes (JSON)")
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(section.locator(".errorlist")).to_have_text(expected)
    expect(editor).to_have_accessible_description(re.compile(re.escape(expected)))
    expect(editor).to_have_value(typed)
    expect(page.locator("#edit-priority").get_by_label("Priority")).to_have_value("4321")
    expect(page.locator("#edit-status").get_by_label("Reason")).to_have_value("half-typed reason")
    assert sandbox.fetch(sid).etag == before.etag  # nothing was written


def test_cancel_without_a_reason_is_refused_at_the_reason_field(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-status")
    section.get_by_role("radio", name="Cancel", exact=True).check()
    section.get_by_role("button", name="Change status").click()

    reason = section.get_by_label("Reason")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_have_accessible_description(
        re.compile("Say why you cancel this task; TaskRouter records the reason.")
    )
    expect(section.get_by_role("radio", name="Cancel", exact=True)).to_be_checked()
    after = sandbox.fetch(sid)
    assert after.assignment_status == "pending"
    assert after.etag == before.etag
    expect(page.locator("h1 .badge")).to_have_text("Pending")


# --- Conflicts ---------------------------------------------------------------------------


def test_two_supervisors_save_the_same_priority_the_second_sees_a_conflict_and_applies(
    page: Page, second_user: BrowserContext, sandbox, browser_problems, axe
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    original = sandbox.fetch(sid).priority
    first, second = page, second_user.new_page()
    for each in (first, second):
        each.goto(f"{TABLE}{sid}/")
        expect(each.locator("#edit-priority").get_by_role("button")).to_be_enabled()

    first.locator("#edit-priority").get_by_label("Priority").fill("21")
    first.locator("#edit-priority").get_by_role("button", name="Save priority").click()
    expect(first.locator("#edit-priority .banner-success")).to_contain_text("Saved priority")
    assert sandbox.fetch(sid).priority == 21

    section = second.locator("#edit-priority")
    section.get_by_label("Priority").fill("34")
    section.get_by_role("button", name="Save priority").click()

    conflict = section.get_by_role("alert")
    expect(conflict).to_contain_text("The task changed since you opened it.")
    expect(conflict).to_contain_text("Nothing was overwritten.")
    expect(conflict.get_by_role("columnheader")).to_have_text(
        ["Field", "You saw", "You asked for", "Now"]
    )
    row = diff_row(conflict, "Priority")
    expect(row).to_have_class(re.compile(r"\bdiff-changed\b"))
    expect(row.get_by_role("cell")).to_have_text([str(original), "34", "21 changed"])
    expect(section.get_by_label("Priority")).to_have_value("34")
    expect(second.locator("#announcer")).to_have_text(
        "The task changed since you opened it. Review and apply again."
    )
    assert sandbox.fetch(sid).priority == 21  # the first supervisor's value stands
    settled(second)
    axe(second)

    section.get_by_role("button", name="Apply my change to the current version").click()
    expect(section.locator(".banner-success")).to_contain_text("Saved priority.")
    expect(section.get_by_role("alert")).to_have_count(0)
    expect(fact(second, "Priority")).to_have_text("34")
    final = sandbox.fetch(sid)
    assert final.priority == 34
    expect(second.locator("#task-updated")).to_have_attribute("data-etag", final.etag)
    flush(second_user)


def test_a_change_made_through_the_api_under_the_task_page_is_a_conflict_not_an_overwrite(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    original = sandbox.fetch(sid).priority
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-priority")
    expect(section.get_by_role("button", name="Save priority")).to_be_enabled()

    sandbox.change(sid, priority=55)
    section.get_by_label("Priority").fill("9")
    section.get_by_role("button", name="Save priority").click()

    conflict = section.get_by_role("alert")
    expect(conflict).to_contain_text("The task changed since you opened it.")
    expect(diff_row(conflict, "Priority").get_by_role("cell")).to_have_text(
        [str(original), "9", "55 changed"]
    )
    expect(section.get_by_label("Priority")).to_have_value("9")
    assert sandbox.fetch(sid).priority == 55  # the API's value survives ...

    section.get_by_role("button", name="Apply my change to the current version").click()
    expect(section.locator(".banner-success")).to_contain_text("Saved priority.")
    assert sandbox.fetch(sid).priority == 9  # ... until the user applies theirs
    expect(fact(page, "Priority")).to_have_text("9")


def test_a_change_made_through_the_api_under_a_row_editor_is_a_conflict_not_an_overwrite(
    page: Page, sandbox, browser_problems, axe
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = open_free_queue_table(page)
    original = sandbox.fetch(sid).priority
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)

    sandbox.change(sid, priority=66)
    row.get_by_label("Priority").fill("2")
    row.get_by_role("button", name="Save", exact=True).click()

    conflict = row.get_by_role("alert")
    expect(conflict).to_contain_text("The task changed since you opened it.")
    expect(diff_row(conflict, "Priority").get_by_role("cell")).to_have_text(
        [str(original), "2", "66 changed"]
    )
    expect(row).to_have_attribute("data-editing", "1")  # still the editor, input kept
    expect(row.get_by_label("Priority")).to_have_value("2")
    expect(page.locator("#announcer")).to_have_text("The task changed since you opened it.")
    assert sandbox.fetch(sid).priority == 66
    settled(page)
    axe(page)

    row.get_by_role("button", name="Apply to the current version").click()
    expect(row).not_to_have_attribute("data-editing", "1")
    expect(table_cell(page, sid, "Priority")).to_have_text("2")
    assert sandbox.fetch(sid).priority == 2


# --- Bulk actions ------------------------------------------------------------------------


def test_a_bulk_cancel_of_20_tasks_with_one_changed_meanwhile_reports_19_done_1_conflict(
    page: Page, sandbox, settings, axe
):
    settings.TASKDECK_BULK_RATE = 200
    settings.TASKDECK_BULK_CHUNK_SECONDS = 0.025  # five writes a chunk: htmx asks for more
    page.goto(f"{TABLE}?status=pending")
    sids = page.locator("#task-rows > tr").evaluate_all("rows => rows.map(r => r.dataset.sid)")
    chosen, changed = sids[:20], sids[7]
    assert len(chosen) == 20
    for sid in chosen:
        page.get_by_role("checkbox", name=f"Select {sid}", exact=True).check()
    bar = page.locator("#bulk-form")
    expect(bar.locator("#selection-count")).to_have_text("(20 selected)")
    bar.get_by_label("Action").select_option(label="Cancel (pending or reserved)")
    bar.get_by_label("Reason").fill("duplicate of an incident")
    bar.get_by_role("button", name="Preview").click()

    panel = page.locator("#bulk-panel")
    expect(panel.locator("#bulk-summary")).to_have_text("20 to change.")
    expect(panel.locator(".bulk-items tbody tr")).to_have_count(20)
    expect(panel.locator(".bulk-items .result")).to_have_text(["Will be changed"] * 20)
    for sid in chosen:  # nothing written yet
        assert sandbox.fetch(sid).assignment_status == "pending"
    settled(page)

    # A colleague touches one of them between the preview and the confirmation.
    task = sandbox.fetch(changed)
    sandbox.change(changed, attributes={**task.attributes, "vip": True})
    panel.get_by_role("button", name="Cancel 20 tasks").click()

    expect(panel.locator("#bulk-summary")).to_have_text("19 done, 1 conflict.")
    expect(panel.get_by_text("Finished.")).to_be_visible()
    expect(panel.locator(f"#bulk-item-{changed} .result")).to_have_text("Conflict")
    expect(panel.locator(f"#bulk-item-{changed}")).to_contain_text("Changed since the preview")
    expect(panel.locator(".bulk-items .result-done")).to_have_count(19)
    for sid in chosen:
        now = sandbox.fetch(sid)
        if sid == changed:
            assert (now.assignment_status, now.attributes["vip"]) == ("pending", True)
        else:
            assert (now.assignment_status, now.reason) == ("canceled", "duplicate of an incident")
    settled(page)
    axe(page)

    # The results stay on the job's own page.
    panel.get_by_role("link", name="Permanent link to these results").click()
    expect(page).to_have_url(re.compile(r"/w/Support/tasks/bulk/[\w-]+/$"))
    expect(page.locator("#bulk-summary")).to_have_text("19 done, 1 conflict.")
    expect(page.locator(f"#bulk-item-{changed} .result")).to_have_text("Conflict")
    axe(page)


def test_with_the_job_queue_down_a_bulk_preview_says_so_and_keeps_the_selection(
    page: Page, sandbox, settings, browser_problems
):
    from tasks_app.models import BulkJob
    from tests.serving import free_port

    browser_problems.expect_console_error(r"status of 503 \(")
    # RQ's Redis is down: nothing listens where the queue should be.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": f"redis://127.0.0.1:{free_port()}/0"}}
    sids = open_free_queue_table(page, rows=2)
    bar = preview_a_cancel(page, sids, "duplicate")

    alert = page.locator("#bulk-panel [role=alert]")
    expect(alert).to_contain_text("The job queue is not answering")
    expect(alert).to_contain_text("your selection is still here")
    for sid in sids:
        expect(page.get_by_role("checkbox", name=f"Select {sid}", exact=True)).to_be_checked()
    expect(bar.get_by_label("Reason")).to_have_value("duplicate")
    expect(bar.locator("#selection-count")).to_have_text("(2 selected)")
    assert not BulkJob.objects.exists()


# --- Creating and deleting ---------------------------------------------------------------


def test_creating_a_task_explains_bad_json_at_the_field_then_opens_the_new_task(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    page.goto(f"{TABLE}new/")
    form = page.locator("#create-form")
    attributes = form.get_by_label("Attributes (JSON)")
    typed = '{"customer": {"name": "Grace"}, "language": "es"'  # no closing brace
    attributes.fill(typed)
    form.get_by_label("Priority").fill("5")
    form.get_by_role("button", name="Create task").click()

    attributes = page.locator("#create-form").get_by_label("Attributes (JSON)")
    expect(attributes).to_have_attribute("aria-invalid", "true")
    expect(attributes).to_have_accessible_description(
        re.compile(r"Attributes is not valid JSON: .* at line 1, column \d+\.")
    )
    expect(attributes).to_have_value(typed)
    expect(page.locator("#create-form").get_by_label("Priority")).to_have_value("5")
    settled(page)

    attributes.fill(typed + "}")
    page.locator("#create-form").get_by_label("Workflow").select_option(label="Support Routing")
    page.locator("#create-form").get_by_role("button", name="Create task").click()

    expect(page).to_have_url(re.compile(rf"{TABLE}WT[0-9a-f]{{32}}/$"))
    sid = re.search(r"/(WT[0-9a-f]{32})/$", page.url).group(1)
    expect(page.locator(".messages")).to_contain_text(f"Created task {sid} in queue")
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)
    task = sandbox.fetch(sid)
    assert task.attributes == {"customer": {"name": "Grace"}, "language": "es"}
    assert task.priority == 5
    assert task.workflow_friendly_name == "Support Routing"


def test_deleting_a_task_after_confirming_returns_to_the_table_and_the_task_is_gone(
    page: Page, sandbox
):
    sid = sandbox.task_sid("completed")
    title = titles.task_title(sandbox.fetch(sid))
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-delete")
    confirm = section.get_by_role("button", name=f"Delete task {sid}")
    expect(confirm).to_be_hidden()  # behind the disclosure
    section.get_by_text("Delete this task…").click()
    expect(confirm).to_be_visible()
    confirm.click()

    expect(page).to_have_url(re.compile(rf"{TABLE}$"))
    named = f"“{title}” ({sid})" if title else sid  # by its name, the SID beside it
    expect(page.locator(".messages")).to_have_text(f"Deleted task {named}.")
    expect(page.locator(f"#row-{sid}")).to_have_count(0)
    with pytest.raises(taskrouter.NotFound):
        sandbox.fetch(sid)


# --- Keyboard and screen-reader users after edits ------------------------------------------


def test_two_row_editors_open_at_once_each_have_their_own_labelled_fields(page: Page, sandbox):
    first, second = open_free_queue_table(page, rows=2)
    for sid in (first, second):
        page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
        expect(page.locator(f"#row-{sid}")).to_have_attribute("data-editing", "1")
        settled(page)
    duplicated = page.evaluate(
        """() => {
            const ids = Array.from(document.querySelectorAll("[id]"), (el) => el.id);
            return [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
        }"""
    )
    assert duplicated == [], f"ids used twice on the page: {duplicated}"
    for sid in (first, second):
        expect(page.locator(f"#row-{sid}").get_by_label("Priority")).to_have_count(1, timeout=500)


def test_after_a_refused_save_focus_is_on_the_field_to_fix(page: Page, sandbox, browser_problems):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-attributes")
    section.get_by_label("Attributes (JSON)").fill('{"language": ')
    section.get_by_role("button", name="Save attributes").click()
    editor = section.get_by_label("Attributes (JSON)")
    expect(editor).to_have_attribute("aria-invalid", "true")
    settled(page)
    expect(editor).to_be_focused(timeout=500)


def test_opening_a_row_editor_by_keyboard_puts_focus_in_the_editor(page: Page, sandbox):
    (sid,) = open_free_queue_table(page)
    page.get_by_role("link", name=f"Edit {sid}", exact=True).press("Enter")
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)
    expect(row.get_by_label("Priority")).to_be_focused(timeout=500)


def test_the_outcome_of_a_bulk_action_is_announced(page: Page, sandbox, settings):
    settings.TASKDECK_BULK_RATE = 200
    sids = open_free_queue_table(page, rows=2)
    preview_a_cancel(page, sids, "duplicate")
    page.get_by_role("button", name="Cancel 2 tasks").click()
    expect(page.locator("#bulk-summary")).to_have_text("2 done.")
    announcer = page.locator("#announcer")
    expect(announcer).to_contain_text("Bulk action finished: 2 done.")
    # The table then refreshes (the cancelled tasks leave this pending-only view); its own
    # announcement must not talk over the job's outcome.
    for sid in sids:
        expect(page.locator(f"#row-{sid}")).to_have_count(0)
    expect(announcer).to_have_text(
        "Bulk action finished: 2 done. Live update: 2 tasks left this view."
    )
