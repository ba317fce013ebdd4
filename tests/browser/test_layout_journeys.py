"""What stays put and what fits: no control moves when another gains or loses focus, and
every kind of page fits the screens supervisors use (a 1280 px laptop, a 768 px tablet, a
390 px phone) without sideways scrolling, the phone showing the first task on its first
screen. Measured in Chromium, from the boxes the browser laid out."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

TABLE = "/w/Support/tasks/"

# Everything a pointer might be about to click on the table page.
CONTROLS = (
    "#filters input:not([type=hidden]), #filters select, #filters button, #filters summary, "
    "#filters a, #counts a, .toolbar summary, .toolbar a, .toolbar button, .toolbar select, "
    "#task-table thead a, #task-rows > tr:first-child a, #task-rows > tr:first-child input"
)


def boxes(page: Page) -> dict[str, tuple[float, float, float, float]]:
    """Where each visible control is, rounded to the pixel."""
    return page.evaluate(
        """(selector) => {
            const found = {};
            document.querySelectorAll(selector).forEach((el, i) => {
                const box = el.getBoundingClientRect();
                if (!box.width && !box.height) return;
                const text = el.textContent.trim().slice(0, 24);
                const name = el.id || (el.name && `${el.name}=${el.value}`) || text;
                found[`${i} ${name}`] = [box.x, box.y, box.width, box.height].map(Math.round);
            });
            return found;
        }""",
        CONTROLS,
    )


def moved(before: dict, after: dict) -> dict:
    return {name: (box, after.get(name)) for name, box in before.items() if after.get(name) != box}


@pytest.mark.parametrize("width", [1280, 1920])
def test_focusing_or_leaving_a_field_with_help_moves_no_other_control(page: Page, width: int):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    still = boxes(page)
    assert len(still) > 20, still
    for label, help_text in (
        ("Search", "A task SID opens that task"),
        ("Attributes match", "A TaskRouter expression"),
    ):
        field = page.locator("#filters").get_by_label(label, exact=True)
        field.click()
        field.fill("acme")
        expect(page.locator("#filters").get_by_text(help_text)).to_be_visible()
        assert moved(still, boxes(page)) == {}, f"focusing {label} moved controls"
        page.keyboard.press("Tab")  # on to the next control
        expect(page.locator("#filters").get_by_text(help_text)).to_be_hidden()
        assert moved(still, boxes(page)) == {}, f"leaving {label} moved controls"
        field.fill("")


def test_a_click_right_after_typing_a_search_lands_on_the_box_the_person_saw(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    page.locator("#filters").get_by_label("Search", exact=True).fill("Acme")
    wrapping = page.locator("#filters").get_by_label("Wrapping", exact=True)
    expect(wrapping).not_to_be_checked()
    # The person aims where they see the box while typing; the mouse goes to that spot.
    seen = wrapping.bounding_box()
    page.mouse.click(seen["x"] + seen["width"] / 2, seen["y"] + seen["height"] / 2)
    expect(page.locator("#filters").get_by_label("Wrapping", exact=True)).to_be_checked()
    expect(page.locator("#filters").get_by_label("Search", exact=True)).to_have_value("Acme")
