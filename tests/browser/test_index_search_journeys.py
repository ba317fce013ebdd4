"""The search box at the top of every page, in a real browser: a supervisor finds a
customer's task by the name in lower case, by the e-mail and by the phone number as they
would write them, and again after TaskRouter has deleted the closed task."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tasks_app import embedded_sandbox
from tasks_app.index.search import SHOWN
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import wait_until
from tests.index_helpers import follow_now

CUSTOMER = {
    "name": "Zoë Quintero-Marsh",
    "customer": {"name": "Zoë Quintero-Marsh", "email": "Zoe.QM@Example.org"},
    "from": "+14155550100",
    "ticket_number": "TK-990417",
}


def create(sandbox, attributes: dict, workspace: str) -> str:
    workspace_sid = sandbox.workspace_sid(workspace)
    workflow = taskrouter.list_workflows(workspace_sid=workspace_sid)[0]
    return taskrouter.create_task(
        actor="colleague@example.com",
        workspace_sid=workspace_sid,
        attributes=attributes,
        workflow_sid=workflow.sid,
    ).sid


def search_for(page: Page, text: str) -> None:
    box = page.get_by_role("search").get_by_role("searchbox", name="Search all tasks")
    box.fill(text)
    box.press("Enter")


@pytest.mark.both_modes
def test_a_customer_is_found_by_name_email_and_phone_and_again_once_taskrouter_deleted_it(
    page: Page, sandbox, settings, axe, browser_problems
):
    settings.SANDBOX_PURGE_AFTER = 1  # TaskRouter's 5 to 8 minutes, shortened
    embedded_sandbox.reset()
    sid = create(sandbox, CUSTOMER, "Support")
    other = create(
        sandbox,
        {"name": "Zoe Quintero-Marsh", "customer": {"email": "zqm@example.net"}},
        "Sales & Renewals",
    )
    follow_now()

    page.goto("/w/Support/tasks/")
    search_for(page, "zoe quintero")  # lower case, no accent: both her tasks
    expect(page).to_have_url(re.compile(r"/search/\?q=zoe\+quintero$"))
    rows = page.locator("table.search-results tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(f"#hit-{sid}")).to_contain_text("Support")
    expect(page.locator(f"#hit-{other}")).to_contain_text("Sales & Renewals")
    expect(page.locator("#search-summary")).to_contain_text("2 tasks match “zoe quintero”")
    axe(page)

    search_for(page, "ZOE.QM@EXAMPLE.ORG")  # one match: Enter opens it
    expect(page).to_have_url(re.compile(rf"/w/Support/tasks/{sid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)

    search_for(page, "(415) 555-0100")  # as written; TaskRouter holds +14155550100
    expect(page).to_have_url(re.compile(rf"/w/Support/tasks/{sid}/$"))

    sandbox.change(sid, assignment_status="canceled", reason="Customer hung up")
    workspace = sandbox.workspace_sid("Support")

    def deleted() -> bool:
        try:
            taskrouter.fetch_task(workspace_sid=workspace, task_sid=sid)
        except taskrouter.NotFound:
            return True
        return False

    wait_until(deleted, timeout=30)
    follow_now()

    search_for(page, "zoe quintero")
    hit = page.locator(f"#hit-{sid}")
    expect(hit).to_contain_text("deleted")
    expect(rows.last).to_have_id(f"hit-{sid}")  # after the open one
    # TaskRouter no longer has it: Taskdeck's page of a deleted task may answer 404.
    browser_problems.expect_console_error(r"status of 404")
    hit.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{sid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)
    # Who canceled it, and why, though TaskRouter has forgotten the task.
    canceled = (
        page.get_by_role("list", name=re.compile("What happened to this task"))
        .locator("li")
        .filter(has_text="Canceled")
    )
    expect(canceled).to_contain_text("colleague@example.com in Taskdeck")
    expect(canceled).to_contain_text("Customer hung up")


def test_text_too_short_to_search_gets_a_message_and_stays_in_the_box(page: Page, browser_problems):
    browser_problems.expect_console_error(r"status of 400")  # the answer carries the message
    page.goto("/w/Support/tasks/")
    search_for(page, "zo")
    box = page.get_by_role("search").get_by_role("searchbox", name="Search all tasks")
    expect(box).to_have_value("zo")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="at least 3")).to_be_visible()
    assert parse_qs(urlsplit(page.url).query)["q"] == ["zo"]


def test_slash_on_a_page_without_the_table_puts_the_cursor_in_the_search_box(page: Page):
    page.goto("/audit/")
    page.keyboard.press("/")
    box = page.get_by_role("search").get_by_role("searchbox", name="Search all tasks")
    expect(box).to_be_focused()
    page.keyboard.type("quintero")
    expect(box).to_have_value("quintero")


@pytest.mark.both_modes
def test_a_common_word_pages_through_every_match_and_back(page: Page, sandbox, browser_problems):
    sids = [
        create(sandbox, {**CUSTOMER, "ticket_number": f"TK-{n}"}, "Support")
        for n in range(SHOWN + 4)
    ]
    newest_first = sids[::-1]
    follow_now()

    page.goto("/w/Support/tasks/")
    search_for(page, "quintero")
    summary = page.locator("#search-summary")
    expect(summary).to_contain_text(f"{SHOWN + 4} tasks match “quintero”: 1\u2013{SHOWN} are shown")
    rows = page.locator("table.search-results tbody tr")
    expect(rows).to_have_count(SHOWN)
    expect(rows.first).to_have_id(f"hit-{newest_first[0]}")

    page.get_by_role("link", name="Older matches").click()
    expect(page.locator("#search-page")).to_have_text("Page 2 of 2")
    expect(rows).to_have_count(4)
    assert [row.get_attribute("id") for row in rows.all()] == [
        f"hit-{sid}" for sid in newest_first[SHOWN:]
    ]
    expect(page.get_by_role("link", name="Older matches")).to_have_count(0)
    # The header's box still holds the text, so a word can be added to narrow it.
    box = page.get_by_role("search").get_by_role("searchbox", name="Search all tasks")
    expect(box).to_have_value("quintero")

    page.get_by_role("link", name="Newer matches").click()
    expect(page).to_have_url(re.compile(r"/search/\?q=quintero$"))
    expect(rows.first).to_have_id(f"hit-{newest_first[0]}")
