"""A task's story in a real browser: the page of a task TaskRouter has purged still says who
canceled it and why; the conflict view names the colleague who changed the task; Undo of a
save and of a bulk priority change; and Undo refused as a conflict after a colleague's
change. Each test asserts what the person sees and checks TaskRouter for what happened."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tasks_app.sandbox import store as sandbox_store
from tasks_app.sandbox.housekeeping import Housekeeper
from tests.browser.test_edit_journeys import fact, pending_in_free_queue, settled
from tests.identities import IDENTITIES
from tests.index_helpers import follow_now

TABLE = "/w/Support/tasks/"
COLLEAGUE = "colleague@example.com"
# Conflicts (409) and a purged task's page (404) are answers given on purpose.
EXPECTED_STATUSES = r"status of (404|409) \("


@pytest.fixture
def editor_browser(
    browser: Browser, browser_context_args: dict, browser_problems
) -> Iterator[BrowserContext]:
    """A colleague's browser, signed in as editor@example.com."""
    other = browser.new_context(
        **{**browser_context_args, "extra_http_headers": IDENTITIES["editor"]}
    )
    browser_problems.watch(other)
    yield other
    for each in other.pages:  # deliver late console messages to the guard
        each.evaluate("0")
    other.close()


def save_priority(page: Page, value: int) -> None:
    section = page.locator("#edit-priority")
    section.get_by_label("Priority").fill(str(value))
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".banner-success")).to_contain_text("Saved priority")
    settled(page)


def test_a_purged_tasks_page_shows_who_canceled_it_and_why(
    page: Page, sandbox, browser_problems, axe
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    sandbox.change(sid, assignment_status="canceled", reason="customer called back on chat")
    # TaskRouter purges the closed task (as `runsandbox --purge-after 0` would).
    purged = Housekeeper(sandbox.store, purge_after=0).run(sandbox_store.now_us() + 1_000_000)
    assert sid in purged.purged
    follow_now()

    page.goto(f"/tasks/{sid}/")
    expect(page.get_by_text("TaskRouter no longer has this task")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("Deleted")
    timeline = page.locator(".task-timeline")
    canceled = timeline.locator("li").filter(has_text="Canceled")
    expect(canceled).to_contain_text(f"{COLLEAGUE} in Taskdeck")
    expect(canceled).to_contain_text("Canceled: “customer called back on chat”")
    expect(timeline.locator("li").first).to_contain_text("Deleted by TaskRouter")
    expect(page.locator("#facts-heading + dl")).to_contain_text("customer called back on chat")
    expect(page.get_by_role("button", name=re.compile("Revert|Undo"))).to_have_count(0)
    axe(page)


def test_the_conflict_view_names_the_colleague_who_changed_the_task(
    page: Page, editor_browser: BrowserContext, sandbox, browser_problems, axe
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    colleague = editor_browser.new_page()
    for each in (page, colleague):
        each.goto(f"{TABLE}{sid}/")
        expect(each.locator("#edit-priority").get_by_role("button")).to_be_enabled()
    save_priority(colleague, 21)

    section = page.locator("#edit-priority")
    section.get_by_label("Priority").fill("34")
    section.get_by_role("button", name="Save priority").click()
    conflict = section.get_by_role("alert")
    expect(conflict).to_contain_text("The task changed since you opened it.")
    changed_by = conflict.locator(".changed-by li")
    expect(changed_by).to_have_count(1)
    expect(changed_by).to_contain_text("editor@example.com in Taskdeck")
    expect(changed_by).to_contain_text(
        re.compile(r"\d+ s ago \(.+\): Priority changed from \d+ to 21")
    )
    assert sandbox.fetch(sid).priority == 21
    settled(page)
    axe(page)


def test_undo_of_a_save_writes_the_value_from_before(page: Page, sandbox, axe):
    (sid,) = pending_in_free_queue(sandbox)
    original = sandbox.fetch(sid).priority
    page.goto(f"{TABLE}{sid}/")
    save_priority(page, original + 40)
    assert sandbox.fetch(sid).priority == original + 40

    page.locator("#edit-priority").get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text(f"Undone: priority back to {original}.")
    expect(fact(page, "Priority")).to_have_text(str(original))
    assert sandbox.fetch(sid).priority == original
    newest = page.locator(".task-timeline li").first
    expect(newest).to_contain_text("admin@example.com")
    expect(newest).to_contain_text(f"Set priority to {original}")
    axe(page)


def test_undo_after_a_colleagues_change_is_refused_as_a_conflict(
    page: Page, sandbox, browser_problems, axe
):
    browser_problems.expect_console_error(EXPECTED_STATUSES)
    (sid,) = pending_in_free_queue(sandbox)
    original = sandbox.fetch(sid).priority
    page.goto(f"{TABLE}{sid}/")
    save_priority(page, original + 40)
    sandbox.change(sid, priority=77)  # a colleague, before the Undo

    page.locator("#edit-priority").get_by_role("button", name="Undo").click()
    refused = page.locator("#revert-result")
    expect(refused).to_contain_text(
        "Not undone: the task changed since admin@example.com's change."
    )
    expect(refused).to_contain_text("Nothing was overwritten.")
    expect(refused.locator(".changed-by")).to_contain_text(f"{COLLEAGUE} in Taskdeck")
    row = refused.locator("table.diff tbody tr").filter(has_text="Priority")
    expect(row.get_by_role("cell")).to_have_text([str(original + 40), str(original), "77 changed"])
    expect(fact(page, "Priority")).to_have_text("77")
    assert sandbox.fetch(sid).priority == 77
    axe(page)


def test_undo_of_a_bulk_priority_change(page: Page, sandbox, settings, axe):
    settings.TASKDECK_BULK_RATE = 200
    sids = pending_in_free_queue(sandbox, 3)
    before = {sid: sandbox.fetch(sid).priority for sid in sids}
    page.goto(f"{TABLE}?status=pending&queue=Technical Support")
    expect(page.locator("#live-controls")).to_be_visible()
    for sid in sids:
        page.get_by_role("checkbox", name=f"Select {sid}", exact=True).check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Action").select_option(label="Change priority")
    bar.get_by_label("New priority").fill("250")
    bar.get_by_role("button", name="Preview").click()
    panel = page.locator("#bulk-panel")
    expect(panel.locator("#bulk-summary")).to_have_text("3 to change.")
    settled(page)
    panel.get_by_role("button", name="Change priority 3 tasks").click()
    expect(panel.locator("#bulk-summary")).to_have_text("3 done.")
    assert {sandbox.fetch(sid).priority for sid in sids} == {250}
    settled(page)

    panel.get_by_role("button", name="Undo").click()
    expect(page).to_have_url(re.compile(r"/w/Support/tasks/bulk/[\w-]+/$"))
    expect(page.locator("h2#bulk-heading")).to_contain_text("Undo priority change")
    expect(page.locator("#bulk-summary")).to_have_text("3 done.")
    expect(page.locator(".bulk-items .result-done")).to_have_count(3)
    for sid in sids:
        assert sandbox.fetch(sid).priority == before[sid]
    axe(page)


def test_the_undo_offer_goes_away_when_its_time_is_up_and_revert_stays(
    page: Page, sandbox, settings
):
    settings.TASKDECK_UNDO_SECONDS = 3
    (sid,) = pending_in_free_queue(sandbox)
    original = sandbox.fetch(sid).priority
    page.goto(f"{TABLE}{sid}/")
    save_priority(page, original + 40)
    undo = page.locator("#edit-priority").get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    expect(undo).to_have_count(0, timeout=10_000)  # static/js/undo.js removed it
    page.reload()
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    revert = page.locator(".task-timeline li").filter(has_text="admin@example.com").first
    revert.get_by_role("button", name=re.compile("^Revert")).click()
    expect(page.locator(".messages")).to_contain_text(f"Undone: priority back to {original}.")
    assert sandbox.fetch(sid).priority == original
