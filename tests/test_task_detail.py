"""The task page and the SID-only redirect."""

from __future__ import annotations

import re

import pytest

from tasks_app.taskrouter import service as taskrouter

pytestmark = pytest.mark.django_db


def test_the_task_page_shows_every_field_and_the_version_it_was_read_on_hover(client, sandbox):
    sid = sandbox.task_sid("assigned")
    html = client.get(f"/w/Support/tasks/{sid}/").content.decode()
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    for label in (
        "Status",
        "Priority",
        "Age",
        "Reason",
        "Queue",
        "Workflow",
        "Channel",
        "Created",
        "Updated",
        "Entered queue",
        "Virtual start time",
        "Timeout",
        "Routing target",
        "Workspace",
        "Account",
        "With an agent",
    ):
        assert f"<dt>{label}</dt>" in html, label
    assert "<dt>Version" not in html  # the version is a detail, on hover of "Updated"
    assert f'id="task-updated" data-etag="{task.etag}" title="TaskRouter' in html
    assert task.task_queue_friendly_name in html


def test_attributes_are_pretty_printed_and_escaped(client, sandbox):
    ws = sandbox.workspace_sid()
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0]
    task = taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws,
        workflow_sid=workflow.sid,
        attributes={"note": "</pre><script>alert(1)</script>", "nested": {"a": [1, 2]}},
    )
    html = client.get(f"/w/Support/tasks/{task.sid}/").content.decode()
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert '"nested": {\n    "a": [\n      1,\n      2\n    ]\n  }' in html.replace("&quot;", '"')


def test_the_task_page_links_to_the_table_filtered_by_its_queue_and_workflow(client, sandbox):
    sid = sandbox.task_sid("pending")
    task = taskrouter.fetch_task(workspace_sid=sandbox.workspace_sid(), task_sid=sid)
    html = client.get(f"/w/Support/tasks/{sid}/").content.decode()
    assert f'href="/w/Support/tasks/?queue={task.task_queue_sid}"' in html
    assert f'href="/w/Support/tasks/?workflow={task.workflow_sid}"' in html
    filtered = client.get(f"/w/Support/tasks/?queue={task.task_queue_sid}&size=1000")
    assert sid in filtered.content.decode()


def test_a_purged_task_is_a_404_that_explains_why(client):
    response = client.get("/w/Support/tasks/WT" + "a" * 32 + "/")
    assert response.status_code == 404
    assert "removed a few minutes after they end" in response.content.decode()


def test_a_malformed_sid_is_a_400_with_a_message(client):
    response = client.get("/w/Support/tasks/not-a-sid/")
    assert response.status_code == 400
    assert "Task SID" in response.content.decode()


def test_a_sid_alone_redirects_to_the_task_in_its_workspace(client, sandbox):
    sid = sandbox.task_sid("reserved", workspace="Sales & Renewals")
    response = client.get(f"/tasks/{sid}/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/Sales%20&%20Renewals/tasks/{sid}/"
    assert client.get(response["Location"]).status_code == 200


def test_a_sid_alone_that_no_workspace_has_is_a_404(client):
    assert client.get("/tasks/WT" + "b" * 32 + "/").status_code == 404


def test_the_workspace_switcher_lists_every_workspace_by_name(client):
    html = client.get("/w/Support/tasks/").content.decode()
    switcher = re.search(r'<ul aria-label="Workspaces">(.*?)</ul>', html, re.S).group(1)
    assert "Support" in switcher and "Sales &amp; Renewals" in switcher
    assert 'aria-current="page">Support<' in switcher


def test_health_checks_answer_without_touching_taskrouter(client, settings):
    settings.TASKROUTER_BASE_URL = "https://taskrouter.twilio.com"  # unconfigured, unused
    assert client.get("/livez").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_the_task_page_is_titled_by_the_customers_name_and_hides_no_template_comment(
    client, sandbox
):
    ws = sandbox.workspace_sid()
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0]
    task = taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws,
        workflow_sid=workflow.sid,
        attributes={"customer": {"name": "Ada <Lovelace>"}},
    )
    html = client.get(f"/w/Support/tasks/{task.sid}/").content.decode()
    heading = html[html.index('<h1 class="task-title"') : html.index("</h1>")]
    assert "Ada &lt;Lovelace&gt;" in heading and task.sid in heading
    assert "{#" not in html and "#}" not in html  # a template comment never shows
