"""What a supervisor does with the task table, in a real browser: open a runbook link,
filter, sort, page, open a task, mistype an expression, work by keyboard, watch live
updates. Each test asserts what the user would notice on screen (and in the address bar).

Waiting is Playwright's: every ``expect`` retries until it holds (or times out). The only
fixed wait is in the live-refresh test, which is about time (nothing may happen while
paused).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Route, expect

from tasks_app.taskrouter import service as taskrouter
from tests.browser.helpers import cell_texts
from tests.conftest import wait_until

TABLE = "/w/Support/tasks/"
SORT_MARKS = " \n\t▲▼•⇅"


# --- Reading the page the way a user reads it --------------------------------------------


def rows(page: Page) -> Locator:
    return page.locator("#task-rows > tr")


def row_sids(page: Page) -> list[str]:
    return rows(page).evaluate_all("rows => rows.map(row => row.dataset.sid)")


def row_checkbox(page: Page, sid: str) -> Locator:
    return page.locator(f"#row-{sid}").get_by_role("checkbox", name=re.compile(sid))


def sid_cells(page: Page) -> Locator:
    return page.locator("#task-rows > tr > th.col-sid")


def column(page: Page, header: str) -> Locator:
    """The cells under a column header, found by the header's visible label."""
    labels = [
        text.strip(SORT_MARKS) for text in page.locator("#task-table thead th").all_inner_texts()
    ]
    assert header in labels, f"no column {header!r} in {labels}"
    return page.locator(f"#task-rows > tr > :nth-child({labels.index(header) + 1})")


def column_texts(page: Page, header: str) -> list[str]:
    return cell_texts(column(page, header))


def priorities(page: Page) -> list[int]:
    return [int(text) for text in column_texts(page, "Priority")]


def query(page: Page) -> dict[str, list[str]]:
    """The address bar's query, without the empty parameters a GET form sends."""
    return parse_qs(urlsplit(page.url).query)


def caption(page: Page) -> Locator:
    return page.locator("#results-caption")


def settled(page: Page) -> None:
    """Wait until htmx has finished every request, swap and settle. Call it after
    waiting for a visible change: before a request starts there is nothing to wait for.
    (htmx processes swapped-in content when it settles, 20 ms after the swap; a change
    made before that reaches a form htmx does not know yet and submits it natively.)"""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def support_tasks(**filters) -> list[taskrouter.Task]:
    workspace = taskrouter.resolve_workspace("Support")
    return list(
        taskrouter.iter_tasks(workspace_sid=workspace.sid, query=taskrouter.TaskQuery(**filters))
    )


# --- Journeys ----------------------------------------------------------------------------


def test_a_runbook_link_shows_only_the_matching_tasks_and_says_what_it_shows(page: Page, axe):
    page.goto(f"{TABLE}?status=pending&queue=Billing&sort=-priority")

    expected = [
        t.sid
        for t in support_tasks(statuses=("pending",))
        if t.task_queue_friendly_name == "Billing"
    ]
    assert 1 < len(expected) <= 50, "the seed should give one page of pending Billing tasks"
    expect(rows(page)).to_have_count(len(expected))
    assert sorted(row_sids(page)) == sorted(expected)
    expect(page.locator("#task-rows .col-status .badge")).to_have_text(["Pending"] * len(expected))
    assert set(column_texts(page, "Queue")) == {"Billing"}
    found = priorities(page)
    assert found == sorted(found, reverse=True)
    expect(caption(page)).to_have_text(
        f"{len(expected)} pending tasks in Support, queue Billing, by priority (highest first)."
    )
    # The filters show the view too, so the user can change it from there.
    expect(page.get_by_role("checkbox", name="Pending", exact=True)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Reserved", exact=True)).not_to_be_checked()
    expect(page.get_by_label("Queue", exact=True)).to_have_value("Billing")
    expect(page.get_by_role("columnheader", name="Priority", exact=True)).to_have_attribute(
        "aria-sort", "descending"
    )
    axe(page)


@pytest.mark.both_modes
def test_changing_filters_updates_the_table_and_address_in_place_and_back_undoes_it(page: Page):
    page.goto(f"{TABLE}?status=pending")
    expect(caption(page)).to_contain_text("pending tasks in Support.")
    pending_only = row_sids(page)
    # A full page load would make a new window object and lose this.
    page.evaluate("window.taskdeckSamePage = 'yes'")

    page.get_by_role("checkbox", name="Reserved", exact=True).check()  # applies at once
    expect(page).to_have_url(re.compile(r"status=pending&status=reserved"))
    expect(caption(page)).to_contain_text("pending or reserved tasks in Support.")
    settled(page)
    assert query(page) == {"status": ["pending", "reserved"]}
    with_reserved_url, with_reserved = page.url, row_sids(page)
    either = support_tasks(statuses=("pending", "reserved"))
    assert with_reserved == [t.sid for t in either][:50]
    assert set(cell_texts(page.locator("#task-rows .badge"))) <= {"Pending", "Reserved"}

    page.get_by_label("Queue", exact=True).select_option("Billing")  # applies at once
    expect(page).to_have_url(re.compile(r"queue=Billing"))
    expect(caption(page)).to_contain_text("pending or reserved tasks in Support, queue Billing.")
    settled(page)
    assert query(page) == {"status": ["pending", "reserved"], "queue": ["Billing"]}
    billing = [t for t in either if t.task_queue_friendly_name == "Billing"]
    assert row_sids(page) == [t.sid for t in billing][:50]
    assert {t.assignment_status for t in billing[:50]} == {"pending", "reserved"}
    assert set(cell_texts(page.locator("#task-rows .badge"))) == {"Pending", "Reserved"}
    assert set(column_texts(page, "Queue")) == {"Billing"}
    assert page.evaluate("window.taskdeckSamePage") == "yes", "the page was reloaded"
    # The new view took the old one's place, and its own links work in place too.
    expect(page.locator("#task-view")).to_have_count(1)
    billing_url = page.url
    page.get_by_role("link", name="Priority", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]sort=-priority(&|$)"))
    settled(page)
    expect(page.locator("#task-view")).to_have_count(1)
    assert page.evaluate("window.taskdeckSamePage") == "yes", "sorting reloaded the page"
    page.go_back()
    expect(page).to_have_url(billing_url)
    # Back again only once this Back has redrawn the view, as a person sees it first.
    expect(caption(page)).to_have_text(re.compile(r"queue Billing\.$"))
    settled(page)

    page.go_back()
    expect(page).to_have_url(with_reserved_url)
    expect(caption(page)).to_have_text(re.compile(r"pending or reserved tasks in Support\.$"))
    expect(page.get_by_label("Queue", exact=True)).to_have_value("")
    expect(page.get_by_role("checkbox", name="Reserved", exact=True)).to_be_checked()
    assert row_sids(page) == with_reserved

    page.go_back()
    expect(page).to_have_url(re.compile(r"\?status=pending$"))
    expect(caption(page)).to_have_text(re.compile(r"pending tasks in Support\.$"))
    expect(page.get_by_role("checkbox", name="Reserved", exact=True)).not_to_be_checked()
    assert row_sids(page) == pending_only
    assert page.evaluate("window.taskdeckSamePage") == "yes", "going back reloaded the page"


def test_back_pressed_twice_quickly_shows_the_view_of_the_address_it_ends_on(page: Page):
    """Each Back asks the server for that page. The first one's answer is held back here
    until the second has landed, as a slow network might: the view stays the one of the
    address the browser ends on, not the one whose answer came last."""
    page.goto(f"{TABLE}?status=pending")
    page.get_by_role("checkbox", name="Reserved", exact=True).check()
    expect(page).to_have_url(re.compile(r"status=pending&status=reserved"))
    settled(page)
    page.get_by_label("Queue", exact=True).select_option("Billing")
    expect(page).to_have_url(re.compile(r"queue=Billing"))
    settled(page)
    page.evaluate("""() => {
        window.restored = 0;
        document.addEventListener("htmx:historyRestore", () => { window.restored += 1; });
    }""")
    held = []

    def hold_the_first_back(route: Route) -> None:
        if route.request.headers.get("hx-history-restore-request") and not held:
            held.append(route)  # answered below, once the second Back has landed
        else:
            route.continue_()

    page.route(re.compile(r"/w/Support/tasks/\?"), hold_the_first_back)
    page.go_back()  # to pending or reserved: its answer is held
    wait_until(lambda: page.evaluate("true") and held, timeout=15)
    page.go_back()  # to pending only
    expect(page).to_have_url(re.compile(r"\?status=pending$"))
    expect(caption(page)).to_have_text(re.compile(r"pending tasks in Support\.$"))

    with contextlib.suppress(PlaywrightError):  # dropped by the page already: nothing to send
        held[0].continue_()
    wait_until(
        lambda: held[0].request.failure is not None or page.evaluate("window.restored") >= 2,
        timeout=15,
    )
    expect(page).to_have_url(re.compile(r"\?status=pending$"))
    expect(caption(page)).to_have_text(re.compile(r"pending tasks in Support\.$"))
    expect(page.get_by_role("checkbox", name="Reserved", exact=True)).not_to_be_checked()


def test_a_filter_changed_while_the_previous_change_loads_is_not_lost(
    page: Page, loopback_sandbox, browser_problems
):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    loopback_sandbox.faults.set("delay=0.5;path=/Tasks")  # TaskRouter taking half a second
    # Aborting the superseded request is a fix; htmx logs every abort as a console error.
    browser_problems.expect_console_error(r"^htmx:(sendAbort|afterRequest)\b")
    with page.expect_request(re.compile(r"status=reserved")):
        page.get_by_role("checkbox", name="Reserved", exact=True).check()
    page.get_by_role("checkbox", name="Assigned", exact=True).check()  # while it loads
    expect(caption(page)).to_contain_text("pending or reserved")
    settled(page)
    assigned = page.get_by_role("checkbox", name="Assigned", exact=True)
    expect(assigned).to_be_checked(timeout=2_000)
    expect(page).to_have_url(re.compile(r"status=assigned"))
    expect(caption(page)).to_contain_text("pending or reserved or assigned tasks")


def test_clicking_the_priority_header_sorts_highest_first_then_lowest_first(page: Page):
    page.goto(f"{TABLE}?status=pending&size=100")
    header = page.get_by_role("columnheader", name="Priority", exact=True)
    expect(header).not_to_have_attribute("aria-sort", re.compile(".*"))
    unsorted = priorities(page)
    assert unsorted != sorted(unsorted, reverse=True), "the seed should not come pre-sorted"

    page.get_by_role("link", name="Priority", exact=True).click()
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"[?&]sort=-priority(&|$)"))
    settled(page)
    highest_first = priorities(page)
    assert highest_first == sorted(highest_first, reverse=True)
    assert highest_first[0] > highest_first[-1]
    expect(page.locator("th[aria-sort]")).to_have_count(1)  # only the sorted column
    expect(caption(page)).to_contain_text("by priority (highest first)")

    page.get_by_role("link", name="Priority", exact=True).click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"[?&]sort=priority(&|$)"))
    settled(page)
    lowest_first = priorities(page)
    assert lowest_first == sorted(lowest_first)
    assert lowest_first[0] < lowest_first[-1]
    expect(caption(page)).to_contain_text("by priority (lowest first)")


def test_next_and_previous_page_through_the_tasks(page: Page):
    page.goto(f"{TABLE}?status=pending&size=10")
    expect(rows(page)).to_have_count(10)
    first_page = row_sids(page)
    expected = [t.sid for t in support_tasks(statuses=("pending",))]
    assert first_page == expected[:10]
    expect(page.get_by_role("link", name="Previous", exact=True)).to_have_count(0)

    page.get_by_role("link", name="Next", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]page=\w+"))
    expect(rows(page).first).not_to_have_attribute("data-sid", first_page[0])
    expect(caption(page)).to_contain_text("(a later page)")
    settled(page)
    second_page = row_sids(page)
    assert second_page == expected[10:20]
    assert not set(second_page) & set(first_page)

    page.get_by_role("link", name="Previous", exact=True).click()
    expect(rows(page).first).to_have_attribute("data-sid", first_page[0])
    assert row_sids(page) == first_page
    expect(page.get_by_role("link", name="Previous", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Next", exact=True)).to_be_visible()


def test_back_on_the_first_page_the_table_does_not_claim_a_later_page(page: Page):
    page.goto(f"{TABLE}?status=pending&size=10")
    page.get_by_role("link", name="Next", exact=True).click()
    expect(caption(page)).to_contain_text("(a later page)")
    settled(page)
    page.get_by_role("link", name="Previous", exact=True).click()
    expect(page.get_by_role("link", name="Previous", exact=True)).to_have_count(0)
    settled(page)
    expect(caption(page)).not_to_contain_text("(a later page)", timeout=1_000)
    expect(page.get_by_role("link", name="First page")).to_have_count(0, timeout=1_000)


def test_a_task_opens_from_the_table_with_its_attributes(page: Page, sandbox):
    page.goto(f"{TABLE}?status=pending")
    sid = row_sids(page)[0]
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid("Support"), task_sid=sid)

    # The link reads as the task's title and short SID; the full SID is its tooltip.
    page.locator(f"#row-{sid} th.col-sid a[title='{sid}']").click()
    expect(page).to_have_url(re.compile(rf"{TABLE}{sid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(sid)
    expect(page).to_have_title(re.compile(sid))
    expect(page.locator("#task-updated")).to_have_attribute("data-etag", task.etag)
    expect(page.locator("dl.facts dt:text-is('Priority') + dd")).to_have_text(str(task.priority))
    attributes = page.locator("#task-attributes pre").first
    expect(page.get_by_role("heading", name="Attributes", exact=True)).to_be_visible()
    assert task.attributes
    assert json.loads(attributes.inner_text()) == task.attributes


@pytest.mark.both_modes
def test_a_broken_expression_is_explained_at_the_field_and_kept_as_typed(
    page: Page, browser_problems, axe
):
    page.goto(f"{TABLE}?status=pending")
    # The form errors come back as HTTP 400, which Chromium logs to the console.
    browser_problems.expect_console_error(r"status of 400 \(Bad Request\)")
    field = page.get_by_label("Attributes match")
    field.fill("language == ")
    field.press("Enter")

    error = page.locator("#where-error")
    expect(error).to_contain_text("at character 12 (the end of the expression)")
    expect(field).to_have_value("language == ")
    expect(field).to_have_attribute("aria-invalid", "true")
    # What a screen reader says on the field: its help and the error.
    expect(field).to_have_accessible_description(re.compile(r"at character 12"))
    expect(field).to_be_focused()  # the user can fix it at once
    expect(page.locator(".expression-caret mark")).to_have_count(1)
    expect(page.locator("#announcer")).to_have_text(re.compile(r"filters need fixing"))
    settled(page)
    axe(page)


@pytest.mark.both_modes
def test_a_refused_filter_leaves_the_page_whole_and_working_in_both_modes(
    page: Page, browser_problems, debug_mode
):
    """``make run`` serves with DEBUG on, where django-htmx's debug script used to replace
    the whole document with any 400 htmx answer: the page lost its styles and htmx."""
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()  # the page's script has run
    page.evaluate("window.taskdeckSamePage = 'yes'")
    browser_problems.expect_console_error(r"status of 400 \(Bad Request\)")
    field = page.get_by_label("Attributes match")
    field.fill("language==")
    field.press("Enter")

    expect(page.locator("#where-error")).to_contain_text("the end of the expression")
    # Still the whole page: its header, its styles, the filters above the message.
    expect(page.get_by_role("link", name="Taskdeck", exact=True)).to_be_visible()
    assert page.evaluate("document.styleSheets.length") >= 1
    assert page.locator("header.site-header").evaluate("e => getComputedStyle(e).display") == (
        "flex"
    )
    settled(page)
    # And htmx still drives it: fixing the expression updates the table in place.
    field.fill('language == "es"')
    field.press("Enter")
    expect(caption(page)).to_contain_text('matching language == "es"')
    assert page.evaluate("window.taskdeckSamePage") == "yes", "the page was reloaded"


@pytest.mark.both_modes
def test_editing_a_row_whose_task_was_deleted_elsewhere_says_so_in_place_in_both_modes(
    page: Page, sandbox, browser_problems
):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()  # the page's script has run
    page.evaluate("window.taskdeckSamePage = 'yes'")
    first, second = row_sids(page)[:2]
    task = sandbox.fetch(first)
    taskrouter.delete_task(  # in another tab, or by someone else
        actor="colleague@example.com",
        workspace_sid=task.workspace_sid,
        task_sid=first,
        if_match=task.etag,
    )
    browser_problems.expect_console_error(r"status of 404 \(Not Found\)")

    page.get_by_role("link", name=f"Edit {first}", exact=True).click()

    expect(page.get_by_text("TaskRouter has no such resource")).to_be_visible()
    expect(page.get_by_role("link", name="Taskdeck", exact=True)).to_be_visible()
    expect(page.locator(f"#row-{second}")).to_be_visible()
    settled(page)
    assert page.evaluate("window.taskdeckSamePage") == "yes", "the page was replaced"
    # htmx still works on the rest of the page.
    page.get_by_role("link", name=f"Edit {second}", exact=True).click()
    expect(page.locator(f"#row-{second}")).to_have_attribute("data-editing", "1")


def test_sorting_by_keyboard_keeps_focus_on_the_sort_link(page: Page):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()  # the page's script has run
    link = page.locator("#sort-priority")
    for _ in range(100):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "sort-priority":
            break
    else:
        pytest.fail("Tab never reached the Priority sort link")

    page.keyboard.press("Enter")
    header = page.get_by_role("columnheader", name="Priority", exact=True)
    expect(header).to_have_attribute("aria-sort", "descending")
    settled(page)
    expect(link).to_be_focused()

    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "ascending")
    settled(page)
    expect(link).to_be_focused()


class RefreshRequests:
    """The live refresh's requests (``HX-Target: task-rows``), as the browser sends them."""

    def __init__(self, page: Page) -> None:
        self.started = 0
        self.finished = 0
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_done)

    @staticmethod
    def _is_refresh(request) -> bool:
        return request.headers.get("hx-target") == "task-rows"

    def _on_request(self, request) -> None:
        self.started += self._is_refresh(request)

    def _on_done(self, request) -> None:
        self.finished += self._is_refresh(request)

    def drain(self, page: Page, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.finished < self.started:
            assert time.monotonic() < deadline, "a live refresh never finished"
            page.wait_for_timeout(50)


@pytest.mark.both_modes
def test_live_refresh_highlights_a_changed_row_keeps_selection_and_can_be_paused(
    page: Page, sandbox
):
    # The menu offers 5 s to 1 min; the script takes any stored positive number.
    page.add_init_script("window.localStorage.setItem('taskdeck.live.interval', '1')")
    refreshes = RefreshRequests(page)
    page.goto(f"{TABLE}?status=pending&cols=subject")
    expect(page.get_by_label("every", exact=True)).to_have_value("1")
    workspace_sid = sandbox.workspace_sid("Support")
    first, changing, later = row_sids(page)[:3]
    for sid in (first, changing):
        row_checkbox(page, sid).check()

    def change_subject_behind_the_tables_back(sid: str, subject: str) -> str:
        # A colleague (or TaskRouter) changes the task; the table is not told.
        task = taskrouter.fetch_task(workspace_sid=workspace_sid, task_sid=sid)
        taskrouter.update_task(
            actor="tests@example.com",
            workspace_sid=workspace_sid,
            task_sid=sid,
            if_match=task.etag,
            attributes={**task.attributes, "subject": subject},
        )
        return task.attributes["subject"]

    def subject_cell(sid: str) -> Locator:
        return column(page, "subject").nth(row_sids(page).index(sid))

    change_subject_behind_the_tables_back(changing, "Changed by a colleague")
    row = page.locator(f"#row-{changing}")
    expect(row).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    expect(subject_cell(changing)).to_have_text("Changed by a colleague")
    expect(page.locator(f"#row-{first}")).not_to_have_class(re.compile(r"\brow-changed\b"))
    for sid in (first, changing):
        expect(row_checkbox(page, sid)).to_be_checked()
    expect(page.locator("#announcer")).to_have_text("Live update: 1 task changed.")

    toggle = page.locator("#live-toggle")
    expect(toggle).to_have_text("Pause live updates")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    refreshes.drain(page)  # one may have been on its way when the button was pressed
    before = refreshes.started
    old_subject = change_subject_behind_the_tables_back(later, "Changed while paused")
    page.wait_for_timeout(3_500)  # three and a half refresh intervals
    assert refreshes.started == before, "the table refreshed while paused"
    expect(page.locator(f"#row-{later}")).not_to_have_class(re.compile(r"\brow-changed\b"))
    expect(subject_cell(later)).to_have_text(old_subject)


def test_a_live_update_keeps_keyboard_focus_on_the_row_being_selected(page: Page, sandbox):
    page.add_init_script("window.localStorage.setItem('taskdeck.live.interval', '1')")
    page.goto(f"{TABLE}?status=pending&cols=subject")
    sid = row_sids(page)[1]
    checkbox = row_checkbox(page, sid)
    checkbox.focus()
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    sandbox.change(
        sid, attributes={**sandbox.fetch(sid).attributes, "subject": "Changed by a colleague"}
    )  # a colleague, elsewhere
    expect(page.locator(f"#row-{sid}")).to_have_class(re.compile(r"\brow-changed\b"), timeout=8_000)
    expect(checkbox).to_be_checked()
    expect(checkbox).to_be_focused(timeout=1_000)


# --- Accessibility -----------------------------------------------------------------------


@pytest.mark.both_modes
@pytest.mark.parametrize("view", ["filtered-table", "form-errors", "task-page"])
def test_pages_have_no_serious_accessibility_violations(
    page: Page, axe, sandbox, browser_problems, view
):
    if view == "filtered-table":
        url = f"{TABLE}?status=pending,reserved&queue=Billing&sort=-priority&cols=language"
    elif view == "form-errors":
        browser_problems.expect_console_error(r"status of 400 \(Bad Request\)")
        url = f"{TABLE}?where=language%20==&size=5000&priority=high&queue=Nope&cols=a-b"
    else:
        url = f"{TABLE}{sandbox.task_sid('assigned')}/"
    page.goto(url)
    expect(page.locator("main h1")).to_be_visible()
    if view == "form-errors":
        expect(page.locator("[aria-invalid=true]")).not_to_have_count(0)
    axe(page)


def test_a_view_restored_by_back_is_not_left_busy(page: Page):
    page.add_init_script("window.localStorage.setItem('taskdeck.live.interval', '1')")
    page.goto(f"{TABLE}?status=pending")
    page.get_by_role("checkbox", name="Reserved", exact=True).check()
    expect(caption(page)).to_contain_text("pending or reserved")
    settled(page)
    page.go_back()
    expect(caption(page)).to_have_text(re.compile(r"pending tasks in Support\.$"))
    # aria-busy=true dims the table (opacity 0.6, so contrast fails), tells screen readers
    # the region is still loading, and stops live refresh, which waits for it to clear.
    expect(page.locator("#task-view")).not_to_have_attribute("aria-busy", "true", timeout=2_000)
    # Back asked the server for the view: no copy of the tasks stays in the browser.
    assert page.evaluate("window.sessionStorage.getItem('htmx-history-cache')") is None
