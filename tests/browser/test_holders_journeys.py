"""Who holds a task, in a real browser: the agent's name on a reserved row, the task's
reservations on its page, and the supervisor's lunch filter.

Assignment happens through the sandbox's API (agents hired, offered tasks, rejecting,
going to lunch) in the Training workspace; `follow_now()` then brings Taskdeck's index up
to date as the worker's follower would."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.index_helpers import follow_now
from tests.sandbox.helpers import (
    TRAINING,
    activity_sids,
    answer,
    clocked,
    hire,
    new_task,
    reservations,
)

TABLE = "/w/Training/tasks/"


@pytest.fixture
def tr(sandbox):
    """TaskRouter's API on the sandbox the live server reads, on the machine's clock."""
    return clocked(sandbox.store, lambda: datetime.now(UTC))


@pytest.fixture
def activities(tr) -> dict[str, str]:
    return activity_sids(tr, TRAINING)


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def row_sids(page: Page) -> list[str]:
    return page.locator("#task-rows > tr").evaluate_all("rows => rows.map(r => r.dataset.sid)")


@pytest.mark.both_modes
def test_a_reserved_row_names_its_agent_and_the_task_page_lists_its_reservations(
    page: Page, tr, activities, axe
):
    ana = hire(tr, "Ana López", activities["Available"])
    bo = hire(tr, "Bo Chen", activities["Available"])
    task = new_task(tr, customer={"name": "Passed Around Ltd"})
    [to_ana] = reservations(tr, task)
    assert to_ana["worker_sid"] == ana["sid"]
    answer(tr, to_ana, "rejected")  # offered to Bo next
    assert reservations(tr, task, ReservationStatus="pending")[0]["worker_sid"] == bo["sid"]
    follow_now()

    page.goto(f"{TABLE}?status=reserved")
    row = page.locator(f"#row-{task['sid']}")
    agent = row.locator("td.col-agent")
    expect(agent).to_contain_text("Bo Chen · Available")
    expect(page.locator("#task-table thead")).to_contain_text("Agent")
    axe(page)

    row.locator("th.col-sid a").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task['sid']}/$"))
    section = page.locator("#task-reservations")
    expect(section.get_by_role("heading", name="Reservations")).to_be_visible()
    expect(section.locator("#task-holder")).to_contain_text("With Bo Chen (Available)")
    offers = section.locator("tbody > tr")
    expect(offers).to_have_count(2)
    expect(offers.nth(0)).to_contain_text("Ana López")
    expect(offers.nth(0)).to_contain_text("rejected")
    expect(offers.nth(1)).to_contain_text("Bo Chen")
    expect(offers.nth(1)).to_contain_text("no answer yet")
    axe(page)


@pytest.mark.both_modes
def test_the_lunch_filter_finds_the_tasks_held_by_agents_who_are_away(
    page: Page, tr, activities, axe
):
    ana = hire(tr, "Ana López", activities["Available"])
    at_lunch = new_task(tr, customer={"name": "Waiting On Lunch"})
    hire(tr, "Bo Chen", activities["Available"])
    working = new_task(tr, customer={"name": "Being Handled"})
    tr.post(ana["url"], {"ActivitySid": activities["Lunch"]})  # keeps her reservation
    follow_now()

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{TABLE}?status=reserved")
    expect(page.locator("#task-rows > tr")).to_have_count(2)
    expect(page.locator(f"#row-{at_lunch['sid']} td.col-agent")).to_contain_text(
        "Ana López · Lunch (away)"
    )

    page.get_by_text("More filters").click()
    page.get_by_label("Held by", exact=True).select_option(label="Agents who are not available")
    page.get_by_role("button", name="Apply filters").click()

    expect(page.locator("#results-caption")).to_contain_text("held by agents who are not available")
    settled(page)
    assert row_sids(page) == [at_lunch["sid"]]
    assert working["sid"] not in row_sids(page)
    assert parse_qs(urlsplit(page.url).query)["holder"] == ["unavailable"]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 1280 px"
    axe(page)

    page.reload()  # the address is a link to the same view
    expect(page.get_by_label("Held by", exact=True)).to_have_value("unavailable")
    assert row_sids(page) == [at_lunch["sid"]]


def test_an_agent_name_nobody_has_is_refused_beside_the_field(
    page: Page, tr, activities, browser_problems
):
    hire(tr, "Ana López", activities["Available"])
    follow_now()
    browser_problems.expect_console_error(r"status of 400 \(Bad Request\)")

    page.goto(TABLE)
    page.get_by_text("More filters").click()
    field = page.get_by_label("Agent", exact=True)
    field.fill("Zed Nobody")
    field.press("Enter")

    error = page.locator("#agent-error")
    expect(error).to_contain_text("no agent called 'Zed Nobody'")
    expect(error).to_contain_text("Ana López")
    expect(page.get_by_label("Agent", exact=True)).to_have_value("Zed Nobody")

    field = page.get_by_label("Agent", exact=True)
    field.fill("ana lopez")
    field.press("Enter")
    expect(page.locator("#results-caption")).to_contain_text("held by Ana López")


def test_with_agents_named_the_table_still_fits_a_laptop_frame(page: Page, sandbox):
    """The Agent cells wrap: a held task's agent, activity and time never widen the table
    past its frame at 1280 px, in the views where most rows are held."""
    follow_now()
    page.set_viewport_size({"width": 1280, "height": 800})
    too_wide = {}
    for view in ("?status=assigned,wrapping", "?sort=-priority,created", "?holder=unavailable"):
        page.goto(f"/w/Support/tasks/{view}")
        expect(page.locator("#task-rows td.col-agent", has_text=" · ").first).to_be_visible()
        frame = page.evaluate(
            "(() => { const f = document.getElementById('table-wrap');"
            " return [f.scrollWidth, f.clientWidth]; })()"
        )
        if frame[0] > frame[1]:
            too_wide[view] = f"{frame[0]} px in a {frame[1]} px frame"
    assert too_wide == {}
