"""The htmx flows the other journeys do not already drive, each as a supervisor meets it in
Chromium: the table's Clear, All statuses and Try again links; a row loading the
attributes a list left out; the row editor's status change; the column chooser's typed
paths; the task page's second submit buttons (Move to the front, Preview), Discard and Keep
after a conflict; a save while TaskRouter is down; a bulk action over everything matching
the filter, and its retry; the counts strip following a live refresh.

The server-level tests post these requests by hand to pin down what the server does with
them; only the browser shows what htmx really sends (which button, which fields, which
headers) and where the answer lands.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from playwright.sync_api import Locator, Page, expect

from tasks_app.taskrouter import service as taskrouter
from tests.browser.helpers import priority_conflict, settled

TABLE = "/w/Support/tasks/"
FREE_QUEUE = "Technical Support"  # its workflow leaves the priority alone
ONE_SECOND_REFRESH = "window.localStorage.setItem('taskdeck.live.interval', '1')"
EXPECTED_STATUSES = r"status of (400|409|422|503) \("


def mark_the_page(page: Page) -> None:
    page.evaluate("window.__marker = 'same page'")


def assert_same_page(page: Page) -> None:
    assert page.evaluate("window.__marker") == "same page", "the page was reloaded"


def checked_statuses(page: Page) -> set[str]:
    return set(
        page.locator("#filters input[name=status]:checked").evaluate_all(
            "boxes => boxes.map(b => b.value)"
        )
    )


def pending_in(sandbox, queue: str) -> list[taskrouter.Task]:
    query = taskrouter.TaskQuery(statuses=("pending",), task_queue_name=queue)
    return list(taskrouter.iter_tasks(workspace_sid=sandbox.workspace_sid(), query=query))


# --- The table's links -------------------------------------------------------------------


def test_clear_all_statuses_and_try_again_swap_the_table_in_place(
    page: Page, loopback_sandbox, browser_problems
):
    page.goto(f"{TABLE}?status=pending&queue=Billing")
    expect(page.locator("#live-controls")).to_be_visible()
    mark_the_page(page)
    page.locator("#filters").get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(rf"{TABLE}$"))
    expect(page.locator("#waiting-work")).to_be_visible()
    assert checked_statuses(page) == {"pending", "reserved"}
    settled(page)

    page.get_by_role("link", name="All statuses").click()
    expect(page).to_have_url(re.compile(r"\?sort=-priority%2Ccreated$"))
    expect(page.locator("#waiting-work")).to_have_count(0)
    assert checked_statuses(page) == set()
    settled(page)

    # TaskRouter fails: the view says so and keeps the filters; Try again recovers in place.
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    loopback_sandbox.faults.set("503;path=/Tasks")
    page.locator("#filters").get_by_label("Reserved", exact=True).check()
    try_again = page.get_by_role("link", name="Try again")
    expect(try_again).to_be_visible()
    loopback_sandbox.faults.clear()
    try_again.click()
    expect(page.locator("#task-rows > tr").first).to_be_visible()
    expect(page.locator("#task-rows .col-status .badge")).to_have_text(
        ["Reserved"] * page.locator("#task-rows > tr").count()
    )
    assert_same_page(page)


def test_a_row_loads_the_attributes_the_list_left_out(page: Page, settings):
    settings.SANDBOX_LIST_ATTRIBUTES = False
    page.goto(f"{TABLE}?status=pending&cols=language&size=5")
    first = page.locator("#task-rows > tr").first
    sid = first.get_attribute("data-sid")
    cell = first.locator(".col-attribute")
    expect(cell).to_contain_text("not in list")
    cell.get_by_role("button", name="load").click()
    expect(page.locator(f"#row-{sid} .col-attribute")).to_have_text(re.compile(r"^[a-z]{2}$"))
    expect(page.locator("#task-rows > tr").nth(1).locator(".col-attribute")).to_contain_text(
        "not in list"
    )


# --- The row editor's status change ------------------------------------------------------


def cancel_without_a_reason(page: Page) -> tuple[str, Locator]:
    """Open the first free pending row's editor, choose Cancel and save without a reason:
    the editor stays, asking for one. Returns the task's SID and its row."""
    page.goto(f"{TABLE}?status=pending&queue={FREE_QUEUE}")
    sid = page.locator("#task-rows > tr").first.get_attribute("data-sid")
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)
    row.get_by_label("Status").select_option(label="Cancel")
    row.get_by_role("button", name="Save", exact=True).click()
    expect(row.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    settled(page)
    return sid, row


def test_the_row_editor_cancels_a_task_only_with_a_reason(page: Page, sandbox, browser_problems):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    sid, row = cancel_without_a_reason(page)
    assert sandbox.fetch(sid).assignment_status == "pending"

    row.get_by_label("Reason").fill("duplicate of an incident")
    row.get_by_role("button", name="Save", exact=True).click()
    expect(row).not_to_have_attribute("data-editing", "1")
    expect(row.locator(".col-status .badge")).to_have_text("Canceled")
    expect(page.locator("#announcer")).to_have_text("Canceled the task.")
    assert sandbox.fetch(sid).reason == "duplicate of an incident"


def test_save_stays_under_the_pointer_while_the_route_preview_redraws(page: Page, browser_problems):
    """Pressing Save takes the focus from the reason, which redraws the route preview: a
    preview that shrank then moved Save away before the button was released, and the
    click was lost (seen as a row editor that would not save)."""
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    _, row = cancel_without_a_reason(page)
    reason = row.get_by_label("Reason")
    save = row.get_by_role("button", name="Save", exact=True)
    reason.fill("duplicate of an incident")
    before = save.bounding_box()

    reason.blur()  # what pressing Save does first
    expect(row.locator(".route-preview")).to_contain_text(
        "If saved: not routed again: the task becomes canceled."
    )
    settled(page)

    assert save.bounding_box() == before


# --- The column chooser's typed paths ----------------------------------------------------


def test_typed_column_paths_are_shown_or_refused_at_the_field(page: Page, browser_problems):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    chooser = page.locator(".column-chooser")
    chooser.locator("summary").click()
    chooser.get_by_label("Other paths").fill("customer.tier")
    chooser.get_by_role("button", name="Show these columns").click()
    expect(page).to_have_url(re.compile(r"cols=customer\.tier"))
    expect(page.locator("#task-table thead")).to_contain_text("customer.tier")
    settled(page)

    chooser = page.locator(".column-chooser")
    chooser.locator("summary").click()
    chooser.get_by_label("Other paths").fill("customer..tier")
    chooser.get_by_role("button", name="Show these columns").click()
    field = page.locator(".column-chooser").get_by_label("Other paths")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_value("customer..tier")
    expect(page.locator(".column-chooser[open]")).to_be_visible()


# --- The task page: second buttons, discard, keep, and TaskRouter down ----------------------


def test_move_to_the_front_of_the_queue_is_its_own_button(page: Page, sandbox):
    pending = pending_in(sandbox, "Billing")
    last = max(pending, key=lambda task: task.virtual_start_time)
    page.goto(f"{TABLE}{last.sid}/")
    section = page.locator("#edit-start")
    section.get_by_role("button", name="Move to the front of the queue").click()
    expect(section.locator(".banner-success")).to_have_text("Saved virtual start time.")
    moved = sandbox.fetch(last.sid)
    assert moved.virtual_start_time < min(
        task.virtual_start_time for task in pending if task.sid != last.sid
    )


def test_discard_after_a_conflict_shows_the_task_as_it_is_and_keep_leaves_it(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    sid = sandbox.task_sid("pending")
    section = priority_conflict(page, sandbox, sid, theirs=55, mine="9")
    mark_the_page(page)
    section.get_by_role("link", name="Discard my change").click()
    expect(section.locator(".conflict")).to_have_count(0)
    expect(section.get_by_label("Priority")).to_have_value("55")
    settled(page)

    # Deleting a task changed meanwhile is a conflict too; "Keep the task" keeps it.
    sandbox.change(sid, priority=56)
    delete = page.locator("#edit-delete")
    delete.get_by_text("Delete this task…").click()
    delete.get_by_role("button", name=f"Delete task {sid}").click()
    expect(delete.locator(".conflict")).to_be_visible()
    settled(page)
    delete.get_by_role("link", name="Keep the task").click()
    expect(delete.get_by_text("Delete this task…")).to_be_visible()
    assert sandbox.fetch(sid).priority == 56
    assert_same_page(page)


def test_a_save_while_taskrouter_is_down_keeps_what_was_typed_and_says_why(
    page: Page, sandbox, loopback_sandbox, settings, browser_problems
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    sid = sandbox.task_sid("pending")
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-priority")
    expect(section.get_by_role("button", name="Save priority")).to_be_enabled()

    # TaskRouter refuses the write: the section says so, with the value still typed.
    loopback_sandbox.faults.set("503;methods=POST")
    section.get_by_label("Priority").fill("79")
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".banner-error")).to_contain_text("Nothing you typed is lost.")
    expect(section.get_by_label("Priority")).to_have_value("79")
    settled(page)

    # TaskRouter is down before the form can be read: the page's alert area says so and
    # the section stays as it was, typed value included.
    settings.TASKROUTER_DIRECTORY_TTL = 0
    cache.clear()
    loopback_sandbox.faults.set("503")
    section.get_by_role("button", name="Save priority").click()
    expect(page.locator("#alerts")).to_contain_text("TaskRouter")
    settled(page)
    expect(section).not_to_have_attribute("aria-busy", "true")
    expect(section.get_by_label("Priority")).to_have_value("79")
    loopback_sandbox.faults.clear()
    assert sandbox.fetch(sid).priority != 79


# --- Bulk: everything matching, and a retry ----------------------------------------------


def test_a_bulk_action_over_everything_matching_then_a_retry_of_the_failed(
    page: Page, sandbox, loopback_sandbox, settings, browser_problems
):
    settings.TASKDECK_BULK_RATE = 200
    settings.TASKROUTER_BREAKER_FAILURES = 1000  # every write fails on its own, fast
    expected = len(pending_in(sandbox, "Billing"))
    page.goto(f"{TABLE}?status=pending&queue=Billing")
    page.locator("#task-rows .row-select").first.check()  # shows the bulk bar
    bar = page.locator("#bulk-form")
    bar.get_by_label(re.compile("Every task matching this filter")).check()
    bar.get_by_label("Action").select_option(label="Change priority")
    bar.get_by_label("New priority").fill("7")
    bar.get_by_role("button", name="Preview").click()
    panel = page.locator("#bulk-panel")
    expect(panel.locator("#bulk-summary")).to_have_text(f"{expected} to change.")
    settled(page)

    # Every write fails (the reads were done at preview); then TaskRouter is back.
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    loopback_sandbox.faults.set("503;methods=POST")
    panel.get_by_role("button", name=f"Change priority {expected} tasks").click()
    expect(panel.locator("#bulk-summary")).to_have_text(f"{expected} failed.")
    settled(page)
    loopback_sandbox.faults.clear()
    panel.get_by_role("button", name=f"Retry the {expected} failed").click()
    expect(panel.locator("#bulk-summary")).to_have_text(
        re.compile(rf"^{expected} (done|done, \d+ kept by workflow|kept by workflow)\.$")
    )
    assert {task.priority for task in pending_in(sandbox, "Billing")} <= {7, 10}


# --- The counts strip follows a live refresh ---------------------------------------------


@pytest.mark.usefixtures("sandbox")
def test_the_counts_strip_follows_each_live_refresh(page: Page, sandbox, monkeypatch):
    monkeypatch.setattr(taskrouter, "STATISTICS_MAX_AGE", 0)
    page.add_init_script(ONE_SECOND_REFRESH)
    page.goto(TABLE)
    waiting = page.locator("#count-waiting strong")
    before = int(waiting.inner_text())
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, assignment_status="canceled", reason="duplicate")
    expect(page.locator("#count-waiting strong")).to_have_text(str(before - 1), timeout=8_000)
