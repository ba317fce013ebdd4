"""Times in the viewer's zone: the server writes every moment as <time datetime="…">,
and the page's script shows it in the browser's zone (or the one chosen in the header),
names that zone once, and keeps the exact UTC moment on hover.

The browser contexts here are made in New York (Playwright's ``timezone_id``) while the
server shows UTC, so every converted time differs from what the server wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.conftest import wait_until

TABLE = "/w/Support/tasks/"
NEW_YORK = "America/New_York"


@pytest.fixture
def new_york_page(browser: Browser, browser_context_args: dict, browser_problems) -> Iterator[Page]:
    context = browser.new_context(**browser_context_args, timezone_id=NEW_YORK)
    browser_problems.watch(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def moment(element: Locator) -> datetime:
    """The moment a <time> or a task table's cell (which is its moment) stands for."""
    return datetime.fromisoformat(
        element.get_attribute("datetime") or element.get_attribute("data-at")
    )


def shown_in(value: datetime, zone: str, *, seconds: bool) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    )


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def settled_zone(page: Page) -> None:
    """Wait until the page has asked the browser its zone (after the first frame): until
    then a value put in localStorage may be overwritten by that page's own check."""
    wait_until(
        lambda: page.evaluate("() => localStorage.getItem('taskdeck.browserTimeZone')"), timeout=30
    )


def created_cell(page: Page) -> Locator:
    labels = [t.strip(" \n\t▲▼•⇅") for t in page.locator("#task-table thead th").all_inner_texts()]
    assert "Created" in labels, f"no column Created in {labels}"
    return page.locator(f"#task-rows > tr > :nth-child({labels.index('Created') + 1})")


def test_the_table_and_task_page_show_new_york_times_name_the_zone_and_utc_on_hover(
    new_york_page: Page,
):
    page = new_york_page
    page.goto(f"{TABLE}?status=pending")
    expect(page.get_by_label("Times in")).to_have_value("")
    expect(page.get_by_label("Times in").locator("option:checked")).to_have_text(
        f"{NEW_YORK} (this browser)"
    )
    first = created_cell(page).first
    created = moment(first)
    expect(first).to_have_text(shown_in(created, NEW_YORK, seconds=False))
    expect(first).to_have_attribute("title", utc_text(created))
    # The data age says how old the data is in words, and when in New York.
    read_at = datetime.fromisoformat(page.locator("#task-rows").get_attribute("data-read-at"))
    clock_time = shown_in(read_at, NEW_YORK, seconds=True)[11:]
    expect(page.locator("#data-age")).to_have_text(
        re.compile(rf"^as of {clock_time} \(\d+ (s|min) ago\)$")
    )
    expect(page.locator("#data-age")).to_have_attribute("title", utc_text(read_at))

    page.locator("#task-rows > tr th.col-sid a").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    facts = page.locator("#task-facts dt:text-is('Created') + dd time")
    created = moment(facts)
    expect(facts).to_have_text(shown_in(created, NEW_YORK, seconds=True))
    expect(facts).to_have_attribute("title", utc_text(created))
    expect(page.get_by_label("Times in").locator("option:checked")).to_have_text(
        f"{NEW_YORK} (this browser)"
    )


def test_choosing_utc_sticks_across_a_reload(new_york_page: Page):
    page = new_york_page
    page.goto(f"{TABLE}?status=pending")
    first = created_cell(page).first
    created = moment(first)
    expect(first).to_have_text(shown_in(created, NEW_YORK, seconds=False))

    page.get_by_label("Times in").select_option("UTC")
    expect(first).to_have_text(shown_in(created, "UTC", seconds=False))
    expect(page.locator("#announcer")).to_have_text("Times now shown in UTC.")

    page.reload()
    expect(page.get_by_label("Times in")).to_have_value("UTC")
    expect(created_cell(page).first).to_have_text(shown_in(created, "UTC", seconds=False))

    # And back to the browser's zone.
    page.get_by_label("Times in").select_option("")
    expect(created_cell(page).first).to_have_text(shown_in(created, NEW_YORK, seconds=False))


def test_a_browser_that_moved_to_another_zone_gets_its_times_rewritten(new_york_page: Page):
    """The first frame uses the zone the browser had last time (no Intl object on the
    way to it); once the page is drawn the browser is asked, and a laptop that has moved
    from Tokyo to New York sees New York times, named as this browser's."""
    page = new_york_page
    page.goto(f"{TABLE}?status=pending")
    settled_zone(page)
    page.evaluate("localStorage.setItem('taskdeck.browserTimeZone', 'Asia/Tokyo')")

    page.reload()
    first = created_cell(page).first
    created = moment(first)
    expect(first).to_have_text(shown_in(created, NEW_YORK, seconds=False))
    expect(page.get_by_label("Times in").locator("option:checked")).to_have_text(
        f"{NEW_YORK} (this browser)"
    )
    assert page.evaluate("localStorage.getItem('taskdeck.browserTimeZone')") == NEW_YORK
    assert f"taskdeck_tz={NEW_YORK}" in page.evaluate("document.cookie")


def test_a_chosen_zone_the_browser_does_not_know_falls_back_to_the_browsers(new_york_page: Page):
    page = new_york_page
    page.goto(f"{TABLE}?status=pending")
    settled_zone(page)
    page.evaluate("localStorage.setItem('taskdeck.timeZone', 'Mars/Olympus_Mons')")

    page.reload()
    settled_zone(page)
    first = created_cell(page).first
    expect(first).to_have_text(shown_in(moment(first), NEW_YORK, seconds=False))
    expect(page.get_by_label("Times in")).to_have_value("")
    expect(page.locator("#time-zone option[value='Mars/Olympus_Mons']")).to_have_count(0)
    assert page.evaluate("localStorage.getItem('taskdeck.timeZone')") is None


def test_a_live_refresh_keeps_the_converted_times(new_york_page: Page, sandbox):
    page = new_york_page
    page.add_init_script("window.localStorage.setItem('taskdeck.live.interval', '1')")
    page.goto(f"{TABLE}?status=pending")
    sid = page.locator("#task-rows > tr").first.get_attribute("data-sid")
    row_time = page.locator(f"#row-{sid} .col-moment").first
    created = moment(row_time)
    expect(row_time).to_have_text(shown_in(created, NEW_YORK, seconds=False))

    # A colleague changes the task: the live refresh brings the row again, as the server
    # writes it, and it is shown in New York time like the rest.
    sandbox.change(
        sid, attributes={**sandbox.fetch(sid).attributes, "subject": "Changed by a colleague"}
    )  # a colleague, elsewhere
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    expect(row.locator(".col-moment").first).to_have_text(
        shown_in(created, NEW_YORK, seconds=False)
    )
    expect(row.locator(".col-moment").first).to_have_attribute("title", utc_text(created))


def test_times_a_save_brings_back_on_the_task_page_are_in_new_york_time(
    new_york_page: Page, sandbox
):
    page = new_york_page
    page.goto(f"{TABLE}?status=pending&queue=Technical Support")
    sid = page.locator("#task-rows > tr").first.get_attribute("data-sid")
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-priority")
    expect(section.get_by_role("button")).to_be_enabled()
    section.get_by_label("Priority").fill("7")
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".banner-success")).to_contain_text("Saved priority")

    # The save refreshes the facts list too ("Updated" moved on): still New York time.
    updated = page.locator("#task-facts dt:text-is('Updated') + dd time")
    expect(updated).to_have_attribute("title", re.compile(r" UTC$"))
    expect(updated).to_have_text(shown_in(moment(updated), NEW_YORK, seconds=True))
