"""`make bench`: its three sides measure the same request, the floor shows what the
dashboard shows (escaped), and its report does the arithmetic a reader would otherwise do by
hand."""

from __future__ import annotations

import base64
import re

import pytest
import requests
from django.http import QueryDict
from django.test import RequestFactory

from bench import floor
from bench.browser import ratios, render, trace_breakdown
from bench.cli import growth_verdict, refresh_verdict, render_report, verdict
from bench.measure import (
    REFRESH_HEADERS,
    WORKSPACE_NAME,
    dashboard_params,
    refresh_carriers,
    rows_header,
    sandbox_params,
)
from bench.stack import BenchError
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tasks_app.tables import TaskTable
from tasks_app.taskrouter import service


@pytest.fixture
def floor_upstream(loopback_sandbox, sandbox, monkeypatch):
    """The floor app pointed at the test's sandbox over loopback, as the bench points it."""
    source = floor.Upstream(
        base_url=loopback_sandbox.url,
        workspace_sid=sandbox.workspace_sid(WORKSPACE_NAME),
        auth=(DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token),
        secret=b"bench-test-secret",
    )
    monkeypatch.setattr(floor, "upstream", lambda: source)
    return source


def _recording_list_calls(monkeypatch) -> list:
    sent = []
    real_request = service.request

    def recording(method, path, **kwargs):
        if path.endswith("/Tasks"):
            sent.append(kwargs.get("params"))
        return real_request(method, path, **kwargs)

    monkeypatch.setattr(service, "request", recording)
    return sent


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", [50, 1000])
def test_the_raw_get_and_the_floor_make_exactly_the_call_the_table_page_makes(
    client, monkeypatch, page_size
):
    """(a) and (f) are only fair yardsticks for (b) if they make (b)'s own TaskRouter call."""
    sent = _recording_list_calls(monkeypatch)
    query = dashboard_params(page_size)
    response = client.get(f"/w/{WORKSPACE_NAME}/tasks/", query)

    assert response.status_code == 200
    assert sent == [sandbox_params(page_size)]
    floor_query = QueryDict(mutable=True)
    floor_query.update(query)
    assert floor.list_params(floor_query) == sent[0]


@pytest.mark.django_db
def test_the_floor_lists_the_same_tasks_in_the_same_order_as_the_table_page(client, floor_upstream):
    query = dashboard_params(50)
    page = client.get(f"/w/{WORKSPACE_NAME}/tasks/", query)
    floor_page = floor.task_table(RequestFactory().get("/tasks/", query))

    assert floor_page.status_code == 200
    assert len(_sids(floor_page.content.decode())) == 50
    assert _sids(floor_page.content.decode()) == _sids(page.content.decode())


def _sids(html: str) -> list[str]:
    return re.findall(r'<tr id="row-(WT[0-9a-f]{32})"', html)


def test_the_floor_shows_the_dashboards_default_columns():
    table = TaskTable([], workspace_slug=WORKSPACE_NAME)
    dashboard_columns = [
        (str(bound.header), bound.column.field or bound.name)
        for bound in table.columns
        if bound.name != "actions"
    ]

    assert [label for label, _field in floor.COLUMNS] == [label for label, _ in dashboard_columns]
    assert len(floor.COLUMNS) == len(dashboard_columns)


@pytest.mark.django_db
def test_the_floors_task_page_escapes_what_the_api_returned(sandbox, floor_upstream):
    sid = sandbox.task_sid("pending")
    sandbox.change(sid, attributes={"note": "<script>alert(1)</script>", "vip": True})
    task = sandbox.fetch(sid)

    page = floor.task_page(RequestFactory().get(f"/tasks/{sid}/"), sid).content.decode()

    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"<dd>{task.etag}</dd>" in page
    assert '"vip": true' in page.replace("&quot;", '"')  # pretty-printed, one key a line
    token = floor.version_token(floor_upstream.secret, sid, task.etag)
    assert f'name="token" value="{token}"' in page


# --- the report's arithmetic ----------------------------------------------------------------


def _summary(median_ms: float) -> dict[str, float | int]:
    return {"samples": 60, "median_ms": median_ms, "p90_ms": median_ms * 1.1, "min_ms": 1.0}


def _growth(small_b: float, large_b: float) -> dict:
    return growth_verdict(
        [
            {
                "workspace_tasks": 983,
                "a": _summary(6.0),
                "f": _summary(10.0),
                "b": _summary(small_b),
                "b_over_f": small_b / 10.0,
            },
            {
                "workspace_tasks": 99_762,
                "a": _summary(6.6),
                "f": _summary(10.2),
                "b": _summary(large_b),
                "b_over_f": large_b / 10.2,
            },
        ]
    )


def _result(views, refresh, growth) -> dict:
    return {
        "quick": False,
        "served_as": {"worker_class": "sync", "workers": 1, "threads": 1},
        "seed_tasks": 10_000,
        "workspace_tasks": 7_046,
        "samples": 60,
        "warmup": 10,
        "views": views,
        "refresh": refresh,
        "workspace_growth": growth,
    }


def test_a_view_is_judged_by_its_time_over_the_floors_not_over_the_raw_get():
    a, f = _summary(7.0), _summary(11.0)
    slower = verdict("table-50", "table, 50 rows", a, f, _summary(13.2), 1.15, {})
    faster = verdict("table-50", "table, 50 rows", a, f, _summary(12.1), 1.15, {})

    assert (slower["b_over_f"], slower["b_over_a"], slower["ok"]) == (1.2, 1.886, False)
    assert (faster["b_over_f"], faster["ok"]) == (1.1, True)
    assert faster["b_minus_f_ms"] == 1.1


def test_without_an_unchanged_answer_the_full_refresh_is_what_is_judged():
    refresh = refresh_verdict(
        full=_summary(20.0),
        full_bytes=61_000,
        unchanged=None,
        unchanged_bytes=None,
        carrier=None,
        floor_table=_summary(16.0),
    )

    assert (refresh["ratio"], refresh["wire_bytes"], refresh["ok"]) == (1.25, 61_000, False)


def test_an_unchanged_refresh_must_be_both_fast_and_small():
    def judged(ms: float, size: int) -> bool:
        return refresh_verdict(
            full=_summary(20.0),
            full_bytes=61_000,
            unchanged=_summary(ms),
            unchanged_bytes=size,
            carrier="If-None-Match: <ETag>",
            floor_table=_summary(16.0),
        )["ok"]

    assert judged(7.9, 300)
    assert not judged(8.1, 300)  # over half the floor's 16 ms
    assert not judged(5.0, 2_049)  # over 2 KB


def test_growth_with_the_workspace_is_judged_within_ten_percent():
    assert _growth(20.0, 21.9)["ok"]
    assert not _growth(20.0, 22.1)["ok"]
    assert _growth(20.0, 21.0)["floor_growth"] == 1.02


def test_the_report_prints_every_figure_beside_its_target_and_names_what_it_missed():
    a, f = _summary(7.0), _summary(11.0)
    views = [
        verdict("table-50", "table, 50 rows", a, f, _summary(14.3), 1.15, {}),
        verdict(
            "table-1000", "table, 1000 rows", _summary(80), _summary(120), _summary(96), 1.0, {}
        ),
        verdict("task", "task page", _summary(2.5), _summary(5.0), _summary(25.0), 1.3, {}),
    ]
    refresh = refresh_verdict(
        full=_summary(20.0),
        full_bytes=61_000,
        unchanged=_summary(4.0),
        unchanged_bytes=250,
        carrier="If-None-Match: <ETag>",
        floor_table=f,
    )
    result = _result(views, refresh, _growth(20.0, 20.4))
    result["dashboard_livez"] = _summary(2.0)
    report = render_report(result)

    assert "table, 50 rows" in report and "1.30  b/f <= 1.15 MISSED" in report
    # What the target leaves the page once gunicorn, the middleware and TaskRouter are paid.
    assert (
        "task page         2.0 + 2.5 = 4.5 ms = 0.90 x f; the target allows 6.5 ms, "
        "leaving 2.0 ms for the page (Taskdeck spends 20.5)"
    ) in report
    assert "0.80  b/f <= 1.0  OK" in report
    assert "5.00  b/f <= 1.3  MISSED" in report
    assert "unchanged, browser sends If-None-Match: <ETag>: 4.0 (4.4) ms, 250 bytes" in report
    assert "judged: 0.36 x the floor's table" in report
    assert "growth of b from 983 to 99,762 tasks: 1.02  target <= 1.1  OK" in report
    assert report.splitlines()[-1] == "MISSED: table, 50 rows; task page"


# --- finding the unchanged refresh ----------------------------------------------------------


def test_the_rows_header_keys_each_row_by_its_version_and_sid_in_order():
    rows = [("WT" + "0" * 24 + "0000000a", "ab12cd34"), ("WT" + "f" * 32, "00000000")]

    assert base64.b64decode(rows_header(rows)) == bytes.fromhex("ab12cd3e" + "ffffffff")
    assert rows_header(list(reversed(rows))) != rows_header(rows)


def _response(body: str, headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body.encode()
    response.headers.update(headers)
    return response


def test_the_bench_sends_back_what_the_table_declares_for_an_unchanged_refresh():
    page = _response('<body hx-headers=\'{"X-CSRFToken": "t"}\'><tbody id="task-rows">', {})
    fragment = _response(
        '<tbody id="task-rows" hx-headers=\'{"Taskdeck-Rows-Digest": "9f2c"}\' '
        'data-rows-digest="9f2c"><tr id="row-WT'
        + "0" * 32
        + '" data-sid="WT'
        + "0" * 32
        + '" data-version="ab12cd34">',
        {"ETag": '"9f2c"'},
    )

    carriers = {c.description: c for c in refresh_carriers(page, fragment)}

    assert carriers["hx-headers ['Taskdeck-Rows-Digest']"].headers == {
        "Taskdeck-Rows-Digest": "9f2c"
    }
    assert carriers["If-None-Match: <ETag>"].headers == {"If-None-Match": '"9f2c"'}
    assert carriers["param rows_digest"].params == {"rows_digest": "9f2c"}
    # ab12cd34 XOR the SID's last 8 hex digits (00000000), as 4 bytes, base64.
    assert carriers["Taskdeck-Rows: <row keys>"].headers == {"Taskdeck-Rows": "qxLNNA=="}
    # What the fragment itself declares is tried first.
    assert next(iter(carriers)) == "hx-headers ['Taskdeck-Rows-Digest']"
    assert REFRESH_HEADERS["HX-Target"] == "task-rows"


# --- the browser's breakdown ----------------------------------------------------------------


def test_the_browser_breakdown_counts_work_forced_inside_a_script_once_as_its_own_kind():
    main, other = {"pid": 1, "tid": 7}, {"pid": 1, "tid": 9}
    call = {"url": "http://127.0.0.1/static/js/taskdeck.js", "functionName": "merge"}
    events = [
        {**main, "ph": "M", "name": "thread_name", "args": {"name": "CrRendererMain"}},
        {
            **main,
            "ph": "X",
            "name": "FunctionCall",
            "ts": 0,
            "dur": 10_000,
            "args": {"data": {**call, "lineNumber": 12}},
        },
        {**main, "ph": "X", "name": "UpdateLayoutTree", "ts": 0, "dur": 3_000},
        {**main, "ph": "X", "name": "Layout", "ts": 6_000, "dur": 1_000},
        {**main, "ph": "X", "name": "ParseHTML", "ts": 20_000, "dur": 4_000},
        {**other, "ph": "X", "name": "Layout", "ts": 0, "dur": 50_000},  # not the page's thread
    ]

    totals = trace_breakdown(events)

    assert totals["script"] == 6.0
    assert (totals["style"], totals["layout"], totals["parse HTML"]) == (3.0, 1.0, 4.0)
    assert totals["script: merge taskdeck.js:12"] == 6.0
    assert totals["total"] == 14.0


def test_the_browser_breakdown_counts_the_cpu_a_thread_spent_not_the_time_it_waited():
    main = {"pid": 1, "tid": 7}
    events = [
        {**main, "ph": "M", "name": "thread_name", "args": {"name": "CrRendererMain"}},
        # 30 ms on the clock, 12 of them working: the machine was busy.
        {**main, "ph": "X", "name": "Layout", "ts": 0, "dur": 30_000, "tdur": 12_000},
        {**main, "ph": "X", "name": "UpdateLayoutTree", "ts": 40_000, "dur": 5_000},
    ]

    totals = trace_breakdown(events)

    assert (totals["layout"], totals["style"], totals["total"]) == (12.0, 5.0, 17.0)


def test_the_browser_breakdown_counts_only_the_work_before_the_page_was_usable():
    main = {"pid": 1, "tid": 7}
    usable = "bench: usable /w/Support/tasks/"
    events = [
        {**main, "ph": "M", "name": "thread_name", "args": {"name": "CrRendererMain"}},
        {**main, "ph": "X", "name": "Layout", "ts": 0, "dur": 4_000},
        {**main, "ph": "X", "name": "Paint", "ts": 5_000, "dur": 2_000},
        {**main, "ph": "R", "name": usable, "ts": 8_000},
        # Once the page is drawn: the time zone menu filled, the ages started.
        {**main, "ph": "X", "name": "FunctionCall", "ts": 9_000, "dur": 30_000},
        {**main, "ph": "R", "name": usable, "ts": 50_000},  # a later page at the same path
    ]

    totals = trace_breakdown(events, until=usable)

    assert (totals["layout"], totals["paint"], totals["total"]) == (4.0, 2.0, 6.0)
    assert "script" not in totals
    with pytest.raises(BenchError, match="no 'bench: settled' mark"):
        trace_breakdown(events, until="bench: settled")


def _navigation(total: float, elements: int, rows: int) -> dict:
    return {
        "server": 5.0,
        "receive": 1.0,
        "parse": total / 2,
        "scripts": 2.0,
        "paint": total / 4,
        "total": total,
        "elements": elements,
        "rows": rows,
    }


def test_the_browser_report_prints_taskdecks_time_over_the_floors_at_both_sizes():
    def result(size: int, floor: list[float], taskdeck: list[float]) -> dict:
        return {
            "size": size,
            "floor_server": [4.0] * len(floor),
            "floor_navigations": [_navigation(t, 11 * size + 19, size) for t in floor],
            "server": [9.0] * len(taskdeck),
            "navigations": [_navigation(t, 14 * size + 700, size) for t in taskdeck],
            "changes": [{"total": 90.0, "request": 20.0, "server": 15.0, "rows": size}],
            "traces": {
                "floor navigation": {"total": 20.0},
                "Taskdeck navigation": {"total": 50.0, "script: go taskdeck.js:3": 4.0},
            },
        }

    # Medians: the floor's 50 ms and 200 ms, Taskdeck's 70 ms (1.4x) and 400 ms (2x).
    results = [
        result(50, [40.0, 50.0, 90.0], [60.0, 70.0, 75.0]),
        result(1000, [200.0, 180.0, 260.0], [400.0, 390.0, 500.0]),
    ]

    assert ratios(results[0]) == {
        "floor_ms": 50.0,
        "taskdeck_ms": 70.0,
        "ratio": 1.4,
        "floor_elements": 569.0,
        "taskdeck_elements": 1400.0,
    }
    report = render(results, samples=3)
    assert "   50     50.0      70.0   1.40  <= 1.5   569 / 1,400   met" in report
    assert " 1000    200.0     400.0   2.00  <= 1.5   11,019 / 14,700   missed" in report
    assert "1000 rows, Taskdeck navigation" in report
    assert "floor 20.0 ms, Taskdeck 50.0 ms (2.50 x)" in report
    assert "go taskdeck.js:3" in report
