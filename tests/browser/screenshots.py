"""The README's pictures: the task table and the conflict view, as a supervisor sees them
at 1280x800. ``make screenshots`` runs this file to keep docs/screenshots/ current.

It is named so that ``make test`` does not collect it (pytest collects ``test_*.py``):
pictures are documentation, not assertions, and taking them costs suite time. Run on its
own, pytest collects it like any other file and it uses the browser journeys' fixtures:
the live server, the embedded sandbox and an admin's SSO headers.

What each picture shows is set up here, once: ``table_view`` and ``conflict_view`` open the
view and check that every control the picture and the README show is on that first
screen. ``test_readme_pictures.py`` runs the same two in every ``make test``, so the
pictures cannot silently drift from the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Locator, Page, expect

TABLE = "/w/Support/tasks/"
FREE_QUEUE = "Technical Support"  # its workflow leaves the priority alone
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}

# What the table picture shows (and the README names), each found as a person finds it.
TABLE_SHOWS: dict[str, Callable[[Page], Locator]] = {
    "the search box": lambda page: page.locator("#filters").get_by_label("Search", exact=True),
    "the status boxes": lambda page: page.locator("#filters").get_by_label("Pending"),
    "the queue menu": lambda page: page.locator("#filters").get_by_label("Queue"),
    "the expression field": lambda page: page.locator("#filters").get_by_label("Attributes match"),
    "Apply filters": lambda page: page.get_by_role("button", name="Apply filters"),
    "the waiting count": lambda page: page.locator("#count-waiting"),
    "the with-agents count": lambda page: page.locator("#count-with-agents"),
    "the column chooser": lambda page: page.locator(".column-chooser summary"),
    "Export CSV": lambda page: page.get_by_role("link", name="Export CSV"),
    "live updates": lambda page: page.get_by_role("button", name="Pause live updates"),
    "New task": lambda page: page.get_by_role("link", name="New task"),
    "the first waiting task": lambda page: page.locator("#task-rows > tr").first,
    "its time to breach": lambda page: page.locator("#task-rows > tr .col-breach").first,
    "the queue strip": lambda page: page.locator("#queue-strip"),
    "a queue's service level": lambda page: page.locator("#queue-strip .q-level").first,
}
# Service-level targets for the picture (admins set them on the targets page).
TARGETS = {"Billing": 120, "VIP Care": 60, "General Support": 600, "Technical Support": 900}

# What the conflict picture shows.
CONFLICT_SHOWS: dict[str, Callable[[Page], Locator]] = {
    "the explanation": lambda page: page.locator("#edit-priority .conflict strong").first,
    "what you saw, asked for, and what is now": lambda page: page.locator(
        "#edit-priority table.diff"
    ),
    "Apply my change": lambda page: page.get_by_role(
        "button", name="Apply my change to the current version"
    ),
    "Discard my change": lambda page: page.get_by_role("link", name="Discard my change"),
}


def guarded(new_context: Callable[..., BrowserContext], problems) -> Callable[..., BrowserContext]:
    """``new_context`` whose browsers the journeys' guard watches (conftest.py)."""

    def make(**kwargs) -> BrowserContext:
        context = new_context(**kwargs)
        problems.watch(context)
        return context

    return make


def supervisor(new_context: Callable[..., BrowserContext]) -> Page:
    # UTC, so the times in the pictures do not depend on where they were taken.
    page = new_context(viewport=VIEWPORT, timezone_id="UTC").new_page()
    page.set_default_timeout(10_000)
    return page


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def on_first_screen(page: Page, shows: dict[str, Callable[[Page], Locator]]) -> None:
    for what, find in shows.items():
        expect(find(page), f"{what} should be on the picture's first screen").to_be_in_viewport()


def set_targets() -> None:
    from tasks_app.models import SlaTarget
    from tasks_app.taskrouter import service as taskrouter

    workspace = taskrouter.resolve_workspace("Support")
    for queue in taskrouter.list_task_queues(workspace_sid=workspace.sid):
        if queue.friendly_name in TARGETS:
            SlaTarget.objects.update_or_create(
                workspace_sid=workspace.sid,
                queue_sid=queue.sid,
                channel="",
                defaults={"seconds": TARGETS[queue.friendly_name]},
            )


def table_view(new_context: Callable[..., BrowserContext]) -> Page:
    set_targets()
    page = supervisor(new_context)
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    settled(page)
    on_first_screen(page, TABLE_SHOWS)
    return page


def conflict_view(new_context: Callable[..., BrowserContext]) -> Page:
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
    on_first_screen(second, CONFLICT_SHOWS)
    return second


def save(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name, animations="disabled", caret="hide")


def test_the_task_table(new_context: Callable[..., BrowserContext], browser_problems):
    save(table_view(guarded(new_context, browser_problems)), "table.png")


def test_the_conflict_view(new_context: Callable[..., BrowserContext], browser_problems):
    browser_problems.expect_console_error(r"status of 409 \(")
    save(conflict_view(guarded(new_context, browser_problems)), "conflict.png")
