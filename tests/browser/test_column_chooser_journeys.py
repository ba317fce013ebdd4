"""Choosing attribute columns from the attributes the page's tasks hold, not by typing
paths: ticking a box shows the column at once and makes it part of the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

TABLE = "/w/Support/tasks/"


@pytest.mark.both_modes
def test_ticking_an_attribute_shows_its_column_and_puts_it_in_the_url(page: Page):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#task-rows > tr").first).to_be_visible()
    page.get_by_text("Columns", exact=True).click()
    box = page.locator('.column-chooser input[type=checkbox][value="customer.name"]')
    box.check()
    header = page.locator("#task-table thead th", has_text="customer.name")
    expect(header).to_be_visible()
    expect(page).to_have_url(re.compile(r"cols=customer\.name"))
    # Unticking takes it away again (the box is the column's one switch).
    page.get_by_text("Columns", exact=True).click()
    page.locator('.column-chooser input[type=checkbox][value="customer.name"]').uncheck()
    expect(header).to_have_count(0)
