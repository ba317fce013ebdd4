"""``python -m bench --browser``: the task table in a real browser, beside the floor's.

One dashboard and one floor (`bench.floor`: the least a Django page can do to show the same
TaskRouter data) under gunicorn, as in the bench, over one 10,000-task sandbox, and Chromium
driven by Playwright (the system's ``/usr/bin/chromium``, or ``CHROMIUM_PATH``) at 1280x800.
Each round loads the floor's table and Taskdeck's, one after the other, each in a tab of its
own (the order alternating between rounds), so the machine's drift hits both alike. The yardstick is
Taskdeck's time to a usable table over the floor's (target: at most `TARGET` times, at 50
and at 1000 rows). For the 50- and 1000-row tables it reports:

* server: the page's own time, measured with plain HTTP requests beside the browser's;
* navigation to a usable table, for the floor and for Taskdeck, each from a blank document
  of its own site (`start_pages`), as a person moving between pages: from the navigation's start
  to the first frame painted after ``DOMContentLoaded`` (htmx and the page's script have run
  by then, so every control works), split by the browser's Navigation Timing into waiting
  for the server, receiving the page, parsing it into the DOM, the deferred scripts, and
  style, layout and paint; and Taskdeck's over the floor's (the ratio);
* a filter change to the table updated: from ticking a status filter to the first frame
  painted after htmx settled the new table, and the request's own share of it;
* the page's element count, the main driver of parse, style and layout time;
* for one traced navigation of each page and one traced filter change, the main thread's
  time by kind of work (script, HTML parsing, style, layout, paint, garbage collection).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.measure import WORKSPACE_NAME, dashboard_params
from bench.stack import BenchError, Stack, workspace_sid

SIZES = (50, 1000)
SEED_TASKS = 10_000
# The target: Taskdeck's table usable in at most this many times the floor's.
TARGET = 1.5
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Installed before any of the page's own scripts (through the DevTools protocol, so the
# page's Content-Security-Policy does not apply): marks the first frame painted after
# DOMContentLoaded, and the one after each htmx settle. The page says when it is usable
# through a console message, which reaches the bench as a DevTools event, so nothing is
# evaluated in the page while it is timed: waiting by polling it (Playwright's
# wait_for_function) put a script on its main thread just before the first frame.
# The same moments are marked in the page's performance timeline, so a trace counts only
# the work done on the way to them (`trace_breakdown`'s ``until``), not what the page does
# once it is drawn and idle.
_USABLE = "bench: usable"
_SETTLED = "bench: settled"
_MARKS = """
window.__bench = {settled: []};
document.addEventListener("DOMContentLoaded", () => {
  requestAnimationFrame(() => setTimeout(() => {
    window.__bench.usable = performance.now();
    // Counted here: what the page adds once it is drawn and idle is not on the way.
    window.__bench.elements = document.getElementsByTagName("*").length;
    const usable = USABLE + " " + location.pathname;  // not the start page's
    performance.mark(usable);
    console.debug(usable);
  }));
});
document.addEventListener("htmx:afterSettle", () => {
  requestAnimationFrame(() => setTimeout(() => {
    window.__bench.settled.push(performance.now());
    performance.mark(SETTLED);
    const waiting = window.__bench.waiting;
    window.__bench.waiting = null;
    if (waiting) waiting();
  }));
});
""".replace("USABLE", json.dumps(_USABLE)).replace("SETTLED", json.dumps(_SETTLED))

_NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return {
    server: n.responseStart - n.requestStart,
    receive: n.responseEnd - n.responseStart,
    parse: n.domInteractive - n.responseEnd,
    scripts: n.domContentLoadedEventEnd - n.domInteractive,
    paint: window.__bench.usable - n.domContentLoadedEventEnd,
    total: window.__bench.usable,
    elements: window.__bench.elements,
    rows: document.querySelectorAll("tr[id^=row-]").length,
  };
}"""

# Ticks (or unticks) one status filter and resolves when the table has been redrawn.
_FILTER_CHANGE = """async (status) => {
  const before = window.__bench.settled.length;
  performance.clearResourceTimings();
  // Resolved by the first settle after the click: no polling on the way.
  const settled = new Promise((resolve) => { window.__bench.waiting = resolve; });
  const started = performance.now();
  document.getElementById("status-" + status).click();
  await settled;
  const request = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/tasks/")).pop();
  return {
    total: window.__bench.settled[before] - started,
    request: request ? request.responseEnd - request.startTime : null,
    server: request ? request.responseStart - request.requestStart : null,
    rows: document.querySelectorAll("tr[id^=row-]").length,
  };
}"""


# Chromium's trace events on the page's main thread -> the kind of work they are.
_TRACE_KINDS = {
    "ParseHTML": "parse HTML",
    "EvaluateScript": "script",
    "FunctionCall": "script",
    "TimerFire": "script",
    "EventDispatch": "script",
    "FireAnimationFrame": "script",
    "v8.compile": "script",
    "v8.callFunction": "script",
    "UpdateLayoutTree": "style",
    "ParseAuthorStyleSheet": "style",
    "Layout": "layout",
    "PrePaint": "paint",
    "Paint": "paint",
    "Layerize": "paint",
    "Commit": "paint",
    "MinorGC": "garbage collection",
    "MajorGC": "garbage collection",
    "BlinkGC.AtomicPhase": "garbage collection",
}
_TRACE_CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8",
    "blink_gc",
    "blink.user_timing",
]


def trace_breakdown(events: list[dict[str, Any]], *, until: str | None = None) -> dict[str, float]:
    """Milliseconds of each kind of work on the renderer's main thread, each event counted
    without the tracked events nested inside it (a style recalculation forced by a script
    counts as style, not twice). Thread time (``tdur``: the CPU the thread spent) where
    Chromium records it, else wall time: on a busy machine a page waiting for a core is
    not working. ``total`` is the sum of every kind. With ``until`` (a performance mark's
    name), only the work begun before that mark's first appearance: what it took to get
    there."""
    if until is not None:
        marks = [e["ts"] for e in events if e.get("name") == until]
        if not marks:
            raise BenchError(f"the trace has no {until!r} mark")
        cutoff = min(marks)
        events = [e for e in events if e.get("ph") != "X" or e["ts"] < cutoff]
    main = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    # By start, and the longer first when two start together: it is the outer one.
    spans = sorted(
        (
            (
                e["ts"],
                e["ts"] + e.get("dur", 0),
                _TRACE_KINDS[e["name"]],
                _source(e),
                e.get("tdur", e.get("dur", 0)),
            )
            for e in events
            if e.get("ph") == "X" and e.get("name") in _TRACE_KINDS and (e["pid"], e["tid"]) in main
        ),
        key=lambda span: (span[0], -span[1]),
    )
    totals: dict[str, float] = {}
    stack: list[list[Any]] = []  # [end, kind, own time, source]

    def close(frame: list[Any]) -> None:
        totals[frame[1]] = totals.get(frame[1], 0.0) + frame[2] / 1000
        totals["total"] = totals.get("total", 0.0) + frame[2] / 1000
        if frame[1] == "script" and frame[3]:
            key = f"script: {frame[3]}"
            totals[key] = totals.get(key, 0.0) + frame[2] / 1000

    for start, end, kind, source, spent in spans:
        while stack and stack[-1][0] <= start:
            close(stack.pop())
        if stack:
            stack[-1][2] -= spent
        stack.append([end, kind, spent, source])
    while stack:
        close(stack.pop())
    return totals


def _source(event: dict[str, Any]) -> str:
    """Which script a script event ran: function and file:line, or the DOM event's type."""
    data = event.get("args", {}).get("data") or {}
    url = str(data.get("url") or "").rsplit("/", 1)[-1].split("?")[0]
    if url:
        name = data.get("functionName") or "(top level)"
        return f"{name} {url}:{data.get('lineNumber', '?')}"
    return f"{data['type']} event" if data.get("type") else ""


def _traced(browser: Any, page: Any, action: Callable[[], Any], *, until: str) -> dict[str, float]:
    browser.start_tracing(page=page, categories=_TRACE_CATEGORIES)
    try:
        action()
    finally:
        raw = browser.stop_tracing()
    data = json.loads(raw)
    return trace_breakdown(data["traceEvents"] if isinstance(data, dict) else data, until=until)


# Each page has a tab of its own, and each navigation starts from a document of the page's
# own site, as a person moving between the pages of a site they keep open. Taskdeck's
# pages send Cross-Origin-Opener-Policy: same-origin (Django's default) and the floor's
# send no header at all, and Chromium gives a navigation that crosses that line a new
# renderer process, as it does a new tab opened from another site:
# - from about:blank, every navigation to Taskdeck did (the same HTML, served alike, took
#   185 ms instead of 88 with the header). So Taskdeck's start from one of its static
#   files, which carries the same header.
# - In one tab shared by both pages, every navigation to Taskdeck after the floor's still
#   crossed it on the way to that file: half of Taskdeck's loads ran in a new process, 30
#   to 60 ms slower than the others, so the medians measured the process model again.
#   Each in its own tab, both pages keep their process, and the rounds still alternate
#   between them, so the machine's drift hits both alike.
def start_pages(floor_url: str, dashboard_url: str) -> dict[str, str]:
    return {"floor": "about:blank", "taskdeck": f"{dashboard_url}/static/favicon.svg"}


def run_browser(*, samples: int, progress: Callable[[str], None]) -> int:
    from playwright.sync_api import sync_playwright

    with Stack() as stack:
        progress(f"seeding a sandbox with {SEED_TASKS:,} tasks, preparing the dashboard")
        sandbox = stack.start_sandbox("main", seed_tasks=SEED_TASKS)
        stack.wait_preparation(stack.start_preparation())
        stack.wait_sandbox(sandbox)
        dashboard = stack.wait_dashboard(stack.start_dashboard("main", sandbox))
        floor = stack.start_floor("main", sandbox, workspace_sid(sandbox.url, WORKSPACE_NAME))
        floor = stack.wait_dashboard(floor, path="/tasks/?size=1")
        urls = {
            "floor": f"{floor.url}/tasks/",
            "taskdeck": f"{dashboard.url}/w/{WORKSPACE_NAME}/tasks/",
        }
        starts = start_pages(floor.url, dashboard.url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium",
                args=CHROMIUM_ARGS,
            )
            try:
                context = browser.new_context(viewport=VIEWPORT)
                context.add_init_script(_MARKS)
                tabs = {side: context.new_page() for side in urls}
                results = [
                    _measure_size(tabs, urls, starts, size, samples=samples, progress=progress)
                    for size in SIZES
                ]
                for result in results:
                    result["traces"] = _trace_size(browser, tabs, urls, starts, result["size"])
            finally:
                browser.close()
    print(render(results, samples))
    return 0


def _measure_size(
    tabs: dict[str, Any],
    urls: dict[str, str],
    starts: dict[str, str],
    size: int,
    *,
    samples: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    full_urls = {
        side: requests.Request("GET", url, params=dashboard_params(size)).prepare().url
        for side, url in urls.items()
    }
    progress(
        f"{size} rows: {samples} navigations of each page, interleaved, "
        f"and {samples * 2} filter changes"
    )
    navigations: dict[str, list[dict[str, Any]]] = {"floor": [], "taskdeck": []}
    server: dict[str, list[float]] = {"floor": [], "taskdeck": []}
    changes = []
    session = requests.Session()
    for round_number in range(samples + 1):  # the first round warms caches, unrecorded
        # Alternate which page goes first, so neither always follows the other's garbage.
        order = ("floor", "taskdeck") if round_number % 2 else ("taskdeck", "floor")
        for side in order:
            elapsed = _server_time(session, full_urls[side])
            timing = _navigate(tabs[side], full_urls[side], size, start=starts[side])
            if round_number:
                server[side].append(elapsed)
                navigations[side].append(timing)
            if side == "taskdeck":
                # Untick "assigned", then tick it again: two real filter changes, each
                # redrawing the table through htmx as a person's click would.
                pair = [tabs[side].evaluate(_FILTER_CHANGE, "assigned") for _ in range(2)]
                if round_number:
                    changes += pair
    return {
        "size": size,
        "server": server["taskdeck"],
        "navigations": navigations["taskdeck"],
        "floor_server": server["floor"],
        "floor_navigations": navigations["floor"],
        "changes": changes,
    }


def _server_time(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    answer = session.get(url, timeout=60)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise BenchError(f"{url} answered {answer.status_code}")
    return elapsed * 1000


def _navigate(page: Any, url: str, size: int, *, start: str | None) -> dict[str, Any]:
    if start:  # so neither page's time includes tearing down the other's
        page.goto(start)
    usable = _usable_mark(url)
    with page.expect_console_message(lambda message: message.text == usable, timeout=60_000):
        page.goto(url, wait_until="load")
    timing = page.evaluate(_NAVIGATION)
    if timing["rows"] != size:
        raise BenchError(f"the browser shows {timing['rows']} rows of {url}, not {size}")
    return timing


def _usable_mark(url: str) -> str:
    """The mark and console message of `_MARKS` once the page at ``url`` is usable."""
    return f"{_USABLE} {urlsplit(url).path}"


def _trace_size(
    browser: Any, tabs: dict[str, Any], urls: dict[str, str], starts: dict[str, str], size: int
) -> dict[str, dict[str, float]]:
    """One traced navigation of each page and one traced filter change: where the main
    thread's time went on the way to a usable (or redrawn) table, by kind of work."""
    full_urls = {
        side: requests.Request("GET", url, params=dashboard_params(size)).prepare().url
        for side, url in urls.items()
    }
    traced = {}
    for side, url in full_urls.items():
        page = tabs[side]
        page.goto(starts[side])
        traced[side] = _traced(
            browser,
            page,
            lambda page=page, url=url: _navigate(page, url, size, start=None),
            until=_usable_mark(url),
        )
    taskdeck = tabs["taskdeck"]
    change = _traced(
        browser,
        taskdeck,
        lambda: taskdeck.evaluate(_FILTER_CHANGE, "assigned"),
        until=_SETTLED,
    )
    return {
        "floor navigation": traced["floor"],
        "Taskdeck navigation": traced["taskdeck"],
        "filter change": change,
    }


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Taskdeck's median time to a usable table over the floor's, and the element counts
    of both pages."""
    floor, taskdeck = result["floor_navigations"], result["navigations"]
    return {
        "floor_ms": _median(floor, "total"),
        "taskdeck_ms": _median(taskdeck, "total"),
        "ratio": _median(taskdeck, "total") / _median(floor, "total"),
        "floor_elements": _median(floor, "elements"),
        "taskdeck_elements": _median(taskdeck, "elements"),
    }


def _median(rows: list[dict[str, Any]], key: str) -> float:
    values = [row[key] for row in rows if row.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def render(results: list[dict[str, Any]], samples: int) -> str:
    lines = [
        f"The task table in Chromium at {VIEWPORT['width']}x{VIEWPORT['height']} (medians of "
        f"{samples}; ms), the floor's page and Taskdeck's loaded in turn, each in its own tab. "
        "Usable: navigation start to the first frame after DOMContentLoaded.",
        "",
        f"{'rows':>5} {'floor':>8} {'Taskdeck':>9} {'ratio':>6} {'target':>7}   "
        "elements (floor / Taskdeck)",
    ]
    for result in results:
        r = ratios(result)
        verdict = "met" if r["ratio"] <= TARGET else "missed"
        lines.append(
            f"{result['size']:>5} {r['floor_ms']:>8.1f} {r['taskdeck_ms']:>9.1f} "
            f"{r['ratio']:>6.2f} {'<= ' + format(TARGET, '.1f'):>7}   "
            f"{r['floor_elements']:,.0f} / {r['taskdeck_elements']:,.0f}   {verdict}"
        )
    for result in results:
        traces = result.get("traces", {})
        floor, taskdeck = (
            traces.get(f"{side} navigation", {}).get("total") for side in ("floor", "Taskdeck")
        )
        if floor and taskdeck:
            lines.append(
                f"{result['size']:>5} rows, the main thread's CPU time in one traced load of "
                f"each: floor {floor:.1f} ms, Taskdeck {taskdeck:.1f} ms ({taskdeck / floor:.2f} x)"
            )
    lines += [
        "",
        "Split by Navigation Timing. Server: the page by plain HTTP; then server wait, "
        "receiving, parsing, deferred scripts, style+layout+paint.",
        "",
        f"{'':>14} {'server':>7} {'usable':>7} = {'wait':>6} {'recv':>6} {'parse':>6} "
        f"{'script':>6} {'paint':>6}   filter change (request)",
    ]
    for result in results:
        for side, nav, server in (
            ("floor", result["floor_navigations"], result["floor_server"]),
            ("Taskdeck", result["navigations"], result["server"]),
        ):
            changes = result["changes"] if side == "Taskdeck" else []
            change = (
                f"{_median(changes, 'total'):.1f} ({_median(changes, 'request'):.1f})"
                if changes
                else ""
            )
            lines.append(
                f"{str(result['size']) + ' ' + side:>14} {statistics.median(server):>7.1f} "
                f"{_median(nav, 'total'):>7.1f} = {_median(nav, 'server'):>6.1f} "
                f"{_median(nav, 'receive'):>6.1f} {_median(nav, 'parse'):>6.1f} "
                f"{_median(nav, 'scripts'):>6.1f} {_median(nav, 'paint'):>6.1f}   {change}"
            )
    kinds = ("total", "script", "parse HTML", "style", "layout", "paint", "garbage collection")
    lines += [
        "",
        "Main thread, one traced run each (ms of the thread's own CPU time; each kind without "
        "what is nested in it; GC: garbage collection):",
        f"{'':<32}"
        + "".join(f"{kind if kind != 'garbage collection' else 'GC':>11}" for kind in kinds),
    ]
    for result in results:
        for what, totals in result.get("traces", {}).items():
            lines.append(
                f"{str(result['size']) + ' rows, ' + what:<32}"
                + "".join(f"{totals.get(kind, 0.0):>11.1f}" for kind in kinds)
            )
    for result in results:
        for what, totals in result.get("traces", {}).items():
            scripts = sorted(
                ((k, v) for k, v in totals.items() if k.startswith("script: ")),
                key=lambda item: -item[1],
            )[:5]
            if scripts:
                lines.append(f"scripts of {result['size']} rows, {what} (ms, top 5):")
                lines += [f"  {ms:8.1f}  {name[len('script: ') :]}" for name, ms in scripts]
    return "\n".join(lines)
