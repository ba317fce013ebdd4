"""``python -m bench``: options, the run itself, and the report."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.measure import (
    DASHBOARD_SORT,
    STATUSES,
    WORKSPACE_NAME,
    Probe,
    Summary,
    check_same_rows,
    dashboard_probe,
    find_unchanged_refresh,
    floor_probe_table,
    livez_probe,
    refresh_probe,
    sample,
    sandbox_probe,
    task_probes,
)
from bench.search import render as render_search
from bench.stack import (
    SANDBOX_AUTH,
    SERVED_AS,
    BenchError,
    Dashboard,
    Sandbox,
    Stack,
    count_tasks,
    workspace_sid,
)
from tasks_app.sandbox.seed import SUPPORT

PAGE_SIZES = (50, 1000)
# The issue's targets, as the most the dashboard's page (b) may take over the floor's (f).
TABLE_TARGETS = {50: 1.15, 1000: 1.0}
TASK_PAGE_TARGET = 1.3
# An unchanged live refresh: at most this share of the floor's 50-row table, and this many
# bytes on the wire.
REFRESH_PAGE_SIZE = 50
REFRESH_TARGET_RATIO = 0.5
REFRESH_TARGET_BYTES = 2048
# The same page in a 1,000- and a 100,000-task workspace: within 10%.
GROWTH_PAGE_SIZE = 50
GROWTH_TOLERANCE = 1.10
MAIN_SEED_TASKS = 10_000
SHARED_READ_SECONDS = 2.0


@dataclass(frozen=True)
class Plan:
    samples: int
    warmup: int
    workspace_sizes: tuple[int, int]
    quick: bool


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Measure Taskdeck's pages (b) against the floor (f: the least a Django page can "
            "do to show the same data, served the same way) and TaskRouter's raw GET (a, the "
            "sandbox), interleaved, on loopback. Prints medians, p90s, b/f and b/a beside "
            "the targets, then one JSON line with every number."
        ),
    )
    parser.add_argument(
        "--samples",
        type=int,
        help="recorded requests per measurement (default 60; 10 with --quick; 20 with --profile; "
        "7 with --browser)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke check: fewer samples, and 10,000 instead of 100,000 tasks for the "
        "large workspace",
    )
    parser.add_argument(
        "--json", action="store_true", help="print only the JSON line on stdout (no table)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the benchmark: profile the dashboard in-process (cProfile) and print "
        "where the time goes, for the task table and for one task's page",
    )
    parser.add_argument(
        "--page",
        choices=("table", "task", "both"),
        default="both",
        help="with --profile: which page to profile (default both)",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=1000,
        help="with --profile: the table's page size (default 1000; 50 shows the fixed cost)",
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="instead of the benchmark: time the table in Chromium (navigation to a usable "
        "table at 50 and 1000 rows, a filter change to the table updated) beside the "
        "page's server time",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="instead of the benchmark: how far the task index runs behind TaskRouter (the "
        "follower's lag at 20 events/s) and how long a killed follower takes to be replaced",
    )
    parser.add_argument(
        "--cache-url",
        default="",
        metavar="URL",
        help="the dashboards' cache, as CACHE_URL: redis://host:port/db measures Taskdeck "
        "as it runs at scale (default: each worker's local memory)",
    )
    search = parser.add_argument_group("the search section (bench/search.py)")
    search.add_argument(
        "--search-only",
        action="store_true",
        help="measure only search over the task index, on SQLite and PostgreSQL",
    )
    search.add_argument(
        "--search-tasks",
        type=int,
        help="indexed tasks to search (default 100,000; 10,000 with --quick)",
    )
    search.add_argument(
        "--search-samples",
        type=int,
        help="searches timed per database (default 220; 55 with --quick)",
    )
    search.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        metavar="URL",
        help="a PostgreSQL server and a role that may create databases (default %(default)s)",
    )
    search.add_argument(
        "--search-database",
        default="search_bench",
        metavar="NAME",
        help="the database created on it for the search section, dropped afterwards "
        "(default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.cache_url and not args.cache_url.startswith(("redis://", "rediss://")):
        parser.error("--cache-url must be a redis:// URL")
    if args.samples is not None and args.samples < 1:
        parser.error("--samples must be at least 1")
    if not 1 <= args.page_size <= 1000:
        parser.error("--page-size must be between 1 and 1000")
    return args


def plan_for(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan(
            samples=args.samples or 10, warmup=3, workspace_sizes=(1_000, 10_000), quick=True
        )
    return Plan(
        samples=args.samples or 60, warmup=10, workspace_sizes=(1_000, 100_000), quick=False
    )


def progress(message: str) -> None:
    """Progress goes to stderr: stdout is the report (or only JSON)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a CI timeout, `kill`) takes the same clean-up path as Ctrl-C.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.profile:
            from bench.profiling import run_profile

            return run_profile(
                samples=args.samples or 20,
                page_size=args.page_size,
                pages=("table", "task") if args.page == "both" else (args.page,),
                seed_tasks=MAIN_SEED_TASKS,
                progress=progress,
                cache_url=args.cache_url,
            )
        if args.follow:
            from bench.follow import render_follow, run_follow

            result = run_follow(progress=progress)
            if not args.json:
                print(render_follow(result))
            print(json.dumps(result, separators=(",", ":")))
            return 1 if args.strict and not result["ok"] else 0
        if args.browser:
            from bench.browser import run_browser

            return run_browser(samples=args.samples or 7, progress=progress)
        plan = plan_for(args)
        started = time.monotonic()
        if args.search_only:
            result = {"bench": "taskdeck-search", "quick": plan.quick}
        else:
            with Stack(cache_url=args.cache_url) as stack:
                result = run(stack, plan)
            result["cache"] = _cache_label(args.cache_url)
        result["search"] = run_search(args, plan)
        result["ok"] = result.get("ok", True) and result["search"]["ok"]
        result["elapsed_s"] = round(time.monotonic() - started, 1)
    except KeyboardInterrupt:
        progress("interrupted; every process and temporary file was cleaned up")
        return 130
    except BenchError as error:
        progress(f"FAILED: {error}")
        return 2
    if not args.json:
        print(render_report(result) if "views" in result else render_search_report(result))
    print(json.dumps(result, separators=(",", ":")))
    sys.stdout.flush()
    progress(f"finished in {result['elapsed_s']:.1f} s")
    if args.strict and not result["ok"]:
        return 1
    return 0


def run_search(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    from bench.search import measure_search

    return measure_search(
        tasks=args.search_tasks or (10_000 if plan.quick else 100_000),
        samples=args.search_samples or (55 if plan.quick else 220),
        postgres_url=args.postgres_url,
        database=args.search_database,
        progress=progress,
    )


def _cache_label(cache_url: str) -> str:
    """The cache the dashboards used, for the report (no password: only scheme and host)."""
    if not cache_url:
        return "local memory"
    parts = urlsplit(cache_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def seed_for_workspace(size: int) -> int:
    """How many tasks to seed so the Support workspace holds about ``size`` (the seed gives
    it a fixed share of all tasks; the exact count is read back and reported)."""
    return math.ceil(size / SUPPORT.share)


# --- the arithmetic -------------------------------------------------------------------------


def compare(
    view: str, label: str, times: dict[str, list[float]], probes: dict[str, Probe], target: float
) -> dict[str, Any]:
    """One view's line: the medians of (a), (f) and (b), b/f against its target, b/a."""
    a, f, b = (Summary.of(times[probes[side].name]) for side in "afb")
    return verdict(
        view,
        label,
        a.as_dict(),
        f.as_dict(),
        b.as_dict(),
        target,
        {side: probes[side].bytes for side in "afb"},
    )


def verdict(
    view: str,
    label: str,
    a: dict[str, Any],
    f: dict[str, Any],
    b: dict[str, Any],
    target: float,
    bytes_: dict[str, int],
) -> dict[str, Any]:
    b_over_f = b["median_ms"] / f["median_ms"]
    return {
        "view": view,
        "label": label,
        "a": a,
        "f": f,
        "b": b,
        "b_over_f": round(b_over_f, 3),
        "b_over_a": round(b["median_ms"] / a["median_ms"], 3),
        "f_over_a": round(f["median_ms"] / a["median_ms"], 3),
        "b_minus_f_ms": round(b["median_ms"] - f["median_ms"], 3),
        "target": target,
        "ok": b_over_f <= target,
        "bytes": bytes_,
    }


def refresh_verdict(
    *,
    full: dict[str, Any],
    full_bytes: int,
    unchanged: dict[str, Any] | None,
    unchanged_bytes: int | None,
    carrier: str | None,
    floor_table: dict[str, Any],
    unchanged_shared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The unchanged live refresh against at most 0.5 x the floor's table and 2 KB. Without an
    answer for "nothing changed" in this build, the refresh it does (all rows) is judged.
    ``unchanged_shared``: the same refresh with shared reads on, as deployed (reported, not
    judged: it is answered from the read another viewer of the view just made)."""
    judged, judged_bytes = (unchanged, unchanged_bytes) if unchanged else (full, full_bytes)
    assert judged_bytes is not None
    ratio = judged["median_ms"] / floor_table["median_ms"]
    return {
        "unchanged_shared": unchanged_shared,
        "shared_ratio": (
            round(unchanged_shared["median_ms"] / floor_table["median_ms"], 3)
            if unchanged_shared
            else None
        ),
        "page_size": REFRESH_PAGE_SIZE,
        "full": full,
        "full_bytes": full_bytes,
        "unchanged": unchanged,
        "unchanged_bytes": unchanged_bytes,
        "carrier": carrier,
        "floor_table": floor_table,
        "ratio": round(ratio, 3),
        "wire_bytes": judged_bytes,
        "target_ratio": REFRESH_TARGET_RATIO,
        "target_bytes": REFRESH_TARGET_BYTES,
        "ok": ratio <= REFRESH_TARGET_RATIO and judged_bytes <= REFRESH_TARGET_BYTES,
    }


def _least_page_lines(result: dict[str, Any]) -> list[str]:
    """What any Taskdeck page costs before it does anything of its own (/livez: gunicorn
    and the middleware, plus the page's one TaskRouter call, a), and what that leaves of
    each target for the page itself."""
    livez = result["dashboard_livez"]["median_ms"]
    lines = ["least a Taskdeck page can cost (/livez + a), and what each target leaves:"]
    for view in result["views"]:
        least = livez + view["a"]["median_ms"]
        budget = view["target"] * view["f"]["median_ms"]
        spent = view["b"]["median_ms"] - least
        lines.append(
            f"  {view['label']:<17} {livez:.1f} + {view['a']['median_ms']:.1f} = {least:.1f} ms "
            f"= {least / view['f']['median_ms']:.2f} x f; the target allows {budget:.1f} ms, "
            f"leaving {budget - least:.1f} ms for the page (Taskdeck spends {spent:.1f})"
        )
    return lines


def growth_verdict(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    small, large = sizes[0], sizes[-1]
    growth = large["b"]["median_ms"] / small["b"]["median_ms"]
    return {
        "page_size": GROWTH_PAGE_SIZE,
        "sizes": sizes,
        "growth": round(growth, 3),
        "floor_growth": round(large["f"]["median_ms"] / small["f"]["median_ms"], 3),
        "sandbox_growth": round(large["a"]["median_ms"] / small["a"]["median_ms"], 3),
        "target": GROWTH_TOLERANCE,
        "ok": growth <= GROWTH_TOLERANCE,
    }


# --- the run --------------------------------------------------------------------------------


def run(stack: Stack, plan: Plan) -> dict[str, Any]:
    small_size, large_size = plan.workspace_sizes
    progress(
        f"seeding sandboxes ({MAIN_SEED_TASKS:,} tasks, and workspaces of ~{small_size:,} "
        f"and ~{large_size:,}), migrating, collecting static files"
    )
    sandboxes = {
        "main": stack.start_sandbox("main", seed_tasks=MAIN_SEED_TASKS),
        "small": stack.start_sandbox("small", seed_tasks=seed_for_workspace(small_size)),
        "large": stack.start_sandbox("large", seed_tasks=seed_for_workspace(large_size)),
    }
    preparation = stack.start_preparation()
    stack.wait_preparation(preparation)
    for sandbox in sandboxes.values():
        stack.wait_sandbox(sandbox)
    workspaces = {key: workspace_sid(s.url, WORKSPACE_NAME) for key, s in sandboxes.items()}
    counts = {key: count_tasks(s.db, workspaces[key]) for key, s in sandboxes.items()}

    worker_class, workers, threads = SERVED_AS
    progress(
        f"starting the dashboards and the floors (gunicorn, {workers} {worker_class} "
        f"worker(s) x {threads} thread(s) each)"
    )
    dashboards = {key: stack.start_dashboard(key, s) for key, s in sandboxes.items()}
    floors = {key: stack.start_floor(key, s, workspaces[key]) for key, s in sandboxes.items()}
    # The same dashboard with shared reads on (the default): what a second supervisor
    # viewing the same page within SHARED_READ_SECONDS gets. Reported, never the target.
    shared = stack.start_dashboard(
        "shared", sandboxes["main"], shared_read_seconds=SHARED_READ_SECONDS
    )
    for dashboard in [*dashboards.values(), shared]:
        stack.wait_dashboard(dashboard)
    for floor in floors.values():
        stack.wait_dashboard(floor, path="/tasks/?size=1")

    main = (sandboxes["main"], floors["main"], dashboards["main"], workspaces["main"])
    views, extras = measure_tables(*main, plan, shared=shared)
    views.append(measure_task_page(*main, plan, sid=extras.pop("open_sid")))
    growth = measure_growth(
        [
            (counts[key], sandboxes[key], floors[key], dashboards[key], workspaces[key])
            for key in ("small", "large")
        ],
        plan,
    )
    refresh = extras.pop("refresh")
    ok = all(view["ok"] for view in views) and refresh["ok"] and growth["ok"]
    return {
        "bench": "taskdeck",
        "quick": plan.quick,
        "filter": {
            "workspace": WORKSPACE_NAME,
            "status": list(STATUSES),
            "sort": DASHBOARD_SORT,
        },
        "served_as": {"worker_class": worker_class, "workers": workers, "threads": threads},
        "seed_tasks": MAIN_SEED_TASKS,
        "workspace_tasks": counts["main"],
        "samples": plan.samples,
        "warmup": plan.warmup,
        "views": views,
        "refresh": refresh,
        "workspace_growth": growth,
        **extras,
        "ok": ok,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform(terse=True),
        },
    }


def measure_tables(
    sandbox: Sandbox,
    floor: Dashboard,
    dashboard: Dashboard,
    workspace: str,
    plan: Plan,
    *,
    shared: Dashboard,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(a), (f) and (b) per page size, each size its own interleaved block: mixed into one
    loop, the garbage a 1000-row page leaves in a worker would be collected during the
    50-row pages and inflate them by about 20% (seen while building this bench). The
    50-row block also holds the live refreshes and the dashboard's ``/livez``."""
    views: list[dict[str, Any]] = []
    extras: dict[str, Any] = {"shared_reads": []}
    for size in PAGE_SIZES:
        probes = {
            "a": sandbox_probe(f"a{size}", sandbox.url, workspace, size, log=sandbox.log),
            "f": floor_probe_table(f"f{size}", floor.url, size, log=floor.log),
            "b": dashboard_probe(f"b{size}", dashboard.url, size, log=dashboard.log),
            "c": dashboard_probe(f"c{size}", shared.url, size, log=shared.log),
        }
        for probe in probes.values():
            probe()  # the first round also fills the dashboards' directory caches
        check_same_rows(probes["a"], probes["f"])
        check_same_rows(probes["a"], probes["b"])
        if size == REFRESH_PAGE_SIZE:
            carrier, tried = find_unchanged_refresh(dashboard.url, size, log=dashboard.log)
            progress(
                "an unchanged refresh is answered with no body when the browser sends "
                f"{carrier.description}"
                if carrier
                else "no answer without a body for an unchanged refresh in this build "
                f"(tried {len(tried)} ways); measuring the full refresh only"
            )
            probes["refresh"] = refresh_probe(
                "refresh-full", dashboard.url, size, log=dashboard.log
            )
            if carrier:  # judged with shared reads off; reported with them on
                for name, served in (("unchanged", dashboard), ("unchanged-shared", shared)):
                    probes[name] = refresh_probe(
                        f"refresh-{name}",
                        served.url,
                        size,
                        log=served.log,
                        extra_headers=carrier.headers,
                        extra_params=carrier.params,
                        unchanged=True,
                    )
            probes["livez"] = livez_probe("livez", dashboard.url, log=dashboard.log)
        progress(
            f"measuring {size}-row tables: {plan.samples} samples each of " + ", ".join(probes)
        )
        times = sample(list(probes.values()), samples=plan.samples, warmup=plan.warmup)
        label = f"table, {size} rows"
        views.append(compare(f"table-{size}", label, times, probes, TABLE_TARGETS[size]))
        a_ms = Summary.of(times[probes["a"].name]).median_ms
        shared_summary = Summary.of(times[probes["c"].name])
        extras["shared_reads"].append(
            {
                "page_size": size,
                "b": shared_summary.as_dict(),
                "b_over_a": round(shared_summary.median_ms / a_ms, 3),
            }
        )
        if size == REFRESH_PAGE_SIZE:
            unchanged = probes.get("unchanged")
            extras["refresh"] = refresh_verdict(
                full=Summary.of(times["refresh-full"]).as_dict(),
                full_bytes=probes["refresh"].wire_bytes,
                unchanged=Summary.of(times["refresh-unchanged"]).as_dict() if unchanged else None,
                unchanged_bytes=unchanged.wire_bytes if unchanged else None,
                carrier=carrier.description if carrier else None,
                floor_table=Summary.of(times[probes["f"].name]).as_dict(),
                unchanged_shared=(
                    Summary.of(times["refresh-unchanged-shared"]).as_dict() if unchanged else None
                ),
            )
            extras["dashboard_livez"] = Summary.of(times["livez"]).as_dict()
            extras["open_sid"] = _open_task(probes["b"].last_sids, sandbox, workspace)
    return views, extras


def _open_task(sids: list[str], sandbox: Sandbox, workspace: str) -> str:
    """A pending task of the table: its page offers every editor."""
    for sid in sids:
        answer = requests.get(
            f"{sandbox.url}/v1/Workspaces/{workspace}/Tasks/{sid}", auth=SANDBOX_AUTH, timeout=10
        )
        if answer.ok and answer.json()["assignment_status"] == "pending":
            return sid
    raise BenchError("the 50-row table holds no pending task to open")


def measure_task_page(
    sandbox: Sandbox,
    floor: Dashboard,
    dashboard: Dashboard,
    workspace: str,
    plan: Plan,
    *,
    sid: str,
) -> dict[str, Any]:
    a, f, b = task_probes(
        sandbox_url=sandbox.url,
        workspace_sid=workspace,
        floor_url=floor.url,
        dashboard_url=dashboard.url,
        sid=sid,
        logs=(sandbox.log, floor.log, dashboard.log),
    )
    for probe in (a, f, b):
        probe()
    progress(f"measuring one task's page: {plan.samples} samples each of a, f, b")
    times = sample([a, f, b], samples=plan.samples, warmup=plan.warmup)
    return compare("task", "task page", times, {"a": a, "f": f, "b": b}, TASK_PAGE_TARGET)


def measure_growth(
    sides: list[tuple[int, Sandbox, Dashboard, Dashboard, str]], plan: Plan
) -> dict[str, Any]:
    """The 50-row page in a small and a large workspace, interleaved; the sandbox's GET and
    the floor are measured too, so a growth can be told apart from the sandbox's."""
    probes: list[Probe] = []
    for count, sandbox, floor, dashboard, workspace in sides:
        a = sandbox_probe(f"a-{count}", sandbox.url, workspace, GROWTH_PAGE_SIZE, log=sandbox.log)
        f = floor_probe_table(f"f-{count}", floor.url, GROWTH_PAGE_SIZE, log=floor.log)
        b = dashboard_probe(f"b-{count}", dashboard.url, GROWTH_PAGE_SIZE, log=dashboard.log)
        a(), f(), b()
        check_same_rows(a, f)
        check_same_rows(a, b)
        probes += [a, f, b]
    progress(
        f"measuring the {GROWTH_PAGE_SIZE}-row page in workspaces of "
        f"{' and '.join(f'{c:,}' for c, *_ in sides)} tasks: {plan.samples} samples each"
    )
    times = sample(probes, samples=plan.samples, warmup=plan.warmup)
    sizes = []
    for count, sandbox, *_rest in sides:
        a, f, b = (Summary.of(times[f"{side}-{count}"]) for side in "afb")
        sizes.append(
            {
                "workspace_tasks": count,
                "seed_tasks": sandbox.seed_tasks,
                "a": a.as_dict(),
                "f": f.as_dict(),
                "b": b.as_dict(),
                "b_over_f": round(b.median_ms / f.median_ms, 3),
            }
        )
    return growth_verdict(sizes)


# --- the report -----------------------------------------------------------------------------


def _ms(summary: dict[str, Any]) -> str:
    return f"{summary['median_ms']:.1f} ({summary['p90_ms']:.1f})"


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def render_report(result: dict[str, Any]) -> str:
    served = result["served_as"]
    lines = [
        f"Taskdeck bench{' (--quick)' if result['quick'] else ''}: sandbox seeded with "
        f"{result['seed_tasks']:,} tasks ({WORKSPACE_NAME}: {result['workspace_tasks']:,}), "
        f"status={','.join(STATUSES)} sort={DASHBOARD_SORT}; dashboard and floor each under "
        f"gunicorn, {served['workers']} {served['worker_class']} worker x "
        f"{served['threads']} thread; the dashboards' cache: "
        f"{result.get('cache', 'local memory')}",
        f"medians in ms of {result['samples']} interleaved samples each after "
        f"{result['warmup']} warm-up rounds; p90 in brackets. a: TaskRouter's raw GET "
        "(sandbox), f: the floor app, b: Taskdeck",
        "",
        f"{'view':<18} {'a':<15} {'f':<15} {'b':<15} {'b-f':>6} {'b/a':>5} {'b/f':>5}  target",
    ]
    for view in result["views"]:
        lines.append(
            f"{view['label']:<18} {_ms(view['a']):<15} {_ms(view['f']):<15} "
            f"{_ms(view['b']):<15} {view['b_minus_f_ms']:>6.1f} {view['b_over_a']:>5.2f} "
            f"{view['b_over_f']:>5.2f}  b/f <= {view['target']:<4} {_verdict(view['ok'])}"
        )
    refresh = result["refresh"]
    lines += ["", f"live refresh of an unchanged {refresh['page_size']}-row table:"]
    lines.append(
        f"  full refresh (HX-Target: task-rows): {_ms(refresh['full'])} ms, "
        f"{refresh['full_bytes']:,} bytes on the wire"
    )
    if refresh["unchanged"]:
        lines.append(
            f"  unchanged, browser sends {refresh['carrier']}: {_ms(refresh['unchanged'])} ms, "
            f"{refresh['unchanged_bytes']:,} bytes on the wire"
        )
    else:
        lines.append("  no answer without a body for an unchanged table in this build")
    if refresh.get("unchanged_shared"):
        lines.append(
            f"  unchanged, shared reads on ({SHARED_READ_SECONDS:g} s, as deployed: another "
            f"viewer of the view read it moments ago): {_ms(refresh['unchanged_shared'])} ms = "
            f"{refresh['shared_ratio']:.2f} x the floor's table (reported, not judged)"
        )
    lines.append(
        f"  judged: {refresh['ratio']:.2f} x the floor's table ({_ms(refresh['floor_table'])} ms)"
        f", {refresh['wire_bytes']:,} bytes   target <= {refresh['target_ratio']} x and "
        f"<= {refresh['target_bytes']:,} bytes  {_verdict(refresh['ok'])}"
    )
    growth = result["workspace_growth"]
    lines += [
        "",
        f"{'workspace size':<16} {'a':<15} {'f':<15} "
        f"{'b (' + str(growth['page_size']) + ' rows)':<15} b/f",
    ]
    for size in growth["sizes"]:
        lines.append(
            f"{size['workspace_tasks']:<16,} {_ms(size['a']):<15} {_ms(size['f']):<15} "
            f"{_ms(size['b']):<15} {size['b_over_f']:.2f}"
        )
    small, large = growth["sizes"][0]["workspace_tasks"], growth["sizes"][-1]["workspace_tasks"]
    lines.append(
        f"growth of b from {small:,} to {large:,} tasks: {growth['growth']:.2f}  "
        f"target <= {growth['target']}  {_verdict(growth['ok'])}   "
        f"(the floor's: {growth['floor_growth']:.2f}, the sandbox's: "
        f"{growth['sandbox_growth']:.2f})"
    )
    if result.get("shared_reads"):
        lines.append(
            f"\nwith shared reads ({SHARED_READ_SECONDS:g} s, the default; not a target: most "
            "requests are answered from the cache): "
            + ", ".join(
                f"{s['page_size']} rows {_ms(s['b'])} ms = {s['b_over_a']:.2f} x a"
                for s in result["shared_reads"]
            )
        )
    if result.get("dashboard_livez"):
        lines.append(
            f"Taskdeck's least response (GET /livez: gunicorn and middleware, no TaskRouter "
            f"call): {_ms(result['dashboard_livez'])} ms"
        )
        lines += _least_page_lines(result)
    lines += ["", *render_search(result["search"])] if "search" in result else []
    missed = [view["label"] for view in result["views"] if not view["ok"]]
    if not refresh["ok"]:
        missed.append("unchanged live refresh")
    if not growth["ok"]:
        missed.append("growth with the workspace")
    if "search" in result and not result["search"]["ok"]:
        missed.append("search")
    lines += ["", "all targets met" if not missed else "MISSED: " + "; ".join(missed)]
    return "\n".join(lines)


def render_search_report(result: dict[str, Any]) -> str:
    """``--search-only``: the search section alone."""
    verdict = "all targets met" if result["ok"] else "MISSED: search"
    return "\n".join([*render_search(result["search"]), "", verdict])
