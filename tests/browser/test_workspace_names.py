"""A workspace whose name cannot be a URL segment ("EMEA/Tier 2", seeded by the sandbox)
is reached like any other: from the switcher to its table, and from the table to a task."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tasks_app.taskrouter import service as taskrouter

SLASHED = "EMEA/Tier 2"


def test_a_workspace_named_with_a_slash_opens_its_table_and_a_task_in_it(page: Page, sandbox):
    workspace_sid = sandbox.workspace_sid(SLASHED)
    page.goto("/w/Support/tasks/")

    page.locator(".workspace-switcher summary").click()
    page.get_by_role("link", name=SLASHED, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/w/{workspace_sid}/tasks/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"in {SLASHED}")
    expect(page.locator(".workspace-switcher summary")).to_contain_text(SLASHED)

    sid = page.locator("#task-rows > tr").first.get_attribute("data-sid")
    # TaskRouter answers 404 for a task of another workspace: this one lives here.
    assert taskrouter.fetch_task(workspace_sid=workspace_sid, task_sid=sid).sid == sid
    page.locator(f"#row-{sid} .col-sid a").click()
    expect(page).to_have_url(re.compile(rf"/w/{workspace_sid}/tasks/{sid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)
    expect(page).to_have_title(re.compile(re.escape(SLASHED)))
