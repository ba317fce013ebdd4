"""The service-level targets page: admins only, bad input kept with a message, every
change audited, and the targets are what the triage figures use."""

from __future__ import annotations

import pytest

from tasks_app.models import AuditRecord, SlaTarget
from tasks_app.taskrouter import service as taskrouter
from tasks_app.triage import targets
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db


def _queue(sandbox, name: str) -> taskrouter.TaskQueue:
    ws = sandbox.workspace_sid()
    return next(q for q in taskrouter.list_task_queues(workspace_sid=ws) if q.friendly_name == name)


@pytest.mark.parametrize(
    ("typed", "seconds"),
    [
        ("30", 30),
        ("30 s", 30),
        ("2 min", 120),
        ("2m", 120),
        ("1:30", 90),
        ("1 h", 3600),
        ("", None),
    ],
)
def test_a_wait_reads_as_seconds_or_with_a_unit(typed, seconds):
    assert targets.parse_wait(typed) == seconds


@pytest.mark.parametrize("typed", ["soon", "-5", "0", "25 h", "1:75", "3 days"])
def test_a_wait_that_is_not_one_is_refused_with_what_is_accepted(typed):
    from django import forms

    with pytest.raises(forms.ValidationError):
        targets.parse_wait(typed)


def test_a_channel_target_wins_over_the_queue_s_and_the_default_applies_to_the_rest():
    found = targets.Targets(queues={"WQ1": 120}, channels={("WQ1", "chat"): 30}, default=300)
    assert found.for_task("WQ1", "chat") == 30
    assert found.for_task("WQ1", "voice") == 120
    assert found.for_task("WQ2", "chat") == 300
    assert targets.Targets().for_task("WQ2", "chat") is None


def test_only_admins_open_the_targets_page(client, signed_in):
    assert client.get("/w/Support/targets/").status_code == 200
    assert signed_in("editor").get("/w/Support/targets/").status_code == 403
    assert signed_in("viewer").get("/w/Support/targets/").status_code == 403


def test_an_admin_s_target_is_saved_and_audited_with_before_and_after(client, sandbox):
    billing = _queue(sandbox, "Billing")
    response = client.post(
        "/w/Support/targets/",
        {"queue": billing.sid, f"{billing.sid}-all": "2 min", f"{billing.sid}-channel_chat": "30"},
        **htmx_headers(f"targets-{billing.sid}"),
    )
    assert response.status_code == 200
    assert "Service-level target of Billing: none → 2 min" in response.content.decode()
    saved = {t.channel: t.seconds for t in SlaTarget.objects.filter(queue_sid=billing.sid)}
    assert saved == {"": 120, "chat": 30}
    records = AuditRecord.objects.filter(action="sla-target").order_by("pk")
    assert [r.actor for r in records] == ["admin@example.com"] * 2
    assert records[0].before["target_seconds"] is None
    assert records[0].after["target_seconds"] == 120

    # Changing one of them records that change alone.
    client.post(
        "/w/Support/targets/",
        {"queue": billing.sid, f"{billing.sid}-all": "90", f"{billing.sid}-channel_chat": "30"},
    )
    last = AuditRecord.objects.filter(action="sla-target").order_by("-pk").first()
    assert (last.before["target_seconds"], last.after["target_seconds"]) == (120, 90)
    assert AuditRecord.objects.filter(action="sla-target").count() == 3


def test_bad_input_keeps_what_was_typed_beside_a_message_and_saves_nothing(client, sandbox):
    billing = _queue(sandbox, "Billing")
    response = client.post(
        "/w/Support/targets/",
        {"queue": billing.sid, f"{billing.sid}-all": "two minutes"},
        **htmx_headers(f"targets-{billing.sid}"),
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert 'value="two minutes"' in html
    assert "is not a wait" in html
    assert not SlaTarget.objects.exists()
    assert not AuditRecord.objects.filter(action="sla-target").exists()


def test_the_strip_offers_targets_to_admins_and_acting_to_editors_only(client, signed_in, sandbox):
    SlaTarget.objects.create(
        workspace_sid=sandbox.workspace_sid(), queue_sid=_queue(sandbox, "Billing").sid, seconds=60
    )
    admin = client.get("/w/Support/tasks/").content.decode()
    editor = signed_in("editor").get("/w/Support/tasks/").content.decode()
    viewer = signed_in("viewer").get("/w/Support/tasks/").content.decode()
    assert 'id="targets-link"' in admin
    assert 'id="targets-link"' not in editor and 'id="targets-link"' not in viewer
    assert 'class="strip-act"' in admin and 'class="strip-act"' in editor
    assert 'class="strip-act"' not in viewer
