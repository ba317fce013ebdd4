"""Who is signed in, in a real browser under the real Content-Security-Policy: an editor
changes a task and finds the change in the audit trail; a viewer reads but is refused the
trail; a deleted task's link still tells its story. The guard in conftest.py fails any of
these on a console error (a CSP violation is one) or a JavaScript error."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tasks_app.taskrouter import service as taskrouter
from tests.identities import IDENTITIES

TABLE = "/w/Support/tasks/"
FREE_QUEUE = "Technical Support"  # its workflow leaves the priority alone


@pytest.fixture
def as_role(
    browser: Browser, browser_context_args: dict, browser_problems
) -> Iterator[Callable[[str], Page]]:
    """A page in a browser of its own, signed in (through the proxy) with ``role``, and
    watched by the same guard as the test's own page."""
    contexts: list[BrowserContext] = []

    def open_page(role: str) -> Page:
        context = browser.new_context(
            **{**browser_context_args, "extra_http_headers": IDENTITIES[role]}
        )
        browser_problems.watch(context)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        for page in context.pages:  # deliver late console messages to the guard
            page.evaluate("0")
        context.close()


def pending_in_free_queue(sandbox) -> str:
    with sandbox.store.read() as conn:
        row = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "WHERE t.workspace_sid = ? AND q.friendly_name = ? "
            "AND t.assignment_status = 'pending' ORDER BY t.sid LIMIT 1",
            (sandbox.workspace_sid(), FREE_QUEUE),
        ).fetchone()
    return row["sid"]


def test_an_editor_changes_a_task_and_finds_the_change_in_the_audit_trail(as_role, sandbox, axe):
    sid = pending_in_free_queue(sandbox)
    page = as_role("editor")
    page.goto(f"{TABLE}{sid}/")
    expect(page.locator(".site-header")).to_contain_text("Signed in as editor@example.com (editor)")

    section = page.locator("#edit-priority")
    section.get_by_label("Priority").fill("31")
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".banner-success")).to_contain_text("Saved priority")

    page.get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    row = page.locator("table.audit-table tbody tr").filter(has_text=sid)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("editor@example.com")
    expect(row).to_contain_text("Done")
    row.get_by_text("Before and after").click()
    expect(row.locator("pre").last).to_contain_text("31")

    page.get_by_label("Outcome").select_option("conflict")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No audit records match.")).to_be_visible()
    axe(page)


def test_a_viewer_reads_tasks_but_is_refused_the_audit_trail(as_role, sandbox, browser_problems):
    sid = sandbox.task_sid("pending")
    page = as_role("viewer")
    page.goto(TABLE)
    header = page.locator(".site-header")
    expect(header).to_contain_text("Signed in as viewer@example.com (viewer)")
    expect(header.get_by_role("link", name="Audit trail")).to_have_count(0)
    page.goto(f"{TABLE}{sid}/")
    expect(page.locator("#task-facts")).to_be_visible()

    browser_problems.expect_console_error(r"status of 403 \(")  # Chromium logs the refusal
    response = page.goto("/audit/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("needs the editor role")


def test_a_deleted_tasks_link_shows_its_history(as_role, sandbox, browser_problems, axe):
    sid = sandbox.task_sid("completed")
    task = sandbox.fetch(sid)
    taskrouter.delete_task(
        actor="admin@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=sid,
        if_match=task.etag,
    )
    page = as_role("admin")
    browser_problems.expect_console_error(r"status of 404 \(")
    page.goto(f"/tasks/{sid}/")
    expect(page.get_by_text("TaskRouter no longer has this task")).to_be_visible()
    history = page.locator(".task-history")
    expect(history).to_contain_text("admin@example.com")
    expect(history).to_contain_text("delete")
    axe(page)
