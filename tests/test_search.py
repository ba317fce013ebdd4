"""The task table's search box (``q``): a task SID opens the task, other text finds tasks
by the attribute paths in TASKDECK_SEARCH_ATTRIBUTES, and the result is a link."""

from __future__ import annotations

import html as html_lib
import logging
import re
from urllib.parse import quote, urlencode

import pytest
from django.http import QueryDict

from tasks_app import search
from tasks_app.forms import TaskFilterForm
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.expressions import matches, parse_reference, resolve
from tests.conftest import htmx_headers

pytestmark = pytest.mark.django_db

HTMX = htmx_headers("task-view")
PATHS = ("customer.name", "name", "from", "subject")


def row_sids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(WT[0-9a-f]{32})"', html)


def support_tasks() -> dict[str, taskrouter.Task]:
    ws = taskrouter.resolve_workspace("Support")
    return {
        t.sid: t for t in taskrouter.iter_tasks(workspace_sid=ws.sid, query=taskrouter.TaskQuery())
    }


def contains_text(task: taskrouter.Task, text: str) -> bool:
    values = (resolve(parse_reference(p), task.attributes) for p in PATHS)
    return any(isinstance(v, str) and text in v for v in values)


def search_url(**params: str) -> str:
    return "/w/Support/tasks/?" + urlencode(params)


def tasks_read(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "/Tasks " in r.getMessage()]


# --- a task SID opens the task -------------------------------------------------------------


def test_a_task_sid_in_the_search_box_opens_that_task(client, sandbox):
    sid = sandbox.task_sid("pending")
    response = client.get(search_url(q=sid))
    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{sid}/"
    page = client.get(response["Location"], follow=True)
    assert page.status_code == 200
    assert page.redirect_chain[-1][0].endswith(f"/tasks/{sid}/")
    assert sid in page.content.decode()


def test_a_sid_pasted_with_spaces_and_capital_hex_still_opens_the_task(client, sandbox):
    sid = sandbox.task_sid("assigned")
    response = client.get(search_url(q=f"  WT{sid[2:].upper()} "))
    assert response.status_code == 302
    assert response["Location"] == f"/tasks/{sid}/"


def test_with_htmx_a_task_sid_makes_the_browser_navigate_to_the_task(client, sandbox):
    sid = sandbox.task_sid("pending")
    response = client.get(search_url(q=sid), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/tasks/{sid}/"
    assert response.content == b""  # nothing for htmx to swap into the table


def test_a_sid_from_another_workspace_opens_the_task_in_its_own_workspace(client, sandbox):
    sid = sandbox.task_sid("pending", workspace="Sales & Renewals")
    page = client.get(search_url(q=sid), follow=True)
    assert page.status_code == 200
    final_url = page.redirect_chain[-1][0]
    assert final_url.endswith(f"/tasks/{sid}/")
    assert not final_url.startswith("/w/Support/")
    assert "Sales &amp; Renewals" in page.content.decode()


def test_a_saved_filter_such_as_a_bulk_actions_refuses_a_sid_rather_than_match_everything(sandbox):
    sid = sandbox.task_sid("pending")
    filters = TaskFilterForm(QueryDict(f"q={sid}"), queues=(), workflows=())
    assert not filters.is_valid()
    assert "not a filter" in filters.errors["q"][0]


def test_a_bulk_action_over_a_searched_filter_covers_the_search_and_the_where(sandbox):
    filters = TaskFilterForm(QueryDict("q=Acme&where=vip == true"), queues=(), workflows=())
    assert filters.is_valid()
    assert filters.to_query().evaluate_task_attributes == (
        '(vip == true) AND (customer.name CONTAINS "Acme" OR name CONTAINS "Acme" '
        'OR from CONTAINS "Acme" OR subject CONTAINS "Acme")'
    )


# --- other text searches the attributes --------------------------------------------------


def test_searching_a_customer_name_finds_their_tasks_and_only_tasks_that_mention_it(
    client, sandbox
):
    task = sandbox.fetch(sandbox.task_sid("pending"))
    name = task.attributes["customer"]["name"]
    response = client.get(search_url(q=name, size="1000"))
    html = response.content.decode()
    assert response.status_code == 200
    found = row_sids(html)
    assert task.sid in found
    everything = support_tasks()
    assert found == [sid for sid in everything if contains_text(everything[sid], name)][:1000]
    assert html_lib.escape(name) in html  # the box keeps what was typed


def test_part_of_a_name_is_enough(client):
    html = client.get(search_url(q="Acme", size="1000")).content.decode()
    everything = support_tasks()
    found = row_sids(html)
    assert found
    assert all(contains_text(everything[sid], "Acme") for sid in found)
    assert any(everything[sid].attributes["customer"]["name"] == "Acme Corp" for sid in found)


def test_the_page_shows_the_expression_it_sent_to_taskrouter(client):
    html = client.get(search_url(q="Acme")).content.decode()
    shown = re.search(r'id="search-expression">.*?<code>(.*?)</code>', html).group(1)
    assert html_lib.unescape(shown) == (
        'customer.name CONTAINS "Acme" OR name CONTAINS "Acme" OR from CONTAINS "Acme" '
        'OR subject CONTAINS "Acme"'
    )


def test_the_search_paths_come_from_the_setting(client, settings, sandbox):
    task = sandbox.fetch(sandbox.task_sid("pending"))
    settings.TASKDECK_SEARCH_ATTRIBUTES = ["ticket_number"]
    html = client.get(search_url(q=task.attributes["ticket_number"])).content.decode()
    assert row_sids(html) == [task.sid]
    assert "ticket_number CONTAINS" in html_lib.unescape(html)


def test_search_and_attributes_match_must_both_hold(client, sandbox):
    task = sandbox.fetch(sandbox.task_sid("pending"))
    name, language = task.attributes["customer"]["name"], task.attributes["language"]
    where = f'language == "{language}"'
    html = client.get(search_url(q=name, where=where, size="1000")).content.decode()
    found = row_sids(html)
    assert task.sid in found
    everything = support_tasks()
    expected = [
        sid
        for sid, t in everything.items()
        if contains_text(t, name) and t.attributes.get("language") == language
    ]
    assert found == expected
    assert f"({where}) AND (" in html_lib.unescape(html)


def test_a_search_is_explicit_so_it_covers_every_status_not_only_open_work(client):
    html = client.get(search_url(q="Acme", size="1000")).content.decode()
    everything = support_tasks()
    expected = [sid for sid, t in everything.items() if contains_text(t, "Acme")]
    assert row_sids(html) == expected
    assert {everything[sid].assignment_status for sid in expected} - {
        "pending",
        "reserved",
        "assigned",
    }
    assert 'id="open-work"' not in html


def test_a_search_with_status_keeps_to_those_statuses(client):
    html = client.get(search_url(q="Acme", status="pending", size="1000")).content.decode()
    everything = support_tasks()
    assert row_sids(html) == [
        sid
        for sid, t in everything.items()
        if contains_text(t, "Acme") and t.assignment_status == "pending"
    ]


def test_a_search_is_a_link_that_opens_the_same_rows_with_or_without_htmx(client):
    url = "/w/Support/tasks/?" + "q=" + quote("Acme Corp")
    plain = client.get(url).content.decode()
    swapped = client.get(url, **HTMX).content.decode()
    assert row_sids(plain) == row_sids(swapped) != []
    assert 'value="Acme Corp"' in plain
    assert 'action="/w/Support/tasks/"' in plain and 'name="q"' in plain


# --- text that cannot be searched --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("""O'Brien said "hi\"""", "not both"),
        ("C:\\temp", "backslash"),
        ('ends with a backslash \\"', "backslash"),
        ("two\nlines", "line breaks"),
        ("x" * (search.SEARCH_MAX_CHARS + 1), f"at most {search.SEARCH_MAX_CHARS} characters"),
    ],
)
def test_text_taskrouter_cannot_take_as_it_is_gets_a_message_at_the_field_and_no_request(
    client, caplog, text, message
):
    caplog.set_level(logging.INFO, logger="tasks_app.taskrouter.client")
    response = client.get(search_url(q=text))
    html = response.content.decode()
    assert response.status_code == 400
    field = html[html.index('class="filter filter-q') : html.index('class="filter filter-status')]
    assert html_lib.escape(message, quote=False) in field or message in html_lib.unescape(field)
    assert tasks_read(caplog) == []
    assert 'id="search-expression"' not in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "O'Brien",
        'the "gold" plan',
        "100% & more ; -- DROP TABLE tasks",
        ") OR 1 == 1 OR (",
        '" OR 1 == 1 OR "',
    ],
)
def test_hostile_text_is_searched_for_literally_and_shown_escaped(client, text):
    response = client.get(search_url(q=text, size="1000"))
    html = response.content.decode()
    assert response.status_code == 200
    # Only the tasks that mention the text (O'Brien is a seeded name): nothing escaped the quotes.
    everything = support_tasks()
    assert row_sids(html) == [sid for sid, t in everything.items() if contains_text(t, text)]
    assert "<script>alert(1)" not in html
    shown = html_lib.unescape(re.search(r'id="search-expression">.*?<code>(.*?)</code>', html)[1])
    assert "customer.name CONTAINS " in shown and text in shown


@pytest.mark.parametrize(
    "text", ["O'Brien", 'say "hi"', "<b>&amp;</b>", "ünïcödé 名前", ") OR (", "' OR '"]
)
def test_the_expression_matches_exactly_the_text_typed(text):
    expression = search.search_expression(text)
    assert matches(expression, {"customer": {"name": f"before {text} after"}})
    assert matches(expression, {"subject": text})
    assert not matches(expression, {"customer": {"name": text[:-1]}, "other": text})
