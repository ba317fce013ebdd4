"""The task table's live refresh, as the browser asks for it (static/js/taskdeck.js): it
says which rows it shows (``Taskdeck-Rows``), and gets nothing back when they are still
the page's rows, or only the rows it lacks plus the page's order when they are not."""

from __future__ import annotations

import re

import pytest

from tasks_app import live

pytestmark = pytest.mark.django_db

URL = "/w/Support/tasks/?status=pending"
REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "task-rows"}
ROW = re.compile(r'<tr id="row-(\w+)" data-sid="\w+" data-version="([0-9a-f]{8})"')


def shown_rows(html: str) -> list[tuple[str, str]]:
    """(SID, data-version) of each row, in order, as the browser reads them."""
    return ROW.findall(html)


def rows_header(rows: list[tuple[str, str]]) -> str:
    return live.encode_keys([live.row_key(sid, version) for sid, version in rows])


def wire_bytes(response) -> int:
    """What the answer costs on the wire: status line, headers and body."""
    status_line = f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n"
    return len(status_line.encode()) + len(response.serialize())


def refresh(client, rows: list[tuple[str, str]], url: str = URL):
    return client.get(url, HTTP_TASKDECK_ROWS=rows_header(rows), **REFRESH)


def test_a_refresh_of_an_unchanged_50_row_table_answers_204_with_no_body_within_2_kb(client):
    page = client.get(URL)
    rows = shown_rows(page.content.decode())
    assert len(rows) == 50

    response = refresh(client, rows)

    assert response.status_code == 204
    assert response.content == b""
    header = rows_header(rows)
    assert wire_bytes(response) + len(f"Taskdeck-Rows: {header}\r\n") <= 2048
    assert wire_bytes(response) * 20 < wire_bytes(page)
    # The browser still learns when TaskRouter was asked, for "as of ... (5 s ago)".
    assert response[live.READ_AT_HEADER].startswith("20")


def test_a_changed_task_comes_back_alone_with_the_order_of_every_row(client, sandbox):
    rows = shown_rows(client.get(URL).content.decode())
    sid = rows[3][0]
    task = sandbox.fetch(sid)
    sandbox.change(sid, attributes={**task.attributes, "subject": "Changed by a colleague"})

    response = refresh(client, rows)

    assert response.status_code == 200
    html = response.content.decode()
    sent = shown_rows(html)
    assert [s for s, _ in sent] == [sid]
    assert sent[0][1] != rows[3][1]
    order = re.search(r'data-order="([^"]*)"', html).group(1).split()
    assert order == [s for s, _ in rows]
    assert "Changed by a colleague" not in html  # the subject is not a column here
    assert wire_bytes(response) < 4096


def test_a_task_that_left_the_view_drops_out_of_the_order_and_its_successor_comes_in(
    client, sandbox
):
    rows = shown_rows(client.get(URL).content.decode())
    leaving = rows[0][0]
    sandbox.change(leaving, assignment_status="canceled", reason="tests")

    html = refresh(client, rows).content.decode()

    order = re.search(r'data-order="([^"]*)"', html).group(1).split()
    assert leaving not in order
    assert order[:49] == [s for s, _ in rows[1:]]
    # Only the task that moved up onto the page travels (if there is one).
    assert [s for s, _ in shown_rows(html)] == order[49:]


def test_rows_in_a_new_order_are_not_reported_unchanged(client):
    rows = shown_rows(client.get(URL).content.decode())
    response = refresh(client, list(reversed(rows)))
    assert response.status_code == 200
    html = response.content.decode()
    assert shown_rows(html) == []  # every row is known: only the order travels
    order = re.search(r'data-order="([^"]*)"', html).group(1).split()
    assert order == [s for s, _ in rows]


def test_a_refresh_that_does_not_say_what_it_has_or_says_it_unreadably_gets_every_row(client):
    rows = shown_rows(client.get(URL).content.decode())
    for extra in ({}, {"HTTP_TASKDECK_ROWS": "not base64!"}, {"HTTP_TASKDECK_ROWS": "AAA="}):
        response = client.get(URL, **REFRESH, **extra)
        assert response.status_code == 200
        assert shown_rows(response.content.decode()) == rows


def test_the_answer_varies_with_what_the_browser_has(client):
    rows = shown_rows(client.get(URL).content.decode())
    assert "Taskdeck-Rows" in refresh(client, rows)["Vary"]
