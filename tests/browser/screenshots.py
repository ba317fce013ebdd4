"""The README's pictures: the task table and the conflict view, as a supervisor sees them
at 1280x800. ``make screenshots`` runs this file to keep docs/screenshots/ current.

It is named so that ``make test`` does not collect it (pytest collects ``test_*.py``):
pictures are documentation, not assertions, and taking them costs suite time. Run on its
own, pytest collects it like any other file and it uses the browser journeys' fixtures:
the live server, the embedded sandbox and an admin's SSO headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

TABLE = "/w/Support/tasks/"
FREE_QUEUE = "Technical Support"  # its workflow leaves the priority alone
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def supervisor(new_context: Callable[..., BrowserContext]) -> Page:
    # UTC, so the times in the pictures do not depend on where they were taken.
    page = new_context(viewport=VIEWPORT, timezone_id="UTC").new_page()
    page.set_default_timeout(10_000)
    return page


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def save(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, animations="disabled", caret="hide")


def test_the_task_table(new_context: Callable[..., BrowserContext]):
    page = supervisor(new_context)
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    settled(page)
    save(page, "table.png")


def test_the_conflict_view(new_context: Callable[..., BrowserContext]):
    # Two supervisors (two contexts, so two sessions) open the same task; the first saves.
    first, second = supervisor(new_context), supervisor(new_context)
    first.goto(f"{TABLE}?status=pending&queue={FREE_QUEUE}")
    sid = first.locator("#task-rows > tr").first.get_attribute("data-sid")
    for each in (first, second):
        each.goto(f"{TABLE}{sid}/")
        expect(each.locator("#edit-priority").get_by_role("button")).to_be_enabled()

    first.locator("#edit-priority").get_by_label("Priority").fill("21")
    first.locator("#edit-priority").get_by_role("button", name="Save priority").click()
    expect(first.locator("#edit-priority .banner-success")).to_contain_text("Saved priority")

    section = second.locator("#edit-priority")
    section.get_by_label("Priority").fill("34")
    section.get_by_role("button", name="Save priority").click()
    conflict = section.get_by_role("alert")
    expect(conflict).to_contain_text(re.compile("The task changed since you opened it"))
    settled(second)
    second.evaluate("document.getElementById('edit-priority').scrollIntoView({block: 'center'})")
    save(second, "conflict.png")
