"""The search box on every page and its results page (``/search/?q=``), answered from the
task index: one match opens the task, several are listed with their workspace, closed
and deleted ones marked; text that cannot be searched gets a message and stays in the box."""

from __future__ import annotations

import html
import re

import pytest

from tasks_app.index.search import SHOWN
from tasks_app.taskrouter import service as taskrouter
from tests.conftest import wait_until
from tests.index_helpers import follow_now

pytestmark = pytest.mark.django_db

CUSTOMER = {
    "name": "Zoë Quintero-Marsh",
    "customer": {"name": "Zoë Quintero-Marsh", "email": "Zoe.QM@Example.org"},
    "from": "+14155550100",
    "ticket_number": "TK-990417",
}


def create(sandbox, attributes: dict, workspace: str = "Support") -> str:
    workspace_sid = sandbox.workspace_sid(workspace)
    workflow = taskrouter.list_workflows(workspace_sid=workspace_sid)[0]
    task = taskrouter.create_task(
        actor="colleague@example.com",
        workspace_sid=workspace_sid,
        attributes=attributes,
        workflow_sid=workflow.sid,
    )
    return task.sid


def hit_rows(body: str) -> list[str]:
    return re.findall(r'<tr id="hit-(WT[0-9a-f]{32})"', body)


def test_every_page_has_the_search_box(client, sandbox):
    sid = sandbox.task_sid("pending")
    for url in ("/w/Support/tasks/", f"/w/Support/tasks/{sid}/", "/audit/", "/search/"):
        body = client.get(url).content.decode()
        assert '<form class="site-search" role="search" method="get" action="/search/">' in body
        assert 'aria-label="Search all tasks"' in body or 'for="site-search"' in body


def test_one_match_opens_the_task_in_its_workspace(client, sandbox):
    sid = create(sandbox, CUSTOMER)
    follow_now()
    for text in ("zoe quintero", "zoe.qm@example.org", "(415) 555-0100", "tk-990417"):
        response = client.get("/search/", {"q": text})
        assert response.status_code == 302, text
        assert response["Location"] == f"/w/Support/tasks/{sid}/"


def test_several_matches_are_listed_with_their_workspace_open_first(client, sandbox):
    first = create(sandbox, CUSTOMER)
    other = create(sandbox, {**CUSTOMER, "ticket_number": "TK-1"}, workspace="Sales & Renewals")
    sandbox.change(first, assignment_status="canceled", reason="Duplicate")
    follow_now()
    response = client.get("/search/", {"q": "QUINTERO"})
    body = response.content.decode()
    assert response.status_code == 200
    assert hit_rows(body) == [other, first]
    assert "2 tasks match “QUINTERO”" in body
    row = body[body.index(f'id="hit-{first}"') :]
    row = row[: row.index("</tr>")]
    assert "closed" in row and "Support" in row and f'href="/w/Support/tasks/{first}/"' in row
    assert "Sales &amp; Renewals" in body
    assert 'value="QUINTERO"' in body  # the header's box keeps the text


def test_a_deleted_task_is_found_marked_deleted_and_opens_its_own_page(client, sandbox, settings):
    from tasks_app import embedded_sandbox

    settings.SANDBOX_PURGE_AFTER = 1
    embedded_sandbox.reset()
    sid = create(sandbox, CUSTOMER)
    create(sandbox, {**CUSTOMER, "ticket_number": "TK-2"})
    sandbox.change(sid, assignment_status="canceled", reason="Customer hung up")
    workspace = sandbox.workspace_sid()

    def purged() -> bool:
        try:
            taskrouter.fetch_task(workspace_sid=workspace, task_sid=sid)
        except taskrouter.NotFound:
            return True
        return False

    wait_until(purged, timeout=30)
    follow_now()
    body = client.get("/search/", {"q": "zoe marsh"}).content.decode()
    row = body[body.index(f'id="hit-{sid}"') :]
    row = row[: row.index("</tr>")]
    assert "deleted" in row
    assert f'href="/tasks/{sid}/"' in row
    assert hit_rows(body)[-1] == sid  # after the open one


def many(sandbox, count: int) -> list[str]:
    """``count`` tasks of one customer, newest last."""
    return [create(sandbox, {**CUSTOMER, "ticket_number": f"TK-{n}"}) for n in range(count)]


def test_every_match_can_be_reached_page_by_page_newest_first(client, sandbox):
    sids = many(sandbox, SHOWN + 3)
    follow_now()
    first = client.get("/search/", {"q": "quintero"}).content.decode()
    assert f"{SHOWN + 3} tasks match “quintero”: 1\u2013{SHOWN} are shown, newest first." in first
    assert hit_rows(first) == sids[::-1][:SHOWN]
    assert "Page 1 of 2" in first and 'id="search-newer"' not in first
    older = re.search(r'<a href="([^"]+)" rel="next" id="search-older">Older matches</a>', first)
    assert html.unescape(older.group(1)) == "?q=quintero&page=2"

    second = client.get("/search/", {"q": "quintero", "page": "2"}).content.decode()
    assert f": {SHOWN + 1}\u2013{SHOWN + 3} are shown, newest first." in second
    assert hit_rows(second) == sids[::-1][SHOWN:]  # the rest, none twice
    assert "Page 2 of 2" in second and 'id="search-older"' not in second
    newer = re.search(r'<a href="([^"]+)" rel="prev" id="search-newer">Newer matches</a>', second)
    assert html.unescape(newer.group(1)) == "?q=quintero"


@pytest.mark.parametrize(
    ("page", "message", "shown"),
    [
        ("zz", "“zz” is not a page of these matches: pages are numbered from 1.", 0),
        ("0", "“0” is not a page of these matches", 0),
        ("-2", "“-2” is not a page of these matches", 0),
        pytest.param(
            "9" * 5000, "“99999999999999999999” is not a page of these matches", 0, id="5000 digits"
        ),
        ("9", "There is no page 9 of these matches", SHOWN),
    ],
)
def test_a_page_that_is_not_there_says_so_and_shows_the_nearest_one(
    client, sandbox, page, message, shown
):
    sids = many(sandbox, SHOWN + 2)
    follow_now()
    response = client.get("/search/", {"q": "quintero", "page": page})
    body = html.unescape(response.content.decode())
    assert response.status_code == 400
    assert message in body
    assert hit_rows(body) == sids[::-1][shown : shown + SHOWN]
    assert 'value="quintero"' in body  # the search itself stands


def test_a_task_sid_opens_the_task_even_before_the_index_has_it(client, sandbox):
    sid = sandbox.task_sid("pending")
    response = client.get("/search/", {"q": sid.upper()})
    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{sid}/"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type something to search for"),
        ("zo", "Type at least 3 letters or digits in a row"),
        ("x" * 120, "Search for at most 100 characters (this is 120)."),
    ],
)
def test_text_that_cannot_be_searched_is_kept_with_a_message(client, text, message):
    response = client.get("/search/", {"q": text})
    body = response.content.decode()
    assert response.status_code == 400
    assert message in html.unescape(body)
    assert f'value="{text}"' in body
    assert 'aria-invalid="true" aria-describedby="site-search-error"' in body


def test_nothing_found_says_so(client):
    body = client.get("/search/", {"q": "no such customer anywhere"}).content.decode()
    assert "0 tasks match “no such customer anywhere”" in body


def test_search_answers_from_the_index_while_taskrouter_is_down(client, sandbox, loopback_sandbox):
    first = create(sandbox, CUSTOMER)
    second = create(sandbox, {**CUSTOMER, "ticket_number": "TK-3"})
    follow_now()
    loopback_sandbox.faults.set("503")
    body = client.get("/search/", {"q": "quintero"}).content.decode()
    assert sorted(hit_rows(body)) == sorted([first, second])
    assert f'/tasks/{first}/"' in body


def test_a_viewer_may_search(signed_in, sandbox):
    sid = create(sandbox, CUSTOMER)
    follow_now()
    response = signed_in("viewer").get("/search/", {"q": "quintero"})
    assert response.status_code == 302 and sid in response["Location"]


def test_the_tables_exact_case_filter_offers_the_same_text_as_a_search_of_all_tasks(client):
    body = client.get("/w/Support/tasks/", {"q": "acme & co"}).content.decode()
    assert 'href="/search/?q=acme%20%26%20co" id="search-everywhere"' in body
