"""Taskdeck's own pages for an address nothing answers (404) and for its own failure (500),
as production serves them (DEBUG shows Django's technical pages instead)."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.views import defaults

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/nothing-here/",  # no route at all
        "/w/Support/views/999999/",  # a removed saved view
        "/w/Support/tasks/bulk/not-a-job/",  # another Taskdeck's bulk job
    ],
)
def test_an_address_with_nothing_behind_it_gets_taskdecks_page_with_a_way_on(client, path):
    response = client.get(path)
    body = response.content.decode()
    assert response.status_code == 404
    assert "<title>Not found · Taskdeck</title>" in body
    assert f'Taskdeck has nothing at <span class="mono">{path}</span>' in body
    assert '<a href="/">Go to the task table</a>' in body
    assert '<form class="site-search" role="search"' in body  # the search box, one step on


def test_taskdecks_own_failure_gets_a_page_that_needs_nothing_but_itself():
    """Drawn with no context (something already failed): it must not need any."""
    response = defaults.server_error(RequestFactory().get("/w/Support/tasks/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "<title>Something went wrong · Taskdeck</title>" in body
    assert "look at the task's page or the audit trail before trying again" in body
    assert re.search(r'<link rel="stylesheet" href="/static/css/taskdeck[\w.]*\.css">', body)
