"""Saved views in a real browser: save the table one looks at, share it, make it one's
landing view (``/`` opens it), and watch its count change live as TaskRouter changes;
roles decide who shares and who removes; an alert that fires shows on the open view."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tasks_app.fleet import leases
from tasks_app.models import AuditRecord
from tasks_app.saved_views import alerting
from tasks_app.saved_views.models import SavedView
from tasks_app.taskrouter import service as taskrouter
from tests.identities import IDENTITIES
from tests.index_helpers import follow_now

PROBE = "alerts_journey_probe"
QUERY = f"status=pending,reserved,assigned&where={PROBE}%20%3D%3D%20true"
TABLE = f"/w/Support/tasks/?{QUERY}"


@pytest.fixture(autouse=True)
def quick_refresh(settings):
    settings.TASKDECK_REFRESH_SECONDS = 1  # the live refresh polls every second


@pytest.fixture
def as_role(
    browser: Browser, browser_context_args: dict, browser_problems
) -> Iterator[Callable[[str], Page]]:
    """A page in a browser of its own, signed in with ``role``, watched by the guard."""
    contexts: list[BrowserContext] = []

    def open_page(role: str) -> Page:
        context = browser.new_context(
            **{**browser_context_args, "extra_http_headers": IDENTITIES[role]}
        )
        browser_problems.watch(context)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        for page in context.pages:
            page.evaluate("0")
        context.close()


def create_probes(number: int) -> list[str]:
    ws = taskrouter.resolve_workspace("Support").sid
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0].sid
    return [
        taskrouter.create_task(
            actor="colleague@example.com", workspace_sid=ws, attributes={PROBE: True},
            workflow_sid=workflow,
        ).sid
        for _ in range(number)
    ]  # fmt: skip


def row(page: Page, name: str):
    return page.locator(f'#saved-views li.saved-view[data-name="{name}"]')


def save_view(page: Page, name: str, *, shared: bool = False) -> None:
    panel = page.locator("#saved-views")
    if panel.locator("details[open]").count() == 0:  # folded while one has no view here
        panel.locator("summary").click()
    panel.get_by_label("Save this table as").fill(name)
    if shared:
        panel.get_by_label("Shared with everyone").check()
    panel.get_by_role("button", name="Save view").click()
    expect(page.locator("#saved-views-notice")).to_contain_text(f"Saved “{name}”")


def test_save_a_view_share_it_land_on_it_and_see_its_count_change_live(as_role, axe):
    follow_now()
    page = as_role("editor")
    page.goto(TABLE)
    expect(page.locator("#saved-views")).to_contain_text("Save this table as")
    save_view(page, "Probe work")
    probe = row(page, "Probe work")
    expect(probe.locator(".saved-view-count")).to_have_text("0")
    expect(probe).to_contain_text("mine")
    expect(probe.locator("a.saved-view-name")).to_have_attribute("aria-current", "page")

    probe.get_by_role("button", name="Share").click()
    expect(page.locator("#saved-views-notice")).to_contain_text("shared with everyone")
    expect(row(page, "Probe work")).to_contain_text("shared")
    row(page, "Probe work").get_by_role("button", name="Make landing").click()
    expect(row(page, "Probe work")).to_contain_text("landing")
    assert axe(page) == []

    # "/" opens the landing view, for this person only.
    page.goto("/")
    view = SavedView.objects.get(name="Probe work")
    expect(page).to_have_url(re.compile(rf"/w/Support/tasks/\?.*view={view.pk}$"))
    expect(page.get_by_label("Attributes match")).to_have_value(f"{PROBE} == true")
    other = as_role("viewer")
    other.goto("/")
    expect(other).not_to_have_url(re.compile(r"view="))
    expect(row(other, "Probe work")).to_be_visible()  # shared: the viewer has it too

    # TaskRouter changes; the index follows; the open page's count follows, live.
    create_probes(2)
    follow_now()
    expect(row(page, "Probe work").locator(".saved-view-count")).to_have_text("2", timeout=20_000)
    expect(row(other, "Probe work").locator(".saved-view-count")).to_have_text("2", timeout=20_000)
    summaries = list(
        AuditRecord.objects.filter(actor="editor@example.com").values_list("message", flat=True)
    )
    assert "Saved the personal view “Probe work”" in summaries
    assert "Changed the view “Probe work” (sharing)" in summaries
    assert "Landing view: “Probe work”" in summaries


def test_a_viewer_saves_a_view_of_their_own_but_cannot_share_change_or_remove_shared_ones(
    as_role,
):
    editor = as_role("editor")
    editor.goto(TABLE)
    save_view(editor, "Team probe", shared=True)
    viewer = as_role("viewer")
    viewer.goto(TABLE)
    expect(row(viewer, "Team probe")).to_be_visible()
    expect(viewer.locator("#saved-views").get_by_label("Shared with everyone")).to_have_count(0)
    save_view(viewer, "My probe")
    expect(row(viewer, "My probe").get_by_role("button", name="Share")).to_have_count(0)
    # The shared view's page: details only, nothing to press.
    row(viewer, "Team probe").get_by_role("link", name="Details").click()
    expect(viewer.get_by_role("heading", level=1)).to_contain_text("Team probe")
    expect(viewer.get_by_role("button", name="Remove this view")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Save changes")).to_have_count(0)
    # The editor does not see the viewer's personal view.
    editor.reload()
    expect(row(editor, "Team probe")).to_be_visible()
    expect(row(editor, "My probe")).to_have_count(0)


def test_an_editor_changes_a_shared_views_alert_and_a_bad_webhook_is_refused_in_place(
    as_role, settings, browser_problems
):
    settings.TASKDECK_ALERT_WEBHOOK_HOSTS = ["hooks.example.com"]
    browser_problems.expect_console_error(r"status of 422")  # the refusal carries the form
    page = as_role("editor")
    page.goto(TABLE)
    save_view(page, "Alerted", shared=True)
    row(page, "Alerted").get_by_role("link", name="Edit").click()
    page.get_by_label("Alert when more than (tasks)").fill("3")
    page.get_by_label("Webhook").fill("https://elsewhere.example.net/hook")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#view-form")).to_contain_text(
        "elsewhere.example.net is not a host Taskdeck may send alerts to"
    )
    expect(page.get_by_label("Webhook")).to_have_value("https://elsewhere.example.net/hook")
    page.get_by_label("Webhook").fill("https://hooks.example.com/services/T0/B0/X")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages")).to_contain_text("Changed alert count, webhook")
    view = SavedView.objects.get(name="Alerted")
    assert (view.alert_count_above, view.alert_webhook) == (
        3,
        "https://hooks.example.com/services/T0/B0/X",
    )
    page.get_by_role("button", name="Remove this view").click()
    expect(page.locator(".messages")).to_contain_text("Removed the view “Alerted”")
    assert not SavedView.objects.filter(name="Alerted").exists()


def test_people_with_the_view_open_see_its_alert_fire_without_reloading(as_role):
    follow_now()
    page = as_role("editor")
    page.goto(TABLE)
    save_view(page, "Watched", shared=True)
    view = SavedView.objects.get(name="Watched")
    view.alert_count_above = 1
    view.save()
    row(page, "Watched").locator("a.saved-view-name").click()
    expect(page).to_have_url(re.compile(rf"view={view.pk}$"))
    expect(page.locator(".saved-view-alert")).to_have_count(0)

    create_probes(2)
    follow_now()
    # One round of the evaluator, holding the duty's lease as a worker would.
    held = leases.acquire(alerting.DUTY, holder="tests", seconds=600)
    assert held is not None
    assert alerting.evaluate(view, held) == "firing"
    expect(page.locator(".saved-view-alert")).to_contain_text(
        "Alert: Watched is firing: 2 tasks", timeout=20_000
    )
    expect(row(page, "Watched")).to_contain_text("alert firing")
