"""A supervisor saves one part of the task page after another, without reloading: every
ordered pair of sections (priority then channel, channel then priority, ..., priority then
cancel, wrap up then attributes, ...). Each save must be taken as the person's own
continuation, never as a conflict with their previous save, and the audit trail must
record only done writes.

What makes this work is what the browser sends: each section posts its own version token
and brings the page's other tokens along (hx-include), so the server can move them on.
A test that posts the tokens by hand proves nothing about that; these drive Chromium.
"""

from __future__ import annotations

import itertools
import re

from playwright.sync_api import Page, expect

from tasks_app.models import AuditRecord

TABLE = "/w/Support/tasks/"
# Its workflow leaves the priority alone and routes nothing on the attribute we change.
FREE_QUEUE = "Technical Support"
FIELDS = ("priority", "channel", "start", "attributes")


def tasks_in_free_queue(sandbox, status: str, limit: int) -> list[str]:
    with sandbox.store.read() as conn:
        rows = conn.execute(
            "SELECT t.sid FROM tasks t JOIN task_queues q ON q.sid = t.task_queue_sid "
            "WHERE t.workspace_sid = ? AND q.friendly_name = ? "
            "AND t.assignment_status = ? ORDER BY t.sid LIMIT ?",
            (sandbox.workspace_sid(), FREE_QUEUE, status, limit),
        ).fetchall()
    sids = [row["sid"] for row in rows]
    assert len(sids) == limit, f"the seed should have {limit} {status} tasks in {FREE_QUEUE}"
    return sids


def every_ordered_pair(names: tuple[str, ...]) -> list[str]:
    """A walk through ``names`` in which each ordered pair of different names follows each
    other once (an Eulerian circuit of the complete directed graph on them)."""
    unused = {a: [b for b in names if b != a] for a in names}
    stack, walk = [names[0]], []
    while stack:
        here = stack[-1]
        if unused[here]:
            stack.append(unused[here].pop(0))
        else:
            walk.append(stack.pop())
    walk.reverse()
    pairs = set(itertools.pairwise(walk))
    assert len(pairs) == len(names) * (len(names) - 1) == len(walk) - 1
    return walk


class TaskPage:
    """The task page, with one way to save each of its sections."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.saves = 0
        self.priority = 0

    def open(self, sid: str) -> None:
        self.page.goto(f"{TABLE}{sid}/")
        self.priority = int(
            self.page.locator("#edit-priority").get_by_label("Priority").input_value()
        )
        self.page.evaluate("window.__marker = 'same page'")

    def save(self, name: str, **status) -> None:
        """Change section ``name`` and save it; wait for its own success banner."""
        self.saves += 1
        n = self.saves
        section = self.page.locator(f"#edit-{name}")
        section.evaluate("s => s.dataset.before = 'save'")
        if name == "priority":
            self.priority += 1
            section.get_by_label("Priority").fill(str(self.priority))
            done = "Saved priority"
        elif name == "channel":
            menu = section.get_by_label("Task channel")
            values = menu.locator("option").evaluate_all("options => options.map(o => o.value)")
            menu.select_option(next(v for v in values if v != menu.input_value()))
            done = "Saved channel"
        elif name == "start":
            section.get_by_label("Virtual start time").fill(f"2024-01-{n:02d}T10:00:{n:02d}")
            done = "Saved virtual start time"
        elif name == "attributes":
            editor = section.get_by_label("Attributes (JSON)")
            text = editor.input_value().rstrip()
            assert text.endswith("}")
            editor.fill(text[:-1].rstrip() + f',\n  "supervisor_note": "save {n}"\n}}')
            done = "Saved attributes"
        else:
            section.get_by_role("radio", name=status["action"], exact=True).check()
            if status.get("reason"):
                section.get_by_label("Reason").fill(status["reason"])
            done = status["done"]
        button = {
            "priority": "Save priority",
            "channel": "Save channel",
            "start": "Save start time",
            "attributes": "Save attributes",
            "status": "Change status",
        }[name]
        section.get_by_role("button", name=button, exact=True).click()
        saved = self.page.locator(f"#edit-{name}:not([data-before])")
        expect(saved.locator(".banner-success")).to_contain_text(done)
        expect(self.page.locator(".conflict")).to_have_count(0)
        expect(self.page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
        assert self.page.evaluate("window.__marker") == "same page", "the page was reloaded"

    def delete(self, sid: str) -> None:
        self.saves += 1
        section = self.page.locator("#edit-delete")
        section.get_by_text("Delete this task…").click()
        section.get_by_role("button", name=f"Delete task {sid}").click()
        expect(self.page).to_have_url(re.compile(rf"{TABLE}$"))
        expect(self.page.locator(".messages")).to_contain_text("Deleted task")


def assert_no_conflict_recorded(sids: list[str], writes: int) -> None:
    records = AuditRecord.objects.filter(task_sid__in=sids)
    outcomes = sorted(set(records.values_list("outcome", flat=True)))
    assert outcomes == ["done"], f"the audit trail recorded {outcomes}"
    assert records.count() == writes


def test_every_pair_of_sections_saved_in_turn_on_a_waiting_task_is_no_conflict(page: Page, sandbox):
    (sid,) = tasks_in_free_queue(sandbox, "pending", 1)
    task = TaskPage(page)
    task.open(sid)
    for name in every_ordered_pair(FIELDS):
        task.save(name)
    # Then the status (a cancel), then delete.
    task.save("status", action="Cancel", reason="duplicate", done="Canceled the task")
    expect(page.locator("h1 .badge")).to_have_text("Canceled")
    assert sandbox.fetch(sid).assignment_status == "canceled"
    task.delete(sid)
    assert_no_conflict_recorded([sid], task.saves)


def test_every_section_saved_before_and_after_a_status_change_is_no_conflict(page: Page, sandbox):
    # Wrapping up keeps the task open: each of four tasks goes field, wrap up, another
    # field, delete; so every field is saved right before a status change, right after
    # one, and right before a delete.
    sids = tasks_in_free_queue(sandbox, "assigned", len(FIELDS))
    task = TaskPage(page)
    for sid, before, after in zip(sids, FIELDS, FIELDS[1:] + FIELDS[:1], strict=True):
        task.open(sid)
        task.save(before)
        task.save("status", action="Wrap up", done="Moved the task to wrapping")
        task.save(after)
        task.delete(sid)
    assert_no_conflict_recorded(sids, task.saves)
