"""The triage figures: the queue strip against TaskRouter's own statistics, time to breach,
the table's breach filter and sort, and acting on what breaches through the bulk preview."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasks_app.models import BulkJob, SlaTarget
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, SandboxApp
from tasks_app.taskrouter import client as taskrouter_client
from tasks_app.taskrouter import rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import breach, strip, targets
from tests.conftest import taskdeck_reaches

pytestmark = pytest.mark.django_db

TARGET = 600  # ten minutes: the seed has tasks waiting on both sides of it


def queue(sandbox, name: str = "Billing") -> taskrouter.TaskQueue:
    ws = sandbox.workspace_sid()
    return next(q for q in taskrouter.list_task_queues(workspace_sid=ws) if q.friendly_name == name)


def waiting_tasks(sandbox, queue_sid: str) -> list[taskrouter.Task]:
    return list(
        taskrouter.iter_tasks(
            workspace_sid=sandbox.workspace_sid(),
            query=taskrouter.TaskQuery(statuses=breach.WAITING, task_queue_sid=queue_sid),
        )
    )


def set_target(sandbox, wq: taskrouter.TaskQueue, seconds: int, channel: str = "") -> None:
    SlaTarget.objects.update_or_create(
        workspace_sid=sandbox.workspace_sid(),
        queue_sid=wq.sid,
        channel=channel,
        defaults={"seconds": seconds},
    )


def test_a_task_breaches_once_its_wait_since_creation_is_past_its_target():
    found = targets.Targets(queues={"WQ1": 60})
    created = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    task = taskrouter.Task.from_api(
        {
            "sid": "WT" + "1" * 32,
            "assignment_status": "pending",
            "date_created": created.isoformat(),
            "task_queue_sid": "WQ1",
        }
    )
    at = lambda seconds: breach.of(task, found, created + timedelta(seconds=seconds))  # noqa: E731
    assert at(60).state == breach.SOON and at(60).remaining == 0  # at the target: within it
    assert at(61).state == breach.NOW and at(61).remaining == -1
    assert at(0).state == breach.SOON  # a one-minute target is always within five
    later = breach.of(task, targets.Targets(queues={"WQ1": 600}), created + timedelta(seconds=299))
    assert later.state == breach.LATER and later.remaining == 301
    assert at(61).at == created + timedelta(seconds=60)
    assert breach.of(task, targets.Targets(), created) is None  # no target, no breach


def test_today_starts_at_midnight_in_the_viewer_s_zone():
    now = datetime(2026, 7, 1, 2, 30, tzinfo=UTC)
    assert strip.start_of_today(ZoneInfo("UTC"), now) == datetime(2026, 7, 1, tzinfo=UTC)
    # 22:30 on June 30th in New York: its today began at 04:00 UTC on June 30th.
    assert strip.start_of_today(ZoneInfo("America/New_York"), now) == datetime(
        2026, 6, 30, 4, tzinfo=UTC
    )


@pytest.fixture
def stopped_clock(sandbox, settings) -> Iterator[datetime]:
    """TaskRouter (the sandbox, over loopback) with its clock stopped at one second: the
    strip's reads and a direct read of the same statistics then describe the same moment,
    however slowly a loaded machine makes them one after the other (a wait's age would
    otherwise move on by a second between them)."""
    moment = datetime.now(UTC).replace(microsecond=0)
    app = SandboxApp(
        sandbox.store, credentials=DEVELOPMENT_CREDENTIALS, clock=lambda: moment, static=True
    )
    with taskdeck_reaches(app, settings):
        yield moment


def test_the_strip_matches_taskrouter_s_statistics_for_the_same_moment(sandbox, stopped_clock):
    billing = queue(sandbox)
    set_target(sandbox, billing, TARGET)
    ws = sandbox.workspace_sid()
    zone = ZoneInfo("UTC")
    built = strip.build(
        workspace_sid=ws,
        queues=taskrouter.list_task_queues(workspace_sid=ws),
        targets=targets.load(ws),
        zone=zone,
    )
    row = next(r for r in built.rows if r.sid == billing.sid)

    # The same questions, asked of TaskRouter directly.
    since = rules.format_datetime(strip.start_of_today(zone))
    base = f"/v1/Workspaces/{ws}/TaskQueues/{billing.sid}"
    realtime = taskrouter_client.request("GET", f"{base}/RealTimeStatistics").body
    cumulative = taskrouter_client.request(
        "GET",
        f"{base}/CumulativeStatistics",
        params=[("StartDate", since), ("SplitByWaitTime", str(TARGET))],
    ).body
    by_status = realtime["tasks_by_status"]
    assert row.waiting == by_status["pending"] + by_status["reserved"] > 0
    assert row.longest_wait == realtime["longest_task_waiting_age"]
    assert (row.available, row.eligible) == (
        realtime["total_available_workers"],
        realtime["total_eligible_workers"],
    )
    split = cumulative["split_by_wait_time"][str(TARGET)]
    within = split["below"]["reservations_accepted"]
    counted = cumulative["reservations_accepted"] + split["above"]["tasks_canceled"]
    assert counted > 0
    assert (row.service_level.within, row.service_level.counted) == (within, counted)
    assert row.service_level.text == f"{int(100 * within / counted)}%"

    # Breaching now and soon: the queue's waiting tasks on each side of the target.
    now = datetime.now(UTC)
    ages = [(now - t.date_created).total_seconds() for t in waiting_tasks(sandbox, billing.sid)]
    # Counted a moment ago: only tasks within a few seconds of an edge may have crossed it.
    within = lambda low, high: sum(1 for age in ages if low <= age <= high)  # noqa: E731
    assert 0 < within(TARGET + 5, 10**9) <= row.breaching <= within(TARGET - 5, 10**9)
    edge = TARGET - breach.SOON_SECONDS
    assert within(edge + 5, TARGET - 5) <= row.soon <= within(edge - 5, TARGET + 5)


def test_a_queue_without_a_target_shows_no_service_level_and_the_default_gives_one(
    client, sandbox, settings
):
    html = client.get("/w/Support/tasks/").content.decode()
    billing = queue(sandbox)
    row = re.search(rf'<tr data-queue="{billing.sid}".*?</tr>', html, re.S).group(0)
    assert "no target" in row and "q-level" not in row
    settings.TASKDECK_DEFAULT_SLA_SECONDS = TARGET
    html = client.get("/w/Support/tasks/").content.decode()
    row = re.search(rf'<tr data-queue="{billing.sid}".*?</tr>', html, re.S).group(0)
    assert re.search(r'class="q-level[^"]*"[^>]*>\d+%</a>', row)
    assert "≤ 10 min" in row


def test_a_channel_target_counts_that_channel_at_its_own_threshold(sandbox):
    billing = queue(sandbox)
    ws = sandbox.workspace_sid()
    set_target(sandbox, billing, TARGET)
    queues = taskrouter.list_task_queues(workspace_sid=ws)
    whole = strip.build(
        workspace_sid=ws, queues=queues, targets=targets.load(ws), zone=ZoneInfo("UTC")
    )
    # A channel target equal to the queue's changes nothing; a generous one can only help.
    set_target(sandbox, billing, TARGET, channel="voice")
    same = strip.build(
        workspace_sid=ws, queues=queues, targets=targets.load(ws), zone=ZoneInfo("UTC")
    )
    set_target(sandbox, billing, 86_400, channel="voice")
    generous = strip.build(
        workspace_sid=ws, queues=queues, targets=targets.load(ws), zone=ZoneInfo("UTC")
    )
    level = lambda built: next(r for r in built.rows if r.sid == billing.sid).service_level  # noqa: E731
    assert level(same) == level(whole)
    assert level(generous).within >= level(whole).within
    assert level(generous).counted <= level(whole).counted


def test_the_breach_filter_shows_exactly_the_tasks_past_their_target(client, sandbox):
    billing = queue(sandbox)
    set_target(sandbox, billing, TARGET)
    html = client.get(
        f"/w/Support/tasks/?status=pending,reserved&queue={billing.sid}&breach=now&sort=breach"
        "&size=1000"
    ).content.decode()
    shown = re.findall(r'<tr id="row-(WT\w+)"', html)
    now = datetime.now(UTC)
    expected = {
        t.sid
        for t in waiting_tasks(sandbox, billing.sid)
        if (now - t.date_created).total_seconds() > TARGET + 5
    }
    possible = {
        t.sid
        for t in waiting_tasks(sandbox, billing.sid)
        if (now - t.date_created).total_seconds() > TARGET - 5
    }
    assert expected and expected <= set(shown) <= possible  # some may cross meanwhile
    # Closest to breaching first: the furthest past its target leads.
    assert "past target" in html
    lateness = [int(m) for m in re.findall(r'class="breach-text">⚠ (\d+) min past', html)]
    assert lateness == sorted(lateness, reverse=True)


def test_a_breach_filter_that_means_nothing_is_refused_beside_the_field(client):
    response = client.get("/w/Support/tasks/?breach=yesterday")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Service level is “now”" in html and "yesterday" in html


def test_raising_the_priority_of_everything_breaching_previews_those_tasks_only(client, sandbox):
    billing = queue(sandbox)
    set_target(sandbox, billing, TARGET)
    query = f"status=pending%2Creserved&queue={billing.sid}&breach=now&sort=breach"
    response = client.post(
        "/w/Support/tasks/bulk/",
        {
            "action": "priority",
            "priority": "90",
            "everything": "on",
            "query": query.replace("%2C", ","),
            "reason": "Breaching its service-level target",
        },
    )
    assert response.status_code == 302
    job = BulkJob.objects.get()
    now = datetime.now(UTC)
    previewed = set(job.items.values_list("task_sid", flat=True))
    expected = {
        t.sid
        for t in waiting_tasks(sandbox, billing.sid)
        if (now - t.date_created).total_seconds() > TARGET + 5
    }
    possible = {
        t.sid
        for t in waiting_tasks(sandbox, billing.sid)
        if (now - t.date_created).total_seconds() > TARGET - 5
    }
    assert expected and expected <= previewed <= possible


def test_moving_everything_breaching_to_the_front_puts_each_ahead_of_its_queue(client, sandbox):
    billing = queue(sandbox)
    set_target(sandbox, billing, TARGET)
    query = f"status=pending,reserved&queue={billing.sid}&breach=now&sort=breach"
    client.post(
        "/w/Support/tasks/bulk/",
        {"action": "front", "everything": "on", "query": query, "reason": "Breaching"},
    )
    job = BulkJob.objects.get()
    moving = list(job.items.filter(state="preview").values_list("task_sid", flat=True))
    skipped = job.items.filter(state="skipped")
    assert moving, "the seed has pending tasks breaching in Billing"
    assert all("Only a pending task" in item.message for item in skipped)  # reserved ones
    untouched = [t for t in waiting_tasks(sandbox, billing.sid) if t.sid not in moving]
    first_before = min(t.virtual_start_time for t in untouched if t.assignment_status == "pending")

    response = client.post(f"/w/Support/tasks/bulk/{job.token}/run/", {"step": "start"})
    assert response.status_code == 302
    results = dict(job.items.values_list("task_sid", "state"))
    assert {results[sid] for sid in moving} == {"done"}
    for sid in moving:
        assert sandbox.fetch(sid).virtual_start_time < first_before


def test_today_is_the_viewer_s_as_their_browser_says_else_the_server_s(settings):
    from django.test import RequestFactory

    settings.TIME_ZONE = "Europe/Paris"
    asks = RequestFactory()
    chosen = asks.get("/", HTTP_COOKIE=f"{strip.ZONE_COOKIE}=America/New_York")
    assert strip.viewer_zone(chosen) == ZoneInfo("America/New_York")
    for junk in ("Mars/Olympus", "../../etc/passwd", "x" * 100):
        odd = asks.get("/", HTTP_COOKIE=f"{strip.ZONE_COOKIE}={junk}")
        assert strip.viewer_zone(odd) == ZoneInfo("Europe/Paris")
    assert strip.viewer_zone(asks.get("/")) == ZoneInfo("Europe/Paris")


def test_the_strip_reads_taskrouter_once_per_interval_for_every_viewer(
    client, signed_in, sandbox, caplog
):
    import logging

    set_target(sandbox, queue(sandbox), TARGET)
    client.get("/w/Support/tasks/")  # the first viewer reads
    with caplog.at_level(logging.INFO, logger="tasks_app.taskrouter.client"):
        caplog.clear()
        for role in ("viewer", "editor", "admin"):
            signed_in(role).get(
                "/w/Support/tasks/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="counts"
            )
    calls = [r.getMessage() for r in caplog.records if r.name == "tasks_app.taskrouter.client"]
    assert not [c for c in calls if "Statistics" in c or "/Tasks" in c], calls


# --- The strip's HTML, shared through the cache (tasks_app.counts.strip_html) --------------


def _strip_of(html: str) -> str:
    return html[
        html.index('<section id="counts"') : html.index("</section>", html.index('id="counts"'))
    ]


def test_a_shared_strip_shows_each_role_its_own_controls_and_each_browser_its_own_token(
    signed_in, sandbox
):
    from django.middleware.csrf import _unmask_cipher_token

    set_target(sandbox, queue(sandbox), TARGET)
    first_editor, viewer, second_editor = (
        signed_in("editor"),
        signed_in("viewer"),
        signed_in("editor"),
    )
    pages = {}
    for name, browser in (("first", first_editor), ("viewer", viewer), ("second", second_editor)):
        pages[name] = _strip_of(browser.get("/w/Support/tasks/").content.decode())
    assert "Act on breaching" in pages["first"] and "Act on breaching" in pages["second"]
    assert (
        "Act on breaching" not in pages["viewer"] and "csrfmiddlewaretoken" not in pages["viewer"]
    )
    assert 'id="targets-link"' not in pages["first"]  # admins only
    for name, browser in (("first", first_editor), ("second", second_editor)):
        tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', pages[name]))
        assert tokens and "placeholder" not in " ".join(tokens)
        secret = browser.cookies["csrftoken"].value
        assert {_unmask_cipher_token(token) for token in tokens} == {secret}, name
    assert first_editor.cookies["csrftoken"].value != second_editor.cookies["csrftoken"].value


def test_a_changed_target_shows_in_the_strip_at_once(client, sandbox):
    billing = queue(sandbox)
    set_target(sandbox, billing, TARGET)
    assert "≤ 10 min" in _strip_of(client.get("/w/Support/tasks/").content.decode())
    set_target(sandbox, billing, 120)
    strip_html = _strip_of(client.get("/w/Support/tasks/").content.decode())
    assert "≤ 2 min" in strip_html and "≤ 10 min" not in strip_html


def test_the_shared_strip_is_rebuilt_once_its_reads_are_too_old_or_the_viewer_wrote(
    client, sandbox, monkeypatch
):
    from tasks_app import counts

    built = []
    real = counts.for_workspace
    monkeypatch.setattr(counts, "for_workspace", lambda *a, **k: built.append(1) or real(*a, **k))
    counts_only = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "counts"}
    client.get("/w/Support/tasks/", **counts_only)
    client.get("/w/Support/tasks/", **counts_only)
    assert len(built) == 1  # the second viewer of the interval gets the same HTML

    taskrouter._remember_write(sandbox.workspace_sid(), "admin@example.com")
    later = datetime.now(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(taskrouter, "_now", lambda: later)
    monkeypatch.setattr(counts, "_now", lambda: later)
    client.get("/w/Support/tasks/", **counts_only)
    assert len(built) == 2  # a strip read before the viewer's own write does not serve them

    much_later = datetime.now(UTC) + timedelta(seconds=taskrouter.STATISTICS_MAX_AGE + 2)
    monkeypatch.setattr(taskrouter, "_now", lambda: much_later)
    monkeypatch.setattr(counts, "_now", lambda: much_later)
    client.get("/w/Support/tasks/", **counts_only)
    assert len(built) == 3  # older than its reads may serve: built again


def test_the_table_s_copy_of_the_targets_follows_every_change_at_once(sandbox):
    ws, billing = sandbox.workspace_sid(), queue(sandbox)
    assert billing.sid not in targets.shared(ws).queues  # read, and now kept
    targets.save(actor="admin@example.com", workspace_sid=ws, queue=billing, wanted={"": 300})
    assert targets.shared(ws).queues[billing.sid] == 300
    targets.save(actor="admin@example.com", workspace_sid=ws, queue=billing, wanted={"": None})
    assert billing.sid not in targets.shared(ws).queues
