"""The search box in a real browser: a SID pasted in it opens the task, a name narrows the
table and the address bar holds a link to the result, and the box fits the first screen."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

TABLE = "/w/Support/tasks/"


def settled(page: Page) -> None:
    """Wait until htmx has finished every request, swap and settle."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


@pytest.mark.both_modes
def test_a_task_sid_pasted_in_the_search_box_opens_the_task(page: Page, sandbox, debug_mode):
    sid = sandbox.task_sid("pending", workspace="Sales & Renewals")
    page.goto(TABLE)
    box = page.get_by_role("searchbox", name="Search", exact=True)
    box.fill(f" {sid.upper()} ")
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/tasks/{sid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)


def test_a_name_search_narrows_the_table_and_the_address_is_a_link_to_it(page: Page, axe):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(TABLE)
    box = page.get_by_role("searchbox", name="Search", exact=True)
    box.fill("Acme")
    box.press("Enter")
    expect(page.locator("#search-expression")).to_contain_text('customer.name CONTAINS "Acme"')
    settled(page)
    assert parse_qs(urlsplit(page.url).query)["q"] == ["Acme"]
    names = page.locator("#task-rows > tr").all_inner_texts()
    assert names and all("Acme" in row for row in names)

    page.reload()  # the address bar's URL opens the same view
    expect(page.get_by_role("searchbox", name="Search", exact=True)).to_have_value("Acme")
    expect(page.locator("#search-expression")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 1280 px"
    axe(page)
