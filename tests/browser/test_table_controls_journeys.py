"""The task table's controls as a supervisor uses them: live refresh that costs nothing
when nothing changed and never moves the page under them, the pause button, Escape, the
row editor's priority field, and the page without JavaScript.

Waiting is Playwright's (every ``expect`` retries until it holds) or a poll with a
deadline; there are no fixed sleeps.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.identities import IDENTITIES

TABLE = "/w/Support/tasks/"
ONE_SECOND_REFRESH = "window.localStorage.setItem('taskdeck.live.interval', '1')"


def row_sids(page: Page) -> list[str]:
    return page.locator("#task-rows > tr").evaluate_all("rows => rows.map(r => r.dataset.sid)")


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def wait_until(page: Page, condition, *, timeout: float = 8.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


class Refreshes:
    """The live refresh's answers (``HX-Target: task-rows``) as the browser got them."""

    def __init__(self, page: Page) -> None:
        self.answers: list[Response] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        if response.request.headers.get("hx-target") == "task-rows":
            self.answers.append(response)

    def statuses(self) -> list[int]:
        return [answer.status for answer in self.answers]


@pytest.mark.both_modes
def test_an_unchanged_table_refreshes_with_empty_answers_and_its_ages_keep_moving(page: Page):
    page.add_init_script(ONE_SECOND_REFRESH)
    refreshes = Refreshes(page)
    page.goto(f"{TABLE}?status=pending")
    age = page.locator("#task-rows > tr").first.locator(".col-age")
    expect(age).to_have_attribute("data-created", re.compile(r"^20\d\d-"))
    first_seconds = int(age.get_attribute("title").replace(",", "").split()[0])
    page.evaluate("document.querySelector('#task-rows > tr').dataset.marker = 'kept'")

    wait_until(page, lambda: refreshes.statuses().count(204) >= 2, what="two refreshes")

    assert set(refreshes.statuses()) == {204}, "nothing changed, so nothing should travel"
    assert all(answer.body() == b"" for answer in refreshes.answers)
    # htmx made the request: its headers and the page's CSRF header come with it.
    sent = refreshes.answers[0].request.headers
    assert sent["hx-request"] == "true"
    assert sent["hx-current-url"] == page.url
    assert sent["x-csrftoken"]
    assert sent["taskdeck-rows"]
    # The row is the same element, and its age (exact in the tooltip) moved on anyway.
    expect(page.locator("#task-rows > tr").first).to_have_attribute("data-marker", "kept")
    expect(age).not_to_have_attribute("title", f"{first_seconds:,} seconds", timeout=6_000)
    later_seconds = int(age.get_attribute("title").replace(",", "").split()[0])
    assert later_seconds > first_seconds
    expect(page.locator("#data-age")).to_have_text(re.compile(r"\(\d+ s ago\)"))


@pytest.mark.both_modes
def test_a_changed_row_arrives_alone_and_lands_in_place(page: Page, sandbox):
    page.add_init_script(ONE_SECOND_REFRESH)
    refreshes = Refreshes(page)
    page.goto(f"{TABLE}?status=pending&cols=subject")
    sids = row_sids(page)
    changing = sids[5]
    task = sandbox.fetch(changing)
    sandbox.change(changing, attributes={**task.attributes, "subject": "Changed by a colleague"})

    row = page.locator(f"#row-{changing}")
    expect(row).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    expect(row).to_contain_text("Changed by a colleague")
    assert row_sids(page) == sids
    changed = [a for a in refreshes.answers if a.status == 200]
    assert len(changed) == 1
    assert changed[0].body().decode().count("<tr ") == 1
    expect(page.locator("#announcer")).to_have_text("Live update: 1 task changed.")


@pytest.mark.both_modes
def test_when_taskrouter_stops_answering_the_table_keeps_its_rows_and_says_so_then_recovers(
    page: Page, loopback_sandbox, browser_problems
):
    page.add_init_script(ONE_SECOND_REFRESH)
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    sids = row_sids(page)
    browser_problems.expect_console_error(r"status of 503 \(Service Unavailable\)")
    loopback_sandbox.faults.set("503;path=/Tasks")

    state = page.locator("#live-state")
    expect(state).to_have_text(
        # TaskRouter's problem in its own words, then that it will try again.
        re.compile(r"^Refresh failed: TaskRouter .+\. Retrying\.$"),
        timeout=8_000,
    )
    assert row_sids(page) == sids
    expect(page.get_by_role("link", name="Taskdeck", exact=True)).to_be_visible()

    loopback_sandbox.faults.clear()
    expect(state).to_have_text("", timeout=15_000)  # retries back off, then succeed
    assert row_sids(page) == sids


def test_a_live_update_keeps_the_scroll_position_while_a_row_checkbox_has_focus(
    page: Page, sandbox
):
    page.add_init_script(ONE_SECOND_REFRESH)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{TABLE}?status=pending,reserved&size=100&cols=subject")
    expect(page.locator("#live-controls")).to_be_visible()
    page.evaluate("window.scrollTo(0, 700)")
    wait_until(page, lambda: page.evaluate("window.scrollY") == 700, what="the scroll")
    # A row in the middle of what the user sees: select it by keyboard, as in bulk work.
    sid = page.evaluate(
        """() => [...document.querySelectorAll('#task-rows > tr')].find(
            row => row.getBoundingClientRect().top > 300).dataset.sid"""
    )
    checkbox = page.locator(f"#select-{sid}")
    checkbox.focus()
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    top_before = page.locator(f"#row-{sid}").evaluate("row => row.getBoundingClientRect().top")
    y_before = page.evaluate("window.scrollY")

    task = sandbox.fetch(sid)
    sandbox.change(sid, attributes={**task.attributes, "subject": "Changed while selected"})
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    settled(page)

    assert page.evaluate("window.scrollY") == y_before
    assert row.evaluate("row => row.getBoundingClientRect().top") == top_before
    expect(checkbox).to_be_checked()
    expect(checkbox).to_be_focused()


def test_the_pause_button_says_resume_while_paused_and_is_remembered(page: Page):
    page.goto(f"{TABLE}?status=pending")
    toggle = page.locator("#live-toggle")
    expect(toggle).to_have_text("Pause live updates")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    toggle.click()
    expect(toggle).to_have_text("Resume live updates")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-state")).to_have_text("Paused.")

    page.reload()
    expect(toggle).to_have_text("Resume live updates")
    toggle.click()
    expect(toggle).to_have_text("Pause live updates")
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_escape_closes_the_row_editor_and_keeps_the_row(page: Page, sandbox, browser_problems):
    # The Cancel link inherits the editor form's hx-disabled-elt="find button", and htmx
    # logs that it finds no button in a link: the editor's markup, not this journey.
    browser_problems.expect_console_error(r'"find button" on hx-disabled-elt')
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    sid = row_sids(page)[0]
    priority_before = sandbox.fetch(sid).priority
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)

    row.get_by_label("Priority").focus()
    page.keyboard.press("Escape")

    expect(row).not_to_have_attribute("data-editing", "1")
    expect(page.get_by_role("link", name=f"Edit {sid}", exact=True)).to_be_visible()
    assert sandbox.fetch(sid).priority == priority_before


def test_typing_in_the_row_editors_priority_replaces_the_number_shown(page: Page, sandbox):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    sid = row_sids(page)[0]
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    settled(page)
    priority = row.get_by_label("Priority")
    expect(priority).to_have_value(str(sandbox.fetch(sid).priority))

    expect(priority).to_be_focused()  # the editor opens on it

    page.keyboard.type("7")
    expect(priority).to_have_value("7")

    row.get_by_label("Status").focus()
    page.keyboard.press("Shift+Tab")  # back by keyboard: the same
    expect(priority).to_be_focused()
    page.keyboard.type("12")
    expect(priority).to_have_value("12")

    row.get_by_label("Status").focus()
    priority.click()  # and back by mouse
    page.keyboard.type("3")
    expect(priority).to_have_value("3")


def test_escape_closes_the_workspace_switcher_and_returns_to_it(page: Page):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    switcher = page.locator("details.workspace-switcher")
    summary = switcher.locator("summary")
    summary.click()
    expect(switcher.get_by_role("link", name="Support", exact=True)).to_be_visible()
    switcher.get_by_role("link", name="Support", exact=True).focus()

    page.keyboard.press("Escape")

    expect(switcher).not_to_have_attribute("open", "")
    expect(switcher.get_by_role("list")).to_be_hidden()
    expect(summary).to_be_focused()


@pytest.mark.both_modes
def test_columns_closes_on_escape_and_at_a_click_elsewhere_so_it_never_covers_the_editor(
    page: Page,
):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    chooser = page.locator("details.column-chooser")
    choices = chooser.get_by_role("group", name="Attribute columns")
    summary = chooser.locator("summary")
    summary.click()
    expect(choices).to_be_visible()

    page.keyboard.press("Escape")

    expect(choices).to_be_hidden()
    expect(summary).to_be_focused()

    # Open, then edit a row beside it: the menu closes, and the editor's priority field
    # is what a click on it reaches (the open menu lay over it).
    summary.click()
    expect(choices).to_be_visible()
    sid = row_sids(page)[0]
    page.get_by_role("link", name=f"Edit {sid}", exact=True).click()
    row = page.locator(f"#row-{sid}")
    expect(row).to_have_attribute("data-editing", "1")
    expect(choices).to_be_hidden()
    priority = row.get_by_label("Priority")
    priority.click(trial=True)  # fails while anything else would receive the click

    # The workspace menu closes the same way.
    switcher = page.locator("details.workspace-switcher")
    switcher.locator("summary").click()
    expect(switcher.get_by_role("list")).to_be_visible()
    page.locator("h1").click()
    expect(switcher.get_by_role("list")).to_be_hidden()


def test_without_javascript_the_live_controls_stay_hidden(browser: Browser, live_server):
    context = browser.new_context(
        java_script_enabled=False, base_url=live_server.url, extra_http_headers=IDENTITIES["admin"]
    )
    try:
        page = context.new_page()
        page.goto(f"{TABLE}?status=pending")
        expect(page.locator("#task-rows > tr").first).to_be_visible()
        expect(page.get_by_role("button", name="Pause live updates")).to_be_hidden()
        expect(page.locator("#live-controls")).to_be_hidden()
    finally:
        context.close()
