"""The words a supervisor reads, in Chromium: one meaning of "waiting work" for the
landing view, the counts strip and its links; times that say what they count for each
status; a save that makes the workflow route the task elsewhere says so before and after;
values as JSON; tasks, people and workspaces by name, SIDs as the detail; and no talk of
versions, ETags or If-Match outside the conflict view and hover details."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import VISIBLE_TEXT, cell_texts, settled

TABLE = "/w/Support/tasks/"
# Words of the machinery, which the main text of a page must not use (the conflict view
# and hover details may).
MACHINERY = re.compile(r"\bversion\b|\betag\b|if-match", re.IGNORECASE)
PYTHON_VALUES = re.compile(r"\b(True|False|None)\b")


def visible_text(page: Page) -> str:
    return page.evaluate(VISIBLE_TEXT)


def checked_statuses(page: Page) -> set[str]:
    return set(
        page.locator("#filters input[name=status]:checked").evaluate_all(
            "boxes => boxes.map(b => b.value)"
        )
    )


def row_statuses(page: Page) -> set[str]:
    return set(cell_texts(page.locator("#task-rows .col-status .badge")))


def statuses_in_url(page: Page) -> set[str]:
    values = parse_qs(urlsplit(page.url).query).get("status", [])
    return {part for value in values for part in value.split(",") if part}


def number(locator: Locator) -> int:
    return int(re.search(r"\d+", locator.inner_text()).group(0))


def task_in(sandbox, *, queue: str, workflow: str, status: str = "pending") -> str:
    with sandbox.store.read() as conn:
        row = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "JOIN workflows w ON w.sid = t.workflow_sid WHERE t.workspace_sid = ? "
            "AND q.friendly_name = ? AND w.friendly_name = ? AND t.assignment_status = ? "
            "ORDER BY t.sid LIMIT 1",
            (sandbox.workspace_sid(), queue, workflow, status),
        ).fetchone()
    assert row, f"the seed should have a {status} task in {queue} through {workflow}"
    return row["sid"]


# --- One meaning of waiting work ---------------------------------------------------------


def test_the_landing_view_the_counts_and_their_links_mean_the_same_waiting_work(page: Page):
    page.goto(TABLE)
    expect(page.locator("#live-controls")).to_be_visible()
    waiting = {"pending", "reserved"}
    assert checked_statuses(page) == waiting
    assert row_statuses(page) <= {"Pending", "Reserved"}
    expect(page.locator("#waiting-work")).to_contain_text("pending and reserved")

    counts = page.locator("#counts")
    pending = number(counts.locator("a:has(.status-pending)"))
    reserved = number(counts.locator("a:has(.status-reserved)"))
    assert number(counts.locator("#count-waiting")) == pending + reserved
    assigned = number(counts.locator("a:has(.status-assigned)"))
    wrapping = number(counts.locator("a:has(.status-wrapping)"))
    assert number(counts.locator("#count-with-agents")) == assigned + wrapping

    # The strip's "Waiting" and each queue's figure open the landing view's statuses.
    counts.locator("#count-waiting").click()
    expect(page).to_have_url(re.compile(r"status=pending%2Creserved"))
    assert statuses_in_url(page) == waiting
    settled(page)
    assert checked_statuses(page) == waiting
    page.locator("#queue-strip .q-waiting").first.click()
    expect(page).to_have_url(re.compile(r"queue=WQ"))
    assert statuses_in_url(page) == waiting

    # The work with agents is one click from the landing view, and is what the strip counts.
    page.goto(TABLE)
    page.get_by_role("link", name="Work with agents").click()
    expect(page).to_have_url(re.compile(r"status=assigned%2Cwrapping"))
    settled(page)
    assert checked_statuses(page) == {"assigned", "wrapping"}
    assert row_statuses(page) <= {"Assigned", "Wrapping"}
    with_agents = page.locator("#count-with-agents").get_attribute("href")
    assert parse_qs(with_agents.lstrip("?")) == parse_qs(urlsplit(page.url).query)


# --- Times that say what they count ------------------------------------------------------


def test_each_row_says_whether_its_task_is_waiting_with_an_agent_or_wrapping_up(page: Page):
    page.goto(f"{TABLE}?status=pending,reserved,assigned,wrapping&size=200")
    expect(page.locator("#live-controls")).to_be_visible()  # the clock has rewritten times
    headers = page.locator("#task-table thead th").all_inner_texts()
    assert not any("In queue" in header for header in headers)
    words = {
        "Pending": "waiting",
        "Reserved": "waiting",
        "Assigned": "with an agent",
        "Wrapping": "wrapping up",
    }
    rows = page.locator("#task-rows > tr").evaluate_all(
        # textContent: rows far down are not drawn yet, and have no innerText (cell_texts).
        """rows => rows.map(row => [row.querySelector(".col-status").textContent.trim(),
                                    row.querySelector(".col-age").textContent.trim(),
                                    row.querySelector(".col-age").title])"""
    )
    assert {status for status, _, _ in rows} >= {"Pending", "Assigned", "Wrapping"}
    for status, text, title in rows:
        assert re.fullmatch(rf"{words[status]} \d+ (s|min|h|h \d+ min|d|d \d+ h)", text), text
        assert re.match(rf"[\d,]+ seconds {words[status]}", title), title

    assigned = page.locator("#task-rows > tr:has(.status-assigned) .col-sid a").first
    assigned.click()
    expect(page.locator("#task-facts dt", has_text="With an agent")).to_be_visible()


# --- A save that routes the task elsewhere -----------------------------------------------


def test_new_attributes_that_route_the_task_to_another_queue_say_so_before_and_after(
    page: Page, sandbox
):
    sid = task_in(sandbox, queue="Technical Support", workflow="Support Routing")
    task = sandbox.fetch(sid)
    assert not task.attributes.get("vip")
    was = "false" if "vip" in task.attributes else "(not set)"
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-attributes")
    editor = section.get_by_label("Attributes (JSON)")
    editor.fill(editor.input_value().rstrip()[:-1].rstrip() + ',\n  "vip": true\n}')
    section.get_by_role("button", name="Preview changes").click()

    note = section.locator("#route-note")
    expect(note).to_have_text(
        "Saving these attributes routes the task again: its workflow's “VIP customers” "
        "filter sends it to queue VIP Care (it is in Technical Support now). "
        "Its priority becomes 100."
    )
    vip = section.locator("table.diff tbody tr").filter(has_text="vip")
    expect(vip.locator("td")).to_have_text([was, "true"])
    assert sandbox.fetch(sid).etag == task.etag  # a preview writes nothing
    settled(page)

    section.get_by_role("button", name="Save attributes").click()
    expect(section.locator(".banner-warning")).to_have_text(
        "TaskRouter routed the task to queue VIP Care (it was in Technical Support)."
    )
    expect(page.locator("#task-facts dt:text-is('Queue') + dd")).to_contain_text("VIP Care")
    assert sandbox.fetch(sid).task_queue_friendly_name == "VIP Care"


# --- Values as JSON ----------------------------------------------------------------------


def test_attribute_values_read_as_json_in_the_conflict_view_and_the_audit_trail(
    page: Page, sandbox, browser_problems
):
    browser_problems.expect_console_error(r"status of 409 \(")
    sid = task_in(sandbox, queue="Technical Support", workflow="Support Routing")
    page.goto(f"{TABLE}{sid}/")
    section = page.locator("#edit-attributes")
    expect(section.get_by_role("button", name="Save attributes")).to_be_enabled()
    task = sandbox.fetch(sid)
    sandbox.change(sid, attributes={**task.attributes, "escalated": True, "note": None})

    editor = section.get_by_label("Attributes (JSON)")
    editor.fill(editor.input_value().rstrip()[:-1].rstrip() + ',\n  "escalated": false\n}')
    section.get_by_role("button", name="Save attributes").click()
    conflict = section.locator(".conflict")
    expect(conflict).to_contain_text("The task changed since you opened it.")
    escalated = conflict.locator("tbody tr").filter(has_text="escalated")
    expect(escalated.locator("td")).to_have_text(["(not set)", "false", "true changed"])
    note = conflict.locator("tbody tr").filter(has_text="note")
    expect(note.locator("td")).to_have_text(["(not set)", "(not set)", "null changed"])
    assert not PYTHON_VALUES.search(conflict.inner_text())

    # The person's attempt and the colleague's change, before and sent, as JSON.
    page.goto(f"/audit/?task={sid}")
    for summary in page.locator(".audit-details summary").all():
        summary.click()
    trail = page.locator(".audit-table")
    expect(trail).to_contain_text('"escalated": true')
    expect(trail).to_contain_text('"note": null')
    expect(trail).to_contain_text('"escalated": false')
    assert not PYTHON_VALUES.search(trail.inner_text())


# --- Names, not SIDs; no machinery in the main text --------------------------------------


def test_tasks_people_and_workspaces_are_named_and_versions_stay_out_of_the_text(
    page: Page, sandbox, settings
):
    settings.TASKDECK_BULK_RATE = 200
    page.goto(f"{TABLE}?status=pending&queue=Technical%20Support")
    expect(page.locator("#live-controls")).to_be_visible()
    first, second = page.locator("#task-rows > tr").all()[:2]
    sids = [row.get_attribute("data-sid") for row in (first, second)]
    title = first.locator(".task-title").inner_text()
    assert title and not MACHINERY.search(visible_text(page))

    # The row editor is titled by the task's name, its SID shortened.
    page.get_by_role("link", name=f"Edit {sids[0]}", exact=True).click()
    heading = page.locator(f"#row-{sids[0]} .row-editor-title")
    expect(heading.locator(".task-title")).to_have_text(title)
    expect(heading.locator(".sid")).to_have_text(f"WT…{sids[0][-4:]}")
    assert not MACHINERY.search(heading.inner_text())
    page.keyboard.press("Escape")
    expect(page.locator(f"#row-{sids[0]}")).not_to_have_attribute("data-editing", "1")
    settled(page)

    # Bulk results name the tasks.
    for sid in sids:
        page.get_by_role("checkbox", name=f"Select {sid}", exact=True).check()
    bar = page.locator("#bulk-form")
    bar.get_by_label("Action").select_option(label="Change priority")
    bar.get_by_label("New priority").fill("3")
    bar.get_by_role("button", name="Preview").click()
    panel = page.locator("#bulk-panel")
    expect(panel.locator(f"#bulk-item-{sids[0]} .task-title")).to_have_text(title)
    assert not MACHINERY.search(panel.inner_text())
    panel.get_by_role("button", name="Change priority 2 tasks").click()
    expect(panel.locator("#bulk-summary")).to_have_text("2 done.")
    expect(panel.locator(f"#bulk-item-{sids[0]}")).to_contain_text("Priority now 3.")
    assert not MACHINERY.search(panel.inner_text())

    # The task page: its title, and the version only on hover.
    page.goto(f"{TABLE}{sids[0]}/")
    expect(page.locator("h1")).to_contain_text(title)
    section = page.locator("#edit-priority")
    section.get_by_label("Priority").fill("4")
    section.get_by_role("button", name="Save priority").click()
    expect(section.locator(".banner-success")).to_have_text("Saved priority.")
    assert not MACHINERY.search(visible_text(page))
    expect(page.locator("#task-updated")).to_have_attribute("title", re.compile("ETag"))

    # The audit trail: the task's title, the person, the workspace's name.
    page.goto("/audit/")
    row = page.locator(".audit-table tbody tr").first
    expect(row.locator(".task-title")).to_have_text(title)
    expect(row).to_contain_text("admin@example.com")
    expect(row.locator("td").nth(3)).to_have_text("Support")
    assert not MACHINERY.search(visible_text(page))
