"""What stays put and what fits: no control moves when another gains or loses focus, and
every kind of page fits the screens supervisors use (a 1280 px laptop, a 768 px tablet, a
390 px phone) without sideways scrolling, the phone showing the first task on its first
screen. Measured in Chromium, from the boxes the browser laid out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.identities import IDENTITIES
from tests.index_helpers import follow_now

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


def test_the_datas_age_appearing_after_load_moves_no_control(page: Page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    age = page.locator("#data-age")
    # As the server writes it, then as the script does after load and as the data ages.
    shown = []
    for text in ("as of 10:42:07", "as of 10:42:07 (3 s ago)", "as of 10:42:07 (59 min ago)"):
        age.evaluate("(label, text) => { label.textContent = text; }", text)
        shown.append(boxes(page))
    assert moved(shown[0], shown[1]) == {} and moved(shown[0], shown[2]) == {}


def test_on_a_laptop_the_tables_tools_and_what_export_covers_share_one_line(page: Page):
    """The row count, live updates, Columns, Export CSV and what the export covers fit one
    line at 1280 px: the note wrapped alone under the row count read as a stray line."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    note = page.locator(".toolbar .export-note")
    expect(note).to_have_text(re.compile(r"^\(all pages, up to \d{1,3}(,\d{3})*\)$"))
    line = page.locator("#row-count").bounding_box()
    for item in (page.locator("#live-toggle"), page.locator(".toolbar summary"), note):
        box = item.bounding_box()
        assert box["y"] < line["y"] + line["height"] and line["y"] < box["y"] + box["height"], (
            f"{item} is not on the row count's line: {box} against {line}"
        )


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


# --- Every page fits the screens supervisors use -----------------------------------------

SCREENS = {"laptop": (1280, 800), "tablet": (768, 1024), "phone": (390, 844)}
MISSING_TASK = "WT00000000000000000000000000000000"


@pytest.fixture
def page_kinds(
    page: Page, sandbox, browser, browser_context_args, browser_problems
) -> Iterator[dict[str, Callable[[int, int], Page]]]:
    """Each kind of page: a function per kind that opens it in a window of the given size
    and returns the page it is on."""
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, priority=7)  # the audit trail has a record to show
    context = browser.new_context(
        **{**browser_context_args, "extra_http_headers": IDENTITIES["viewer"]}
    )
    browser_problems.watch(context)
    viewer = context.new_page()
    browser_problems.expect_console_error(r"status of (403|404) \(")

    job_url: list[str] = []

    def bulk_job(width: int, height: int) -> Page:
        page.set_viewport_size({"width": width, "height": height})
        if job_url:
            page.goto(job_url[0])
            return page
        page.goto(f"{TABLE}?status=pending")
        for box in page.locator("#task-rows .row-select").all()[:2]:
            box.check()
        page.locator("#bulk-form").get_by_label("Reason").fill("duplicate")
        page.locator("#bulk-form").evaluate("form => form.submit()")  # as without JavaScript
        expect(page).to_have_url(re.compile(r"/tasks/bulk/[\w-]+/$"))
        job_url.append(page.url)
        return page

    def visit(url: str, on: Page = page) -> Callable[[int, int], Page]:
        def open_it(width: int, height: int) -> Page:
            on.set_viewport_size({"width": width, "height": height})
            on.goto(url)
            return on

        return open_it

    yield {
        "table": visit(TABLE),
        "task": visit(f"{TABLE}{sid}/"),
        "create": visit(f"{TABLE}new/"),
        "bulk job": bulk_job,
        "audit": visit("/audit/"),
        "search": visit("/search/?q=garcia"),
        "forbidden": visit("/audit/", on=viewer),
        "error": visit(f"{TABLE}{MISSING_TASK}/"),
    }
    context.close()


def overflow(page: Page) -> int:
    """How far the document is wider than the window (sideways scrolling), in pixels."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_every_kind_of_page_fits_each_screen_without_sideways_scrolling(page_kinds):
    too_wide = {}
    for screen, (width, height) in SCREENS.items():
        for kind, open_page in page_kinds.items():
            shown = open_page(width, height)
            if (extra := overflow(shown)) > 0:
                too_wide[f"{kind} on a {screen} ({width} px)"] = f"{width + extra} px wide"
    assert not too_wide, "\n".join(f"{where}: {what}" for where, what in too_wide.items())


def in_reach(page: Page, selector: str) -> str | None:
    """Why the first element ``selector`` finds cannot be clicked once the window scrolls
    it into view vertically (never sideways), or None when it can."""
    return page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            if (!element) return "not on the page";
            window.scrollTo(0, element.getBoundingClientRect().top + window.scrollY - 100);
            const box = element.getBoundingClientRect();
            const [left, right] = [Math.round(box.left), Math.round(box.right)];
            if (left < 0 || right > window.innerWidth) {
                return `outside the window (${left} to ${right} px)`;
            }
            const [x, y] = [box.left + box.width / 2, box.top + box.height / 2];
            const hit = document.elementFromPoint(x, y);
            if (!hit || !(hit === element || element.contains(hit))) {
                return `covered by ${hit ? hit.outerHTML.slice(0, 80) : "nothing"}`;
            }
            return null;
        }""",
        selector,
    )


@pytest.mark.parametrize("height", [1400, 800])
def test_ticking_rows_one_after_another_moves_none_of_them(page: Page, height: int):
    """The bulk bar appears with the first tick. In the page's flow above the table it
    pushed every row down by its height, so the next tick landed a row off; now it lies
    over the foot of the screen (where rows scrolled clear of it stay reachable). With the
    table on the first screen (1400 px tall) and scrolled to (800 px)."""
    page.set_viewport_size({"width": 1280, "height": height})
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    boxes = page.locator("#task-rows .row-select")
    if height == 800:  # scrolled so the first rows are mid-screen, as a person reads them
        page.locator("#task-rows > tr").first.evaluate(
            "row => row.scrollIntoView({block: 'center'})"
        )
    where = [boxes.nth(n).bounding_box() for n in range(3)]
    scrolled = page.evaluate("window.scrollY")

    for n in range(3):
        box = where[n]
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        expect(boxes.nth(n)).to_be_checked()  # the click landed where the box was seen
    expect(page.locator("#bulk-form")).to_be_visible()

    assert [boxes.nth(n).bounding_box() for n in range(3)] == where
    assert page.evaluate("window.scrollY") == scrolled


def test_the_bulk_bar_shows_a_field_only_with_the_action_that_uses_it(page: Page):
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    page.locator("#task-rows .row-select").first.check()
    bar = page.locator("#bulk-form")
    priority, queue = bar.get_by_label("New priority"), bar.get_by_label("Send to queue")
    expect(bar.get_by_label("Reason")).to_be_visible()  # every action records one
    expect(priority).to_be_hidden()
    expect(queue).to_be_hidden()
    bar.get_by_label("Action").select_option(label="Change priority")
    expect(priority).to_be_visible()
    expect(queue).to_be_hidden()
    bar.get_by_label("Action").select_option(value="send")
    expect(queue).to_be_visible()
    expect(priority).to_be_hidden()


def test_on_a_tablet_every_action_is_in_reach(page: Page, sandbox):
    page.set_viewport_size({"width": 768, "height": 1024})
    unreachable = {}
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    page.locator("#task-rows .row-select").first.check()
    expect(page.locator("#bulk-form")).to_be_visible()
    for selector in (
        "#task-rows > tr:first-child .col-actions a",
        "#task-rows > tr:first-child .row-select",
        ".page-heading .button",
        ".column-chooser summary",
        "a[download]",
        "#bulk-form button[type=submit]",
        "#filters .filter-actions button",
    ):
        unreachable[f"table: {selector}"] = in_reach(page, selector)
    sid = sandbox.task_sid("assigned")
    page.goto(f"{TABLE}{sid}/")
    for section in ("status", "priority", "channel", "start", "attributes", "delete"):
        selector = f"#edit-{section} button, #edit-{section} summary"
        unreachable[f"task page: {section}"] = in_reach(page, selector)
    page.goto(f"{TABLE}new/")
    unreachable["create: Create task"] = in_reach(page, "#create-form button[type=submit]")
    assert {where: why for where, why in unreachable.items() if why} == {}


def test_on_a_phone_the_header_fits_and_the_first_task_is_on_the_first_screen(page: Page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()  # the zone chooser is in too
    header = page.evaluate(
        """() => {
            const header = document.querySelector(".site-header");
            const widest = Math.max(...Array.from(header.querySelectorAll("*"),
                (element) => element.getBoundingClientRect().right));
            return {scroll: header.scrollWidth, width: header.clientWidth, widest};
        }"""
    )
    assert header["scroll"] <= header["width"] and header["widest"] <= 390, header
    first = page.locator("#task-rows > tr").first.bounding_box()
    assert first["y"] + first["height"] <= 844, (
        f"the first task ends at {first['y'] + first['height']} px"
    )


@pytest.mark.parametrize("width", [1280, 768, 390])
def test_the_row_editor_keeps_each_label_over_its_field_within_the_frame(page: Page, width: int):
    """Each field of a row's editor is one box (its label, help and control together), and
    on a screen narrower than the table every one is in the frame's visible part: before,
    "Status:" could end one line with its menu starting the next, and on a phone the
    fields lay off to the side of the frame, reached by scrolling it."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{TABLE}?status=pending")
    expect(page.locator("#live-controls")).to_be_visible()
    page.locator("#task-rows [data-row-edit]").first.click()
    editor = page.locator("#task-rows > tr[data-editing]")
    expect(editor.get_by_label("Priority")).to_be_focused()
    misplaced = editor.evaluate(
        """(editor) => {
            const frame = document.getElementById("table-wrap").getBoundingClientRect();
            const problems = [];
            editor.querySelectorAll(".row-fields label").forEach((label) => {
                const control = document.getElementById(label.htmlFor);
                const l = label.getBoundingClientRect(), c = control.getBoundingClientRect();
                const name = label.textContent.trim();
                if (c.top < l.bottom - 1 || c.left > l.right || c.right < l.left) {
                    problems.push(`${name} at ${l.left},${l.top}; control ${c.left},${c.top}`);
                }
                if (l.left < frame.left || c.right > frame.right + 1) {
                    const where = `${frame.left}..${frame.right}`;
                    problems.push(`${name} ${c.left}..${c.right} out of ${where}`);
                }
            });
            return problems;
        }"""
    )
    assert misplaced == []


def test_on_a_laptop_the_table_fits_its_frame_for_waiting_work_work_with_agents_and_all(
    page: Page,
):
    page.set_viewport_size({"width": 1280, "height": 800})
    too_wide = {}
    for view in ("", "?status=assigned,wrapping", "?sort=-priority,created"):
        page.goto(f"{TABLE}{view}")
        expect(page.locator("#live-controls")).to_be_visible()  # times in their final words
        frame = page.evaluate(
            "(() => { const f = document.getElementById('table-wrap');"
            " return [f.scrollWidth, f.clientWidth]; })()"
        )
        if frame[0] > frame[1]:
            too_wide[view or "the landing view"] = f"{frame[0]} px in a {frame[1]} px frame"
    assert too_wide == {}


def column_edges(page: Page, row: str) -> list[tuple[int, int]]:
    """Each cell's left edge and width in one row of the task table, to the pixel."""
    return page.locator(row).evaluate(
        """(row) => [...row.children].map((cell) => {
            const box = cell.getBoundingClientRect();
            return [Math.round(box.left), Math.round(box.width)];
        })"""
    )


def test_every_row_lines_up_under_its_header_and_chosen_columns_keep_their_width(page: Page):
    """The table draws a row only as it nears the screen, with set column widths: a row far
    down, once scrolled to, shows its text and lines up with the header; two chosen
    attribute columns widen the table past its frame (it scrolls) instead of squeezing
    the task's title."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{TABLE}?status=pending,assigned&size=200&cols=language,customer.tier")
    expect(page.locator("#live-controls")).to_be_visible()
    rows = page.locator("#task-rows > tr")
    assert rows.count() == 200
    header = column_edges(page, "#task-table thead tr")
    assert len(header) == 14  # the checkbox, ten columns, the two chosen ones, Edit
    assert column_edges(page, "#task-rows > tr:first-child") == header

    last = rows.last
    last.scroll_into_view_if_needed()
    expect(last.locator(".col-status")).to_have_text(re.compile(r"^(Pending|Assigned)$"))
    assert column_edges(page, "#task-rows > tr:last-child") == header

    frame = page.evaluate(
        "(() => { const f = document.getElementById('table-wrap');"
        " return [f.scrollWidth, f.clientWidth]; })()"
    )
    assert frame[0] > frame[1], "two more columns should widen the table, not squeeze it"
    _, title_width = header[1]
    assert title_width >= 150, f"the task's column was squeezed to {title_width} px"


# Brings the element into view at once, as End or a dragged scrollbar does, and says where
# it came into view and where it is four frames later, and how tall the page was and is.
SCROLL_TO_AND_WATCH = """async (selector) => {
    const target = document.querySelector(selector);
    const where = () => [
        Math.round(target.getBoundingClientRect().top),
        document.documentElement.scrollHeight,
    ];
    target.scrollIntoView({block: "end"});
    const seen = where();
    for (let frame = 0; frame < 4; frame++) await new Promise(requestAnimationFrame);
    return {seen, later: where()};
}"""


@pytest.mark.parametrize("size", [10, 50, 200])
def test_the_pager_stays_where_it_came_into_view(page: Page, size: int):
    """Rows not drawn yet count as one line, and at 1280 px most rows wrap to two: drawn
    only as they came into view, they pushed the pager 185 px (10 rows) or 655 px (50 rows)
    below the screen just after it appeared, under the pointer about to click Next. The
    frames after the first now draw each row once, and it keeps the height it was drawn
    at: the pager stays where it appeared."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{TABLE}?status=pending,reserved,assigned,wrapping&size={size}")
    expect(page.locator("#task-rows > tr")).to_have_count(size)
    expect(page.locator("#task-rows[data-measured]")).to_have_count(1)

    watched = page.evaluate(SCROLL_TO_AND_WATCH, "nav.pager a[rel=next]")

    assert watched["later"] == watched["seen"], watched
    assert watched["seen"][0] <= 720, "the Next link should have come into view"


@pytest.mark.parametrize("width", [1280, 390])
def test_search_results_break_no_word_in_two(page: Page, width: int):
    """Six columns squeezed into a phone broke every word ("pe ndi ng", "Sup port"); on a
    phone each match is now a card of lines, and no word of a match is split on any screen
    (a task SID, one 34-character word, may wrap where it must)."""
    follow_now()
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/search/?q=refund")
    expect(page.locator("table.search-results tbody tr").first).to_be_visible()
    split = page.evaluate(
        """() => {
            const split = [];
            const cells = document.querySelectorAll(
                ".search-results tbody th a, .search-results tbody td");
            cells.forEach((cell) => {
                const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    for (const match of node.textContent.matchAll(/\\S+/g)) {
                        const range = document.createRange();
                        range.setStart(node, match.index);
                        range.setEnd(node, match.index + match[0].length);
                        const lines = new Set(Array.from(range.getClientRects(),
                            (rect) => Math.round(rect.top)));
                        if (lines.size > 1) split.push(match[0]);
                    }
                }
            });
            return split;
        }"""
    )
    assert split == [], f"words broken across lines: {split[:10]}"
    assert overflow(page) == 0


def test_on_a_phone_the_audit_trails_filters_leave_its_first_record_on_the_first_screen(
    page: Page, sandbox
):
    """The filters were one field per line, each a paragraph with its margins: on a phone
    they filled the first screen and the newest record began below it."""
    sandbox.change(sandbox.task_sid("pending"), priority=7)  # a record to show
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/audit/")
    first = page.locator(".audit-table tbody tr").first
    expect(first).to_be_visible()
    box = first.bounding_box()
    assert box["y"] + box["height"] <= 844, f"the newest record ends at {box} px"
    # Each label sits over its own field, never beside another field's.
    misplaced = page.evaluate(
        """() => Array.from(document.querySelectorAll(
                'form[aria-label="Filter the audit trail"] label'))
            .filter((label) => {
                const field = document.getElementById(label.htmlFor);
                const l = label.getBoundingClientRect(), f = field.getBoundingClientRect();
                return f.top < l.bottom - 1 || Math.abs(f.left - l.left) > 1;
            }).map((label) => label.textContent.trim())"""
    )
    assert misplaced == []


@pytest.mark.both_modes
def test_a_rows_time_never_breaks_inside_its_duration_as_the_clock_moves_it(page: Page):
    """ "waiting 1 h 43" over "min" read as a broken cell on every other row at 1280 px:
    the duration is one unbreakable piece, and stays one as the page's clock counts on."""
    follow_now()  # the index knows who holds each task: the Agent column says for how long
    page.clock.install()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{TABLE}?status=pending,assigned")
    expect(page.locator("#task-rows .col-agent .duration").first).to_be_visible()
    ages = page.locator("#task-rows .col-age")
    expect(ages.first).to_be_visible()
    before = ages.first.text_content()

    def broken() -> list[str]:
        """Cells whose duration spans two lines (its span; without one, the text from its
        first digit to the end)."""
        return page.evaluate(
            """() => Array.from(document.querySelectorAll(
                "#task-rows .col-age, #task-rows .col-agent")).filter((cell) => {
                const range = document.createRange();
                const span = cell.querySelector(".duration");
                if (span) {
                    range.selectNodeContents(span);
                } else {  // no span of its own: from the first digit to the end
                    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
                    const nodes = [];
                    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                        nodes.push(node);
                    }
                    const first = nodes.find((node) => /\\d/.test(node.textContent));
                    if (!first) return false;
                    range.setStart(first, first.textContent.search(/\\d/));
                    const last = nodes[nodes.length - 1];
                    range.setEnd(last, last.textContent.length);
                }
                const lines = new Set(Array.from(range.getClientRects(),
                    (rect) => Math.round(rect.top)));
                return lines.size > 1;
            }).map((cell) => cell.textContent)"""
        )

    assert broken() == []
    page.clock.fast_forward("01:00:00")  # an hour on: every duration grows a part
    expect(ages.first).not_to_have_text(before)
    expect(ages.first).to_contain_text(re.compile(r" h "))
    assert broken() == []


def test_a_service_level_target_refused_keeps_every_field_of_its_queue_in_line(
    page: Page, browser_problems
):
    """The message under "Every channel" used to stand between its label and its field and
    push the channels' fields to another line; now each field is under its label, the
    queue's fields in one line, and the message under the field it is about."""
    browser_problems.expect_console_error(r"status of 422")  # the refusal carries the form
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/w/Support/targets/")
    billing = page.locator("form.targets-form").first
    every = billing.get_by_label("Every channel")
    every.fill("3 days")
    billing.get_by_role("button").click()
    message = billing.locator(".errorlist")
    expect(message).to_contain_text("'3 days' is not a wait.")
    expect(every).to_have_value("3 days")
    tops = {
        round(box["y"])
        for box in (f.bounding_box() for f in billing.locator("input[type=text]").all())
    }
    assert len(tops) == 1, f"the queue's fields stand at {sorted(tops)}"
    field, said = every.bounding_box(), message.bounding_box()
    assert said["y"] >= field["y"] + field["height"], "the message is under its field"
