"""CSV export of the current filter: every page, capped, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from tasks_app.taskrouter import service as taskrouter

pytestmark = pytest.mark.django_db


def export(client, query: str) -> list[list[str]]:
    response = client.get(f"/w/Support/tasks/?{query}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_export_has_the_tables_columns_and_every_matching_task_across_pages(client, sandbox):
    rows = export(client, "status=pending,reserved&cols=customer.name&size=10")
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Task", "Status", "Priority"] and header[-1] == "customer.name"
    ws = sandbox.workspace_sid()
    query = taskrouter.TaskQuery(statuses=("pending", "reserved"))
    expected = [t.sid for t in taskrouter.iter_tasks(workspace_sid=ws, query=query)]
    assert [r[0] for r in body] == expected
    assert len(expected) > 10  # more than the page the table shows


def test_the_export_stops_at_the_cap_and_says_so(client, settings):
    settings.TASKDECK_EXPORT_MAX_ROWS = 25
    rows = export(client, "")
    assert len(rows) == 1 + 25 + 1
    assert rows[-1][0].startswith("# Export stopped at the limit of 25 tasks")


def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(client, sandbox):
    ws = sandbox.workspace_sid()
    workflow = taskrouter.list_workflows(workspace_sid=ws)[0]
    taskrouter.create_task(
        actor="tests@example.com",
        workspace_sid=ws,
        workflow_sid=workflow.sid,
        priority=2_000_000_001,
        attributes={"customer": {"name": '=HYPERLINK("http://evil")'}},
    )
    rows = export(client, "sort=-priority&cols=customer.name")
    assert rows[1][-1] == '\'=HYPERLINK("http://evil")'


def test_an_export_interrupted_by_taskrouter_ends_with_a_line_saying_so(client, loopback_sandbox):
    client.get("/w/Support/tasks/")  # directory cached
    loopback_sandbox.faults.set("503;path=/Tasks")
    rows = export(client, "")
    assert rows[-1][0].startswith("# Export incomplete after 0 tasks: TaskRouter had a problem")


def test_an_export_with_an_invalid_filter_is_refused_on_the_page(client):
    response = client.get("/w/Support/tasks/?where=vip ==&format=csv")
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]
