"""Saved views: counted from the index, views as code, and alerts fired once, resolved once.

The worker tests (real `manage.py worker` processes, killed with SIGKILL) are in
tests/test_alert_workers.py."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tasks_app.fleet import leases
from tasks_app.models import AuditRecord
from tasks_app.saved_views import alerting, counting
from tasks_app.saved_views.models import AlertDelivery, AlertState, DeliveryAttempt, SavedView
from tasks_app.taskrouter import service as taskrouter
from tests.index_helpers import follow_now
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    hook = WebhookReceiver()
    settings.TASKDECK_ALERT_WEBHOOK_HOSTS = [hook.host]
    settings.TASKDECK_ALERT_SIGNING_SECRET = "test-signing-secret"
    settings.TASKDECK_ALERT_RETRY_SECONDS = 0.01
    yield hook
    hook.stop()


def write(tmp_path: Path, views: list[dict]) -> Path:
    path = tmp_path / "views.json"
    path.write_text(json.dumps({"views": views}))
    return path


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("taskdeck_views", *args, stdout=out)
    return out.getvalue()


def vip_view(webhook: str, **alert) -> dict:
    return {
        "name": "VIP waiting",
        "workspace": "Support",
        "shared": True,
        "query": "status=pending&where=vip%20%3D%3D%20true",
        "alert": {"webhook": webhook, **alert},
    }


def listed(ws: str, statuses: tuple[str, ...], expression: str | None = None) -> list:
    query = taskrouter.TaskQuery(statuses=statuses, evaluate_task_attributes=expression)
    return list(taskrouter.iter_tasks(workspace_sid=ws, query=query))


def test_a_view_counts_from_the_index_what_taskrouter_lists_for_its_filters(sandbox):
    follow_now()
    ws = sandbox.workspace_sid()
    figures = counting.count(ws, "status=pending&where=vip%20%3D%3D%20true")
    expected = listed(ws, ("pending",), "vip == true")
    assert figures.count == len(expected) > 0
    oldest = min(t.date_created for t in expected)
    assert figures.oldest_wait_seconds >= int((timezone.now() - oldest).total_seconds()) - 5
    # Queue by name (any case), priority, and the search box's text too.
    queue = counting.count(ws, "status=pending,reserved&queue=vip%20care")
    by_queue = taskrouter.TaskQuery(statuses=("pending", "reserved"), task_queue_name="VIP Care")
    assert queue.count == len(list(taskrouter.iter_tasks(workspace_sid=ws, query=by_queue))) > 0
    # Without a status: the open tasks.
    assert counting.count(ws, "where=1%3D%3D1").count == len(
        listed(ws, ("pending", "reserved", "assigned", "wrapping"))
    )


def test_a_views_count_follows_taskrouter_through_the_index(sandbox):
    follow_now()
    ws = sandbox.workspace_sid()
    assert counting.count(ws, PROBE_QUERY).count == 0
    make_probe_tasks(ws, 2)
    follow_now()
    assert counting.count(ws, PROBE_QUERY).count == 2


def test_export_then_import_is_a_round_trip_and_a_second_import_changes_nothing(tmp_path, receiver):
    views = [
        vip_view(receiver.url, count_above=3, oldest_wait_above_seconds=120),
        {"name": "Spanish", "workspace": "Support", "shared": False, "owner": "ana@example.com",
         "query": "where=language%20%3D%3D%20%22es%22&sort=-priority"},
    ]  # fmt: skip
    out = run("import", str(write(tmp_path, views)), "--actor", "runbook@example.com")
    assert "created VIP waiting (Support)" in out and "2 created, 0 changed, 0 unchanged" in out
    exported = tmp_path / "out.json"
    run("export", str(exported))
    by_name = sorted(json.loads(exported.read_text())["views"], key=lambda v: v["name"])
    assert by_name == sorted(views, key=lambda v: v["name"])

    again = run("import", str(exported), "--actor", "runbook@example.com")
    assert "0 created, 0 changed, 2 unchanged" in again
    views[0]["alert"]["count_above"] = 5
    changed = run("import", str(write(tmp_path, views)), "--actor", "runbook@example.com")
    assert "changed VIP waiting (Support): alert count" in changed
    assert SavedView.objects.get(name="VIP waiting").alert_count_above == 5
    trail = AuditRecord.objects.filter(action="view").order_by("pk")
    assert [r.actor for r in trail] == ["runbook@example.com"] * 3
    assert trail.last().before["alert"]["count_above"] == 3
    assert trail.last().after["alert"]["count_above"] == 5


def test_an_import_with_a_webhook_host_not_allowed_says_so_and_changes_nothing(tmp_path, receiver):
    views = [
        vip_view(receiver.url, count_above=3),
        {**vip_view("https://evil.example.net/x", count_above=1), "name": "Other"},
    ]
    with pytest.raises(CommandError) as refused:
        run("import", str(write(tmp_path, views)))
    assert "evil.example.net is not a host Taskdeck may send alerts to" in str(refused.value)
    assert "view 2 ('Other')" in str(refused.value)
    assert not SavedView.objects.exists()


def test_an_import_with_a_bad_filter_names_the_view_and_the_field(tmp_path, receiver):
    views = [{**vip_view(receiver.url), "query": "where=vip%20%3D%3D", "alert": {}}]
    with pytest.raises(CommandError) as refused:
        run("import", str(write(tmp_path, views)))
    assert "view 1 ('VIP waiting'): query: The table's filters are not valid: where:" in str(
        refused.value
    )


def held_lease(name: str = alerting.DUTY) -> leases.Held:
    lease = leases.acquire(name, holder="test-evaluator", seconds=600)
    assert lease is not None
    return lease


# Open tasks (whatever routing makes of them) with the probe attribute.
PROBE_QUERY = "where=alerts_probe%20%3D%3D%20true"


def make_probe_tasks(ws: str, number: int) -> list[str]:
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0].sid
    return [
        taskrouter.create_task(
            actor="tests", workspace_sid=ws, attributes={"alerts_probe": True},
            workflow_sid=workflow,
        ).sid
        for _ in range(number)
    ]  # fmt: skip


def cancel(ws: str, sids: list[str]) -> None:
    for sid in sids:
        task = taskrouter.fetch_task(workspace_sid=ws, task_sid=sid)
        closed = "canceled" if task.assignment_status in ("pending", "reserved") else "completed"
        taskrouter.update_task(
            actor="tests", workspace_sid=ws, task_sid=sid, if_match=task.etag,
            assignment_status=closed, reason="test over",
        )  # fmt: skip


def probe_view(tmp_path, receiver, **alert) -> SavedView:
    view = {
        "name": "Probe",
        "workspace": "Support",
        "shared": True,
        "query": PROBE_QUERY,
        "alert": {"webhook": receiver.url, **alert},
    }
    run("import", str(write(tmp_path, [view])))
    return SavedView.objects.get(name="Probe")


def test_an_alert_fires_once_stays_silent_while_it_holds_and_resolves_once(
    sandbox, tmp_path, receiver
):
    view = probe_view(tmp_path, receiver, count_above=1)
    ws = sandbox.workspace_sid()
    held = held_lease()
    follow_now()
    alerting.evaluate_round(None, held)
    assert receiver.received == []  # nothing to say while it never held

    sids = make_probe_tasks(ws, 2)
    follow_now()
    for _ in range(3):
        alerting.evaluate_round(None, held)
    assert [r.json["state"] for r in receiver.received] == ["firing"]
    message = receiver.received[0]
    assert message.json | {"text": "", "url": ""} == {
        "view": "Probe", "workspace": "Support", "state": "firing", "count": 2,
        "oldest_wait_seconds": message.json["oldest_wait_seconds"], "text": "", "url": "",
    }  # fmt: skip
    assert message.json["url"].endswith(f"/w/Support/tasks/?{view.query}&view={view.pk}")
    assert "Probe (Support) is firing: 2 tasks" in message.json["text"]
    # The signature: HMAC-SHA256 of "<timestamp>.<body>" with the shared secret.
    timestamp = message.headers["Taskdeck-Timestamp"]
    expected = hmac.new(
        b"test-signing-secret", timestamp.encode() + b"." + message.body, hashlib.sha256
    ).hexdigest()
    assert message.headers["Taskdeck-Signature"] == f"sha256={expected}"

    cancel(ws, sids)
    follow_now()
    for _ in range(3):
        alerting.evaluate_round(None, held)
    assert [r.json["state"] for r in receiver.received] == ["firing", "resolved"]
    assert receiver.received[1].json["count"] == 0


def test_an_oldest_wait_alert_fires_on_the_wait_alone(sandbox, tmp_path, receiver):
    probe_view(tmp_path, receiver, oldest_wait_above_seconds=60)
    ws = sandbox.workspace_sid()
    make_probe_tasks(ws, 1)
    follow_now()
    held = held_lease()
    alerting.evaluate_round(None, held)
    assert receiver.received == []  # just created: waiting for seconds, not a minute
    later = timezone.now() + timedelta(minutes=2)
    view = SavedView.objects.get(name="Probe")
    figures = counting.count(ws, view.query, now=later)
    assert alerting.condition_holds(view, figures)


def test_a_failed_delivery_is_retried_with_backoff_and_every_attempt_is_logged(
    sandbox, tmp_path, receiver, client, signed_in
):
    probe_view(tmp_path, receiver, count_above=0)
    make_probe_tasks(sandbox.workspace_sid(), 1)
    follow_now()
    held = held_lease()
    receiver.status = 503
    alerting.evaluate_round(None, held)
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert DeliveryAttempt.objects.get().error.startswith("HTTP 503")
    receiver.status = 200
    AlertDelivery.objects.update(next_attempt=timezone.now())  # the backoff has passed
    alerting.evaluate_round(None, held)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [a.ok for a in DeliveryAttempt.objects.order_by("number")] == [False, True]
    assert len(receiver.received) == 2
    assert {r.headers["Taskdeck-Delivery"] for r in receiver.received} == {str(delivery.pk)}
    assert alerting.backoff(1) < alerting.backoff(2) < alerting.backoff(3)
    # Admins read the log: the message and each attempt.
    log = client.get("/alerts/deliveries/").content.decode()
    assert "HTTP 503" in log and "delivered (HTTP 200)" in log and "Probe" in log
    assert signed_in("editor").get("/alerts/deliveries/").status_code == 403


def test_an_evaluator_whose_lease_was_taken_over_records_no_transition(
    sandbox, tmp_path, receiver, settings
):
    view = probe_view(tmp_path, receiver, count_above=0)
    make_probe_tasks(sandbox.workspace_sid(), 1)
    follow_now()
    old = leases.acquire(alerting.DUTY, holder="old", seconds=0)
    assert old is not None
    new = leases.acquire(alerting.DUTY, holder="new", seconds=600)
    assert new is not None and new.token > old.token
    old.expires = timezone.now() + timedelta(minutes=5)  # it believes it still holds it
    assert alerting.evaluate(view, old) is None
    assert AlertState.objects.get(view=view).state == "ok"
    assert not AlertDelivery.objects.exists()
    assert alerting.evaluate(view, new) == "firing"
    assert AlertDelivery.objects.get().token == new.token


# --- Who may do what, checked on the server -------------------------------------------------


def save_as(client, name: str, **extra) -> object:
    data = {"name": name, "query": "status=pending", "current": "status=pending", **extra}
    return client.post("/w/Support/views/", data, headers={"HX-Request": "true"})


def test_a_viewer_saves_a_personal_view_but_cannot_share_one_or_change_a_shared_one(signed_in):
    viewer, editor = signed_in("viewer"), signed_in("editor")
    assert save_as(viewer, "Mine").status_code == 200
    refused = save_as(viewer, "Everyone's", shared="on")
    assert refused.status_code == 422
    assert "Only editors share views" in refused.content.decode()
    assert 'value="Everyone&#x27;s"' in refused.content.decode()  # what they typed stays
    mine = SavedView.objects.get(name="Mine")
    assert (mine.owner, mine.shared) == ("viewer@example.com", False)
    assert viewer.post(f"/w/Support/views/{mine.pk}/share/").status_code == 403
    assert save_as(editor, "Team", shared="on").status_code == 200
    team = SavedView.objects.get(name="Team")
    change = {"name": "Renamed", "query": "status=pending"}
    assert viewer.post(f"/w/Support/views/{team.pk}/", change).status_code == 403
    assert viewer.post(f"/w/Support/views/{team.pk}/remove/").status_code == 403
    # Someone else's personal view does not exist for an editor; an admin may remove it.
    assert editor.post(f"/w/Support/views/{mine.pk}/remove/").status_code == 404
    assert signed_in("admin").post(f"/w/Support/views/{mine.pk}/remove/").status_code == 302
    assert not SavedView.objects.filter(pk=mine.pk).exists()
    assert SavedView.objects.get(pk=team.pk).name == "Team"


def test_a_name_already_taken_is_refused_at_the_name_with_the_typed_text_kept(signed_in):
    editor = signed_in("editor")
    save_as(editor, "Twice", shared="on")
    again = save_as(editor, "Twice", shared="on")
    assert again.status_code == 422
    body = again.content.decode()
    assert "A shared view in this workspace is already called “Twice”" in body
    assert 'id="name-error"' in body and 'value="Twice"' in body
    blank = save_as(editor, "   ")
    assert blank.status_code == 422 and "Give the view a name." in blank.content.decode()


def test_the_landing_view_opens_at_the_root_until_it_is_removed(signed_in):
    editor = signed_in("editor")
    save_as(editor, "Land", shared="on")
    view = SavedView.objects.get(name="Land")
    editor.post(f"/w/Support/views/{view.pk}/land/", {"current": ""})
    assert editor.get("/")["Location"] == f"/w/Support/tasks/?status=pending&view={view.pk}"
    assert signed_in("viewer").get("/")["Location"] == "/w/Support/tasks/"
    editor.post(f"/w/Support/views/{view.pk}/remove/")
    assert editor.get("/")["Location"] == "/w/Support/tasks/"


def test_the_table_page_draws_its_views_panel_in_place_not_after_load(client, sandbox):
    """A panel loaded after the page would push the whole table down under the pointer."""
    view = SavedView.objects.create(
        workspace_sid=sandbox.workspace_sid(), name="VIP waiting", query="status=pending",
        owner="", created_by="ops@example.com",
    )  # fmt: skip
    html = client.get("/w/Support/tasks/").content.decode()
    assert 'id="saved-views"' in html and "VIP waiting" in html
    assert 'hx-trigger="load"' not in html.split('id="saved-views"')[0][-300:]
    assert view.name in html.split('id="saved-views"')[1].split("</section>")[0]


def test_the_panel_shows_each_change_to_views_at_once_and_never_another_s_personal_view(
    signed_in,
):
    def panel(browser) -> str:
        html = browser.get("/w/Support/tasks/").content.decode()
        return html.split('id="saved-views"')[1].split("</section>")[0]

    viewer, editor = signed_in("viewer"), signed_in("editor")
    assert "Mine" not in panel(viewer) and "Mine" not in panel(editor)  # both now kept
    save_as(viewer, "Mine")
    assert "Mine" in panel(viewer)
    assert "Mine" not in panel(editor)  # a personal view is its owner's alone
    save_as(editor, "Team", shared="on")
    assert "Team" in panel(viewer) and "Team" in panel(editor)
    team = SavedView.objects.get(name="Team")
    editor.post(f"/w/Support/views/{team.pk}/land/", {"current": ""})
    assert "saved-view-landing" in panel(editor) and "saved-view-landing" not in panel(viewer)
    renamed = {"name": "Renamed", "query": "status=pending", "shared": "on"}
    assert editor.post(f"/w/Support/views/{team.pk}/", renamed).status_code == 302
    assert "Renamed" in panel(viewer) and ">Team<" not in panel(viewer)
    editor.post(f"/w/Support/views/{team.pk}/remove/")
    assert "Renamed" not in panel(viewer) and "saved-view-landing" not in panel(editor)


@pytest.mark.parametrize(
    ("hosts", "said"),
    [
        ([], "no host yet (whoever runs Taskdeck lists them in TASKDECK_ALERT_WEBHOOK_HOSTS)"),
        (["hooks.example.com", "127.0.0.1:9000"], "hooks.example.com, 127.0.0.1:9000"),
    ],
)
def test_a_views_page_and_the_delivery_log_say_alike_where_alerts_may_go(
    client, settings, hosts, said
):
    settings.TASKDECK_ALERT_WEBHOOK_HOSTS = hosts
    save_as(client, "Where")
    view = SavedView.objects.get(name="Where")
    for url in (f"/w/Support/views/{view.pk}/", "/alerts/deliveries/"):
        body = client.get(url).content.decode()
        assert f"Webhooks may go to: {said}." in body, url
