"""The task table from the keyboard: ``/`` search, ``j``/``k`` rows, ``Enter`` open, ``e``
edit, ``Esc`` close, ``?`` the list of shortcuts; none of them while typing in a field.
And both colour schemes (the system's light or dark preference) pass axe.

Waiting is Playwright's (every ``expect`` retries until it holds); there are no fixed
sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import priority_conflict

TABLE = "/w/Support/tasks/"
PENDING = f"{TABLE}?status=pending&cols=subject"
CURRENT = re.compile(r"\brow-current\b")


def row_sids(page: Page) -> list[str]:
    return page.locator("#task-rows > tr").evaluate_all("rows => rows.map(r => r.dataset.sid)")


def current_rows(page: Page) -> Locator:
    return page.locator("#task-rows > tr.row-current")


def search_field(page: Page) -> Locator:
    """The filter bar's search box, or the expression field where there is none."""
    field = page.locator("#filters #id_q")
    return field if field.count() else page.locator("#filters #id_where")


def open_table(page: Page, url: str = PENDING) -> list[str]:
    page.goto(url)
    expect(page.locator("#task-rows > tr").first).to_be_visible()
    return row_sids(page)


def test_j_and_k_move_the_current_row_down_and_up_and_stop_at_the_ends(page: Page):
    sids = open_table(page)
    expect(current_rows(page)).to_have_count(0)

    page.keyboard.press("j")
    expect(current_rows(page)).to_have_count(1)
    expect(page.locator(f"#row-{sids[0]}")).to_have_class(CURRENT)
    expect(page.locator(f"#row-{sids[0]}")).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator(f"#row-{sids[2]}")).to_have_class(CURRENT)
    page.keyboard.press("k")
    expect(page.locator(f"#row-{sids[1]}")).to_have_class(CURRENT)
    expect(current_rows(page)).to_have_count(1)

    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(page.locator(f"#row-{sids[0]}")).to_have_class(CURRENT)


def test_j_scrolls_the_current_row_into_view(page: Page):
    page.set_viewport_size({"width": 1280, "height": 500})
    sids = open_table(page, f"{TABLE}?status=pending&size=40")
    assert len(sids) > 15
    for _ in range(len(sids)):
        page.keyboard.press("j")
    last = page.locator(f"#row-{sids[-1]}")
    expect(last).to_have_class(CURRENT)
    expect(last).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0


def test_enter_opens_the_current_rows_task(page: Page):
    sids = open_table(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator(f"#row-{sids[1]}")).to_be_focused()

    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(rf"/tasks/{sids[1]}/$"))
    expect(page.locator("main h1")).to_contain_text(sids[1][:8])


@pytest.mark.both_modes
def test_e_opens_the_row_editor_and_escape_closes_it_leaving_the_row_current(page: Page):
    sids = open_table(page)
    page.keyboard.press("j")
    row = page.locator(f"#row-{sids[0]}")

    page.keyboard.press("e")

    expect(row).to_have_attribute("data-editing", "1")
    expect(row.locator("[data-editor-cancel]")).to_be_visible()
    expect(row.locator("input[name$=priority]")).to_be_focused()

    page.keyboard.press("Escape")

    expect(row).not_to_have_attribute("data-editing", "1")
    expect(row).to_have_class(CURRENT)
    expect(row).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f"#row-{sids[1]}")).to_have_class(CURRENT)


@pytest.mark.both_modes
def test_escape_pressed_as_the_editor_appears_closes_it_in_place(page: Page):
    """e, then Escape at once: the editor is on the page but htmx has not set up its
    Cancel link yet (it does as the new content settles, slowed down here so the moment
    can be caught). Escape still closes the editor in place: the table stays, and the
    browser does not open the row's fragment as a page."""
    sids = open_table(page)
    page.evaluate("htmx.config.defaultSettleDelay = 3000")
    page.keyboard.press("j")
    row = page.locator(f"#row-{sids[0]}")

    page.keyboard.press("e")
    expect(row).to_have_attribute("data-editing", "1")
    page.keyboard.press("Escape")

    expect(row).not_to_have_attribute("data-editing", "1")
    expect(page).to_have_url(re.compile(rf"{re.escape(PENDING)}$"))
    expect(page.locator("#task-rows > tr")).to_have_count(len(sids))


def test_slash_puts_the_cursor_in_the_search_field_without_typing_a_slash(page: Page):
    open_table(page)
    field = search_field(page)
    field.fill("")
    page.locator("main h1").click()

    page.keyboard.press("/")

    expect(field).to_be_focused()
    expect(field).to_have_value("")


def test_no_shortcut_fires_while_typing_in_a_field_or_with_a_modifier_key(page: Page):
    sids = open_table(page)
    field = search_field(page)
    field.click()
    field.fill("")

    field.press_sequentially("j/k?e")

    expect(field).to_have_value("j/k?e")
    expect(current_rows(page)).to_have_count(0)
    expect(page.locator("#shortcuts-help")).not_to_be_visible()

    page.locator("main h1").click()
    page.keyboard.press("Control+j")
    page.keyboard.press("Alt+k")
    expect(current_rows(page)).to_have_count(0)
    page.keyboard.press("j")
    expect(page.locator(f"#row-{sids[0]}")).to_have_class(CURRENT)


def test_question_mark_lists_the_shortcuts_and_escape_or_close_dismisses_the_list(page: Page):
    open_table(page)
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).not_to_be_visible()

    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    for key in ("/", "j", "k", "Enter", "e", "Esc", "?"):
        expect(dialog.locator("kbd", has_text=re.compile(rf"^{re.escape(key)}$"))).to_have_count(1)
    # Inside the dialog the table's shortcuts stay quiet.
    page.keyboard.press("j")
    expect(current_rows(page)).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()

    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()


def test_the_current_row_stays_current_when_a_live_refresh_replaces_it(page: Page, sandbox):
    page.add_init_script("window.localStorage.setItem('taskdeck.live.interval', '1')")
    sids = open_table(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    sid = sids[1]
    expect(page.locator(f"#row-{sid}")).to_be_focused()
    page.evaluate(f"document.getElementById('row-{sid}').dataset.marker = 'old element'")

    sandbox.change(
        sid, attributes={**sandbox.fetch(sid).attributes, "subject": "Changed by a colleague"}
    )  # a colleague, elsewhere

    row = page.locator(f"#row-{sid}")
    expect(row).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    expect(row).not_to_have_attribute("data-marker", "old element")
    expect(row).to_have_class(CURRENT)
    expect(current_rows(page)).to_have_count(1)
    expect(row).to_be_focused()
    page.keyboard.press("j")
    expect(page.locator(f"#row-{sids[2]}")).to_have_class(CURRENT)


# --- Both colour schemes -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("view", ["table", "task-page"])
def test_pages_pass_axe_in_the_light_and_the_dark_scheme(page: Page, axe, sandbox, scheme, view):
    page.emulate_media(color_scheme=scheme)
    if view == "table":
        open_table(page, f"{TABLE}?status=pending,reserved,assigned&cols=language")
        page.keyboard.press("j")  # the current row's colours are checked too
        expect(current_rows(page)).to_have_count(1)
    else:
        page.goto(f"{TABLE}{sandbox.task_sid('assigned')}/")
        expect(page.locator("main h1")).to_be_visible()
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (scheme == "dark")
    axe(page)
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
    axe(page)


def test_the_dark_scheme_really_darkens_the_page(page: Page):
    page.emulate_media(color_scheme="dark")
    open_table(page)
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    red, green, blue = (int(part) for part in re.findall(r"\d+", background)[:3])
    assert max(red, green, blue) < 60, background


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_conflict_view_and_its_diff_table_pass_axe_in_both_schemes(
    page: Page, axe, sandbox, browser_problems, scheme
):
    # Chromium logs the 409 that carries the conflict; the app answers it on purpose.
    browser_problems.expect_console_error(r"status of 409 \(")
    page.emulate_media(color_scheme=scheme)
    priority_conflict(page, sandbox, sandbox.task_sid("pending"), theirs=55, mine="9")
    axe(page)
