"""Steps several journeys share."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

TABLE = "/w/Support/tasks/"


# The text a page shows (a JavaScript function): what the browser draws, and the task
# table's rows it has not drawn yet (see cell_texts).
VISIBLE_TEXT = (
    '() => document.body.innerText + "\\n" + '
    '(document.getElementById("task-rows")?.textContent ?? "")'
)


def cell_texts(cells: Locator) -> list[str]:
    """Each element's text as the screen shows it, drawn or not. The task table draws a row
    only once it nears the screen (content-visibility: auto), and the browser gives an
    undrawn row's cells no innerText, so this reads their text content, spaces collapsed."""
    return [" ".join(text.split()) for text in cells.all_text_contents()]


def settled(page: Page) -> None:
    """Wait until htmx has finished every request, swap and settle (call it after waiting
    for a visible change; htmx processes swapped-in content only when it settles)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def priority_conflict(page: Page, sandbox, sid: str, *, theirs: int, mine: str) -> Locator:
    """Open the task's page, let a colleague set its priority to ``theirs`` under it, save
    ``mine``: the priority section, showing the conflict."""
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-priority")
    expect(section.get_by_role("button", name="Save priority")).to_be_enabled()
    sandbox.change(sid, priority=theirs)
    section.get_by_label("Priority").fill(mine)
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".conflict table")).to_be_visible()
    settled(page)
    return section
