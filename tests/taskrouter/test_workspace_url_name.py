"""A workspace's name in Taskdeck's URLs: readable when it can be, always one that works.

TaskRouter accepts any text as a friendly name. The sandbox seeds "EMEA/Tier 2", whose
``/`` cannot be one path segment; before ``Workspace.url_name`` the workspace switcher in
every page's header asked ``reverse()`` for it and every page failed.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.resources import Workspace

pytestmark = pytest.mark.django_db

SLASHED = "EMEA/Tier 2"


def workspace(name: str) -> Workspace:
    return Workspace(sid="WS" + "0" * 32, friendly_name=name)


@pytest.mark.parametrize("name", ["Support", "Sales & Renewals", "100% uptime?", "Tier #2"])
def test_a_name_that_is_one_path_segment_is_used_as_it_reads(name):
    assert workspace(name).url_name == name


@pytest.mark.parametrize("name", [SLASHED, " Padded", "Padded ", "", ".", ".."])
def test_a_name_that_cannot_be_one_path_segment_gives_way_to_the_sid(name):
    assert workspace(name).url_name == "WS" + "0" * 32


def test_every_seeded_workspaces_url_opens_that_workspaces_table(client):
    workspaces = taskrouter.list_workspaces()
    assert SLASHED in [w.friendly_name for w in workspaces]
    for each in workspaces:
        response = client.get(reverse("task_list", args=[each.url_name]))
        assert response.status_code == 200, each.friendly_name
        assert response.context["workspace"].sid == each.sid


def test_the_switcher_links_a_slashed_name_by_its_sid_on_every_page(client, sandbox):
    sid = sandbox.workspace_sid(SLASHED)
    html = client.get("/w/Support/tasks/").content.decode()
    assert f'href="/w/{sid}/tasks/"' in html
    assert ">EMEA/Tier 2</a>" in html


def test_a_task_in_a_slashed_workspace_opens_from_its_sid_alone(client, sandbox):
    workspace_sid = sandbox.workspace_sid(SLASHED)
    task_sid = sandbox.task_sid("pending", workspace=SLASHED)
    response = client.get(f"/tasks/{task_sid}/")
    assert response.status_code == 302
    assert response["Location"] == f"/w/{workspace_sid}/tasks/{task_sid}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert task_sid in page.content.decode()
