"""`make bench`: its two sides measure the same request, and its report does the arithmetic
a reader would otherwise do by hand."""

from __future__ import annotations

import pytest

from bench.cli import page_budget, render_report
from bench.measure import WORKSPACE_NAME, dashboard_params, sandbox_params
from tasks_app.taskrouter import service


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", [50, 1000])
def test_the_raw_get_is_exactly_the_call_the_table_page_makes(client, monkeypatch, page_size):
    """(a) is only a fair yardstick for (b) if it is (b)'s own TaskRouter call."""
    sent = []
    real_request = service.request

    def recording(method, path, **kwargs):
        if path.endswith("/Tasks"):
            sent.append(kwargs.get("params"))
        return real_request(method, path, **kwargs)

    monkeypatch.setattr(service, "request", recording)
    response = client.get(f"/w/{WORKSPACE_NAME}/tasks/", dashboard_params(page_size))

    assert response.status_code == 200
    assert sent == [sandbox_params(page_size)]


def _summary(median_ms: float) -> dict[str, float | int]:
    return {"samples": 60, "median_ms": median_ms, "p90_ms": median_ms * 1.1, "min_ms": 1.0}


def _page(size: int, a: float, b: float, target: float) -> dict:
    return {
        "page_size": size,
        "a": _summary(a),
        "b": _summary(b),
        "ratio": round(b / a, 3),
        "shared": _summary(a),
        "shared_ratio": 1.0,
        "target": target,
        "ok": b / a <= target,
    }


def test_the_report_says_what_the_target_leaves_for_the_page_once_the_floor_is_paid():
    pages = [_page(50, a=6.4, b=16.2, target=1.5), _page(1000, a=70.2, b=114.4, target=2.0)]
    floor = {"path": "/livez", **_summary(2.5)}
    budget = page_budget(pages[0], floor)
    assert budget == {
        "page_size": 50,
        "allowed_ms": 9.6,
        "floor_plus_a_ms": 8.9,
        "left_for_page_ms": 0.7,
        "page_work_ms": 7.3,
    }
    growth = {
        "page_size": 50,
        "sizes": [
            {"workspace_tasks": 983, "a": _summary(5.8), "b": _summary(16.8), "ratio": 2.9},
            {"workspace_tasks": 99_762, "a": _summary(6.1), "b": _summary(15.9), "ratio": 2.6},
        ],
        "growth": 0.95,
        "sandbox_growth": 1.05,
        "target": 1.25,
        "ok": True,
    }
    report = render_report(
        {
            "quick": False,
            "seed_tasks": 10_000,
            "workspace_tasks": 7_046,
            "warmup": 10,
            "pages": pages,
            "dashboard_floor": floor,
            "budget": budget,
            "workspace_growth": growth,
        }
    )
    assert "at 50 rows the target allows (b) 9.6 ms" in report
    assert "/livez + (a) = 8.9 ms before any work of the page, leaving 0.7 ms" in report
    assert "it took 7.3 ms" in report
    assert report.splitlines()[-1] == "MISSED: b/a at 50 rows"
