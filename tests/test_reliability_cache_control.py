"""Pages hold customer data: no browser or proxy keeps a copy, except of static files."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_the_table_the_task_page_and_their_fragments_are_never_stored(client, sandbox):
    sid = sandbox.task_sid("pending")
    for url, headers in (
        ("/w/Support/tasks/", {}),
        ("/w/Support/tasks/", {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "task-table"}),
        (f"/w/Support/tasks/{sid}/", {}),
        (f"/tasks/{sid}/", {}),
        ("/", {}),
        ("/livez", {}),
        ("/readyz", {}),
    ):
        response = client.get(url, **headers)
        assert response.status_code in (200, 302), url
        assert no_store(response), url


def test_a_csv_export_is_never_stored(client):
    response = client.get("/w/Support/tasks/?format=csv")
    assert response.status_code == 200
    assert no_store(response)


def test_error_pages_are_never_stored(client, loopback_sandbox):
    assert no_store(client.get("/w/Support/tasks/WT00000000000000000000000000000000/"))
    assert no_store(client.get("/no/such/page/"))
    loopback_sandbox.faults.set("503")
    response = client.get("/w/Support/tasks/")
    assert response.status_code >= 400
    assert no_store(response)


def test_a_refused_form_post_is_never_stored(client):
    response = client.post("/w/Support/tasks/new/", {"attributes": "{oops"})
    assert response.status_code == 422
    assert no_store(response)


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/css/taskdeck.css")
    assert response.status_code == 200
    assert not no_store(response)
