"""Bulk actions: a previewed set, each task written with its own If-Match, per-task results.

Most tests run the background work inside the request (tests/settings.py picks
django-tasks' immediate backend); the worker tests at the end run real `db_worker`
processes against their own database file and the sandbox over loopback."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from tasks_app import bulk, titles
from tasks_app.models import AuditQuerySet, AuditRecord, BulkItem, BulkJob
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.signals import task_write_started, task_written
from tests.conftest import htmx_headers, wait_until
from tests.serving import free_port
from tests.tcp_proxy import TcpProxy
from tests.workers import FINAL, WorkerSite, sites

pytestmark = pytest.mark.django_db

HTMX = htmx_headers("bulk-panel")


@pytest.fixture(autouse=True)
def fast_bulk(settings):
    settings.TASKDECK_BULK_RATE = 500.0
    settings.TASKDECK_BULK_CHUNK_SECONDS = 0.02  # ten writes a chunk: several chunks per job


def preview(client, **data) -> tuple[object, str]:
    response = client.post("/w/Support/tasks/bulk/", data, **HTMX)
    body = response.content.decode()
    token = re.search(r"/bulk/([\w-]+)/run/", body)
    return response, token.group(1) if token else ""


def run_to_the_end(client, token: str, step: str = "start") -> str:
    body = client.post(f"/w/Support/tasks/bulk/{token}/run/", {"step": step}, **HTMX)
    body = body.content.decode()
    deadline = time.monotonic() + 30
    while "bulk-poll" in body:  # the page polls while a worker reads or writes
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.05)
        body = client.get(f"/w/Support/tasks/bulk/{token}/", **HTMX).content.decode()
    return body


def results(body: str) -> dict[str, str]:
    return dict(
        re.findall(r'id="bulk-item-(WT\w+)">.*?<span class="result result-(\w+)">', body, re.S)
    )


def test_a_bulk_cancel_of_20_tasks_one_changed_meanwhile_reports_19_done_and_1_conflict(
    client, sandbox
):
    sids = sandbox.task_sids("pending", limit=20)
    response, token = preview(client, action="cancel", reason="duplicate", task=sids)
    body = response.content.decode()
    assert response.status_code == 200
    assert "20 to change" in body and "Cancel 20 tasks" in body
    # Someone else touches one task between the preview and the run.
    ws = sandbox.workspace_sid()
    changed = taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[7])
    taskrouter.update_task(
        actor="tests@example.com",
        workspace_sid=ws,
        task_sid=sids[7],
        if_match=changed.etag,
        priority=3,
    )

    final = run_to_the_end(client, token)
    outcome = results(final)
    assert "19 done, 1 conflict" in final
    assert outcome[sids[7]] == "conflict"
    assert sum(state == "done" for state in outcome.values()) == 19
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[7]).assignment_status == "pending"
    assert taskrouter.fetch_task(workspace_sid=ws, task_sid=sids[0]).reason == "duplicate"


def test_every_bulk_write_carries_the_version_read_at_preview(client, sandbox):
    sids = sandbox.task_sids("assigned", limit=5)
    ws = sandbox.workspace_sid()
    versions = {s: taskrouter.fetch_task(workspace_sid=ws, task_sid=s).etag for s in sids}
    seen = []

    def record(**kwargs):
        seen.append((kwargs["task_sid"], kwargs["if_match"]))

    task_written.connect(record)
    try:
        _, token = preview(client, action="complete", reason="shift handover", task=sids)
        run_to_the_end(client, token)
    finally:
        task_written.disconnect(record)
    assert sorted(seen) == sorted(versions.items())


def test_tasks_in_a_state_the_action_cannot_apply_to_are_skipped_with_the_reason(client, sandbox):
    pending = sandbox.task_sids("pending", limit=2)
    assigned = sandbox.task_sids("assigned", limit=2)
    response, token = preview(client, action="cancel", reason="cleanup", task=pending + assigned)
    body = response.content.decode()
    assert "2 to change, 2 skipped" in body
    assert body.count("Cannot cancel: it is not pending or reserved (it is assigned).") == 2
    final = run_to_the_end(client, token)
    assert "2 done, 2 skipped" in final


def test_everything_matching_the_filter_can_be_chosen(client, sandbox):
    query = "status=pending&queue=Technical%20Support"
    response, token = preview(
        client, action="priority", priority="42", everything="on", query=query
    )
    ws = sandbox.workspace_sid()
    matching = list(
        taskrouter.iter_tasks(
            workspace_sid=ws,
            query=taskrouter.TaskQuery(statuses=("pending",), task_queue_name="Technical Support"),
        )
    )
    assert len(results(response.content.decode())) == len(matching) > 0
    final = run_to_the_end(client, token)
    assert f"{len(matching)} done" in final
    assert {
        t.priority
        for t in taskrouter.iter_tasks(
            workspace_sid=ws,
            query=taskrouter.TaskQuery(statuses=("pending",), task_queue_name="Technical Support"),
        )
    } == {42}


def test_a_cancel_or_complete_needs_a_reason_and_a_priority_change_needs_a_priority(
    client, sandbox
):
    sids = sandbox.task_sids("pending", limit=2)
    no_reason, _ = preview(client, action="cancel", reason="", task=sids)
    assert no_reason.status_code == 422
    assert "Say why you cancel these tasks" in no_reason.content.decode()
    no_priority, _ = preview(client, action="priority", task=sids)
    assert "Enter the new priority" in no_priority.content.decode()
    nothing, _ = preview(client, action="priority", priority="3")
    assert "Select some tasks" in nothing.content.decode()


def test_failed_writes_can_be_retried_and_then_succeed(client, sandbox, loopback_sandbox):
    sids = sandbox.task_sids("pending", limit=6)
    _, token = preview(client, action="cancel", reason="duplicate", task=sids)
    loopback_sandbox.faults.set("503;times=2;methods=POST")
    final = run_to_the_end(client, token)
    assert "4 done, 2 failed" in final
    assert "Retry the 2 failed" in final
    loopback_sandbox.faults.clear()
    assert "6 done" in run_to_the_end(client, token, step="retry")


def test_results_stay_available_on_the_jobs_page(client, sandbox):
    sids = sandbox.task_sids("pending", limit=3)
    _, token = preview(client, action="cancel", reason="duplicate", task=sids)
    run_to_the_end(client, token)
    page = client.get(f"/w/Support/tasks/bulk/{token}/")
    assert page.status_code == 200
    assert "3 done" in page.content.decode() and "<html" in page.content.decode()


def test_a_job_belongs_to_the_session_that_made_it(client, sandbox, signed_in):
    _, token = preview(client, action="priority", priority="8", task=sandbox.task_sids("pending"))
    assert signed_in("admin").get(f"/w/Support/tasks/bulk/{token}/").status_code == 404


def test_writes_are_paced_within_the_configured_rate(client, sandbox, settings):
    settings.TASKDECK_BULK_RATE = 20.0
    settings.TASKDECK_BULK_CHUNK_SECONDS = 1.0
    sids = sandbox.task_sids("pending", limit=10)
    _, token = preview(client, action="priority", priority="5", task=sids)
    started = time.monotonic()
    run_to_the_end(client, token)
    # Ten writes at 20 a second: the last may start 0.45 s after the first.
    assert time.monotonic() - started >= 0.45


def test_everything_matching_with_taskrouter_down_is_explained_not_a_server_error(
    client, sandbox, loopback_sandbox
):
    loopback_sandbox.faults.set("503;path=/TaskQueues")
    response, _ = preview(
        client, action="priority", priority="4", everything="on", query="status=pending"
    )
    assert response.status_code == 503
    assert "TaskRouter had a problem" in response.content.decode()


def test_a_priority_change_the_workflow_overrides_is_counted_as_kept_by_workflow_not_done(
    client, sandbox
):
    vip = sandbox.vip_pending_sid()
    plain = next(s for s in sandbox.task_sids("pending", limit=50) if s != vip)
    response, token = preview(client, action="priority", priority="1", task=[vip, plain])
    # Said in the preview, before anyone confirms, beside that task only.
    rows = dict(re.findall(r'id="bulk-item-(WT\w+)">(.*?)</tr>', response.content.decode(), re.S))
    kept = "whose target sets priority 100: TaskRouter keeps 100 whatever is written."
    assert kept in html.unescape(rows[vip]) and "Its workflow routes it through the" in rows[vip]
    assert "TaskRouter keeps" not in rows[plain]
    final = run_to_the_end(client, token)
    assert "1 done, 1 kept by workflow" in final
    assert results(final) == {vip: "kept", plain: "done"}
    assert "TaskRouter kept priority 100: its workflow sets it." in final


def test_a_preview_answers_at_once_and_the_page_polls_until_a_worker_has_read_the_tasks(
    client, sandbox, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    sids = sandbox.task_sids("pending", limit=3)
    response, _ = preview(client, action="priority", priority="9", task=sids)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Reading the tasks… 0 read so far" in body
    assert "bulk-poll" in body and "Cancel" not in body


def test_each_bulk_items_audit_record_holds_what_the_preview_showed_and_the_jobs_reason(
    client, sandbox
):
    sids = sandbox.task_sids("pending", limit=3)
    shown = {sid: sandbox.fetch(sid) for sid in sids}
    _, token = preview(
        client, action="priority", priority="7", reason="Escalation from the VIP desk", task=sids
    )
    run_to_the_end(client, token)
    _, token = preview(client, action="cancel", reason="duplicate", task=sids[:1])
    run_to_the_end(client, token)

    records = AuditRecord.objects.filter(task_sid__in=sids).order_by("started", "pk")
    priority, cancel = list(records)[:3], list(records)[3:]
    assert len(priority) == 3 and len(cancel) == 1
    for record in priority:
        task = shown[record.task_sid]
        assert record.before == {
            "assignment_status": "pending",
            "priority": task.priority,
            "task_queue": task.task_queue_friendly_name,
            "title": titles.task_title(task),
        }
        assert record.reason == "Escalation from the VIP desk"
        assert record.after == {"Priority": "7"}  # the reason is recorded, never sent
    assert cancel[0].before == {
        "assignment_status": "pending",
        "priority": 7,
        "task_queue": shown[sids[0]].task_queue_friendly_name,
        "title": titles.task_title(shown[sids[0]]),
    }
    assert cancel[0].reason == "duplicate"


def started_job(sandbox, settings, sids: list[str], **job) -> BulkJob:
    """A job previewed and started, with no worker yet (nothing runs it by itself)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    created = bulk.create(
        actor="ops@example.com",
        owner="tests",
        workspace_sid=sandbox.workspace_sid(),
        selection=bulk.Selection(sids=tuple(sids)),
        **{"reason": "", "priority": None} | job,
    )
    bulk.prepare(created)
    bulk.start(created)
    return BulkJob.objects.get(pk=created.pk)


def write_then_die(job: BulkJob, monkeypatch) -> BulkItem:
    """A worker claims the job's first item and writes it; TaskRouter applies the write,
    and the worker dies before anything records how it ended: the database went away
    before the audit record's outcome, and the item stays RUNNING."""
    (item,) = bulk._claim(job, 1, stale_before=timezone.now())

    def database_gone(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    with monkeypatch.context() as patched:
        patched.setattr(AuditQuerySet, "complete", database_gone)
        bulk._write(job, item)
    return item


def worker_died_long_ago(job: BulkJob) -> None:
    long_ago = timezone.now() - timedelta(seconds=settings.TASKDECK_BULK_STALE_SECONDS + 1)
    job.items.filter(state=BulkItem.State.RUNNING).update(claimed_at=long_ago)


@pytest.mark.parametrize(
    ("case", "expected", "outcome"),
    [
        ("priority landed", "done", AuditRecord.Outcome.DONE),
        ("priority kept by the workflow", "kept", AuditRecord.Outcome.DONE),
        ("cancel landed", "done", AuditRecord.Outcome.DONE),
    ],
)
def test_a_taken_over_job_judges_an_interrupted_write_by_version_and_completes_its_record(
    sandbox, settings, monkeypatch, case, expected, outcome
):
    sid = sandbox.vip_pending_sid() if "workflow" in case else sandbox.task_sid("pending")
    action = {"action": "cancel", "reason": "spam"} if "cancel" in case else {
        "action": "priority", "priority": 3, "reason": "calm the queue"
    }  # fmt: skip
    before = sandbox.fetch(sid)
    job = started_job(sandbox, settings, [sid], **action)
    item = write_then_die(job, monkeypatch)
    (record,) = AuditRecord.objects.filter(task_sid=sid)
    assert record.outcome == AuditRecord.Outcome.UNKNOWN and record.completed is None

    worker_died_long_ago(job)
    bulk.run(job)  # another worker takes over

    item.refresh_from_db()
    assert item.state == expected, item.message
    assert "before its worker stopped" in item.message
    (record,) = AuditRecord.objects.filter(task_sid=sid)  # nothing was written twice
    assert record.outcome == outcome and record.completed is not None
    assert int(sandbox.fetch(sid).etag) == int(before.etag) + 1


def test_a_taken_over_write_that_never_landed_is_written_once_and_its_intent_says_so(
    sandbox, settings, monkeypatch, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    job = started_job(sandbox, settings, [sid], action="priority", priority=4)
    loopback_sandbox.faults.set("503;methods=POST;times=1")  # refused: nothing applied
    item = write_then_die(job, monkeypatch)
    worker_died_long_ago(job)
    bulk.run(job)

    item.refresh_from_db()
    assert item.state == "done"
    records = list(AuditRecord.objects.filter(task_sid=sid).order_by("started", "pk"))
    assert [r.outcome for r in records] == ["failed", "done"]
    assert records[0].message.startswith("Not applied")
    assert int(sandbox.fetch(sid).etag) == int(before.etag) + 1


def test_an_interrupted_write_that_lands_late_is_confirmed_not_reported_as_a_conflict(
    sandbox, settings, monkeypatch, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    job = started_job(sandbox, settings, [sid], action="cancel", reason="spam")
    loopback_sandbox.faults.set("503;methods=POST;times=1")  # not applied (yet)
    item = write_then_die(job, monkeypatch)
    first_write = BulkItem.objects.get(pk=item.pk).write_id

    def the_dead_workers_request_arrives_now(sender, write_id, **kwargs):
        # The taken-over write is about to go out; the dead worker's own request, still
        # on its way when the task was re-read, reaches TaskRouter first.
        if write_id != first_write:
            task_write_started.disconnect(the_dead_workers_request_arrives_now)
            landed = requests.post(
                f"{loopback_sandbox.url}/v1/Workspaces/{before.workspace_sid}/Tasks/{sid}",
                data={"AssignmentStatus": "canceled", "Reason": "spam"},
                headers={"If-Match": before.etag},
                auth=(DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token),
                timeout=10,
            )
            assert landed.status_code == 200

    task_write_started.connect(the_dead_workers_request_arrives_now)
    worker_died_long_ago(job)
    bulk.run(job)

    item.refresh_from_db()
    assert item.state == "done", item.message
    outcomes = dict(AuditRecord.objects.filter(task_sid=sid).values_list("write_id", "outcome"))
    assert outcomes.pop(first_write) == "done"  # the late one landed
    assert list(outcomes.values()) == ["conflict"]  # the second was refused: never twice
    assert int(sandbox.fetch(sid).etag) == int(before.etag) + 1


def test_a_worker_too_slow_to_start_its_write_leaves_a_taken_over_item_to_the_taker(
    sandbox, settings
):
    """A worker claims an item, then stalls past the stale time before writing it (a loaded
    machine, the rate budget); the fleet hands the job to another worker, which writes it.
    The slow worker, resuming, neither writes again nor reports a conflict."""
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    job = started_job(sandbox, settings, [sid], action="cancel", reason="spam")
    claimed_by_the_slow_worker = bulk._claim(job, 1, stale_before=timezone.now())
    worker_died_long_ago(job)
    bulk.run(job)  # the worker the job was handed to
    bulk._write_claimed(job, claimed_by_the_slow_worker)  # the slow one resumes

    assert job.items.get().state == "done"
    assert list(AuditRecord.objects.filter(task_sid=sid).values_list("outcome", flat=True)) == [
        "done"
    ]
    assert int(sandbox.fetch(sid).etag) == int(before.etag) + 1


def test_a_write_overtaken_by_its_takeover_does_not_turn_the_done_item_into_a_conflict(
    sandbox, settings
):
    """A worker's write is on its way, slow enough for the job to be handed over; the
    taker writes first, so the slow write is refused (If-Match). The item stays done: the
    refusal was of our own change, and its record says it was not applied."""
    sid = sandbox.task_sid("pending")
    before = sandbox.fetch(sid)
    job = started_job(sandbox, settings, [sid], action="cancel", reason="spam")
    (slow,) = bulk._claim(job, 1, stale_before=timezone.now())
    slow_write = slow.write_id

    def handed_over_while_the_slow_write_travels(sender, write_id, **kwargs):
        if write_id == slow_write:
            task_write_started.disconnect(handed_over_while_the_slow_write_travels)
            worker_died_long_ago(job)
            bulk.run(job)

    task_write_started.connect(handed_over_while_the_slow_write_travels)
    try:
        bulk._write_claimed(job, [slow])
    finally:
        task_write_started.disconnect(handed_over_while_the_slow_write_travels)

    assert job.items.get().state == "done"
    records = {record.write_id: record for record in AuditRecord.objects.filter(task_sid=sid)}
    refused = records.pop(slow_write)
    assert (refused.outcome, refused.message[:11]) == ("failed", "Not applied")
    assert [record.outcome for record in records.values()] == ["done"]
    assert int(sandbox.fetch(sid).etag) == int(before.etag) + 1


def test_a_taken_over_write_that_someone_else_beat_is_a_conflict_and_so_is_its_record(
    sandbox, settings, monkeypatch, loopback_sandbox
):
    sid = sandbox.task_sid("pending")
    job = started_job(sandbox, settings, [sid], action="priority", priority=4)
    sandbox.change(sid, priority=77)  # a colleague, first
    item = write_then_die(job, monkeypatch)  # ours is refused (If-Match) as it dies
    worker_died_long_ago(job)
    bulk.run(job)

    item.refresh_from_db()
    assert item.state == "conflict"
    assert sandbox.fetch(sid).priority == 77
    ours = AuditRecord.objects.get(task_sid=sid, actor="ops@example.com")
    assert ours.outcome == AuditRecord.Outcome.CONFLICT


def test_with_the_job_queue_down_a_preview_says_so_keeps_nothing_and_can_be_asked_again(
    client, sandbox, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": f"redis://127.0.0.1:{free_port()}/0"}}
    sids = sandbox.task_sids("pending", limit=3)
    response, token = preview(client, action="cancel", reason="duplicate", task=sids)
    body = response.content.decode()
    assert response.status_code == 503
    assert "The job queue is not answering" in body and "Nothing was recorded" in body
    assert not token and not BulkJob.objects.exists()


def test_with_the_job_queue_down_starting_a_previewed_job_leaves_it_ready_to_start(
    client, sandbox, settings
):
    sids = sandbox.task_sids("pending", limit=2)
    _, token = preview(client, action="cancel", reason="duplicate", task=sids)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": f"redis://127.0.0.1:{free_port()}/0"}}
    response = client.post(f"/w/Support/tasks/bulk/{token}/run/", {"step": "start"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 503
    assert "The job queue is not answering" in body and "Cancel 2 tasks" in body
    job = BulkJob.objects.get(token=token)
    assert job.started is None and bulk.counts(job)["preview"] == 2


def versions(sandbox, sids: list[str]) -> dict[str, int]:
    with sandbox.store.read() as conn:
        rows = conn.execute("SELECT sid, version FROM tasks").fetchall()
    return {row["sid"]: row["version"] for row in rows if row["sid"] in sids}


def written_exactly_once(
    site: WorkerSite, job_id: int, sandbox, sids: list[str], before: dict
) -> None:
    """Counted at TaskRouter: each task moved exactly one version, to canceled; and the
    audit trail has one done record per task, every other attempt completed with what
    became of it (not applied, or refused because the first had landed), none left open
    or unknown."""
    assert versions(sandbox, sids) == {sid: v + 1 for sid, v in before.items()}
    assert {sandbox.fetch(sid).assignment_status for sid in sids} == {"canceled"}
    for sid, outcomes in site.audit_outcomes(job_id, sids).items():
        assert outcomes.count("done") == 1, (sid, outcomes)
        assert set(outcomes) <= {"done", "failed", "conflict"}, (sid, outcomes)


@sites("sqlite-db", "postgresql-db")
def test_a_bulk_job_finishes_with_no_browser_open_run_by_a_database_worker(sandbox, worker_site):
    sids = sandbox.task_sids("pending", limit=8)
    before = versions(sandbox, sids)
    job = worker_site.create_job(sids, sandbox.workspace_sid(), reason="spam wave")
    worker_site.drain_the_database_queue()
    assert worker_site.states(job) == {"preview": 8}  # read by the worker, nothing written
    assert versions(sandbox, sids) == before

    worker_site.start_job(job)
    worker_site.drain_the_database_queue()
    assert worker_site.wait_for(job, lambda s: s.get("done") == 8) == {"done": 8}
    assert {(sandbox.fetch(sid).assignment_status, sandbox.fetch(sid).reason) for sid in sids} == {
        ("canceled", "spam wave")
    }
    assert versions(sandbox, sids) == {sid: v + 1 for sid, v in before.items()}


@sites("postgresql-db", "postgresql-rq")
def test_a_worker_killed_mid_job_is_taken_over_within_the_stale_time_writing_nothing_twice(
    sandbox, loopback_sandbox, worker_site
):
    sids = sandbox.task_sids("pending", limit=40)
    before = versions(sandbox, sids)
    fleet = worker_site.started_workers(2)
    job = worker_site.create_job(sids, sandbox.workspace_sid(), reason="outage")
    worker_site.wait_for(job, lambda s: s == {"preview": 40})
    # Slow writes, so the kill lands with some written, some in flight, some waiting.
    loopback_sandbox.faults.set("delay=0.4;methods=POST")
    worker_site.start_job(job)
    worker_site.wait_for(job, lambda s: s.get("done", 0) >= 2 and s.get("running", 0) >= 1)
    first, second = sorted(fleet, key=lambda worker: -worker.writes())  # the one writing first

    killed = first.kill()
    stopped = worker_site.states(job)
    assert stopped.get("running", 0) >= 1 and stopped.get("queued", 0) >= 1
    worker_site.wait_for(job, lambda s: s.get("done", 0) > stopped["done"])
    takeover = time.monotonic() - killed
    final = worker_site.wait_for(job, lambda s: sum(s.get(k, 0) for k in FINAL) == 40)

    assert final == {"done": 40}, worker_site.explain(job, sandbox.store)
    written_exactly_once(worker_site, job, sandbox, sids, before)
    # Stale after 2 s, a dead worker's duty lease lapses after 2 s: a wide margin beyond.
    print(f"takeover ({worker_site.env['TASKDECK_TASKS_BACKEND']}): {takeover:.1f} s")
    assert takeover < 30, f"the job resumed {takeover:.1f} s after its worker was killed"
    # The worker that finished the job is scraped: its bulk outcomes and TaskRouter calls.
    scraped = second.metrics()
    assert re.search(r'taskdeck_bulk_items_total\{outcome="done"\} [1-9]', scraped)
    assert re.search(
        r'taskdeck_taskrouter_calls_total\{endpoint="Task-Update"[^}]*\} [1-9]', scraped
    )


@sites("postgresql-db", "postgresql-rq")
def test_a_worker_rides_out_a_database_outage_mid_job_and_the_job_finishes(
    sandbox, loopback_sandbox, worker_site
):
    sids = sandbox.task_sids("pending", limit=16)
    before = versions(sandbox, sids)
    proxy = TcpProxy(5432).start()
    try:
        through_the_proxy = worker_site.database.replace(":5432/", f":{proxy.port}/", 1)
        worker = worker_site.worker(DATABASE_URL=through_the_proxy)
        job = worker_site.create_job(sids, sandbox.workspace_sid(), reason="outage")
        worker_site.wait_for(job, lambda s: s == {"preview": 16})
        loopback_sandbox.faults.set("delay=0.3;methods=POST")
        worker_site.start_job(job)
        worker_site.wait_for(job, lambda s: s.get("done", 0) >= 2)

        proxy.cut()  # PostgreSQL is gone for the worker, mid-job
        wait_until(lambda: "OperationalError" in worker.log.read_text(), timeout=30)
        wait_until(lambda: "database unavailable" in worker.log.read_text(), timeout=30)
        assert worker.process.poll() is None, "the worker exited"
        proxy.restore()

        final = worker_site.wait_for(
            job, lambda s: sum(s.get(k, 0) for k in FINAL) == 16, seconds=90
        )
        assert worker.process.poll() is None, worker.log.read_text()[-3000:]
    finally:
        # Stopped while the proxy still carries its database: a worker asked to stop with
        # its database gone keeps retrying until the fixture's 30 s SIGKILL.
        worker_site.stop_workers()
        proxy.stop()
    assert final == {"done": 16}, worker_site.explain(job, sandbox.store)
    written_exactly_once(worker_site, job, sandbox, sids, before)


def test_each_views_bulk_bar_acts_on_its_own_filter(client):
    # The bar's fields are rendered once per URL and shared: each view keeps its own query.
    for query in ("status=pending", "status=assigned&sort=-priority", "status=pending"):
        body = client.get(f"/w/Support/tasks/?{query}").content.decode()
        bar = re.search(r'<form id="bulk-form".*?</form>', body, re.S).group(0)
        assert f'name="query" value="{query.replace("&", "&amp;")}"' in bar
        assert 'name="csrfmiddlewaretoken"' in bar
        assert re.search(r'<select name="action"[^>]*id="bulk-action"', bar)
