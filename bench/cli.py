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

from bench.measure import (
    DASHBOARD_SORT,
    STATUSES,
    WORKSPACE_NAME,
    Summary,
    check_same_rows,
    dashboard_probe,
    floor_probe,
    sample,
    sandbox_probe,
)
from bench.stack import BenchError, Dashboard, Sandbox, Stack, count_tasks, workspace_sid
from tasks_app.sandbox.seed import SUPPORT

PAGE_SIZES = (50, 1000)
# The targets: the dashboard's page may take at most this many times the sandbox's
# raw GET of the same page.
RATIO_TARGETS = {50: 1.5, 1000: 2.0}
GROWTH_PAGE_SIZE = 50
# "No growth with the workspace's size": a cost that grew with the workspace would show up
# as a multiple (100x the tasks), while two medians of the same work on a noisy machine
# differ by a few percent. 1.25 separates the two.
GROWTH_TOLERANCE = 1.25
MAIN_SEED_TASKS = 10_000


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
            "Measure the dashboard's task table against a raw TaskRouter (sandbox) GET of the "
            "same page, side by side, on loopback. Prints the medians, p90s and ratios, then "
            "one JSON line with every number."
        ),
    )
    parser.add_argument(
        "--samples",
        type=int,
        help="recorded requests per measurement (default 60; 10 with --quick; 20 with --profile)",
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
        help="instead of the benchmark: profile the dashboard's 1000-row page in-process "
        "(cProfile) and print the top functions by cumulative and by own time",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=1000,
        help="with --profile: the page size to profile (default 1000; 50 shows the fixed cost)",
    )
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error("--samples must be at least 1")
    if not 1 <= args.page_size <= 1000:
        parser.error("--page-size must be between 1 and 1000")
    return args


SHARED_READ_SECONDS = 2.0


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
                seed_tasks=MAIN_SEED_TASKS,
                progress=progress,
            )
        plan = plan_for(args)
        started = time.monotonic()
        with Stack() as stack:
            result = run(stack, plan)
        result["elapsed_s"] = round(time.monotonic() - started, 1)
    except KeyboardInterrupt:
        progress("interrupted; every process and temporary file was cleaned up")
        return 130
    except BenchError as error:
        progress(f"FAILED: {error}")
        return 2
    if not args.json:
        print(render_report(result))
    print(json.dumps(result, separators=(",", ":")))
    sys.stdout.flush()
    progress(f"finished in {result['elapsed_s']:.1f} s")
    if args.strict and not result["ok"]:
        return 1
    return 0


def seed_for_workspace(size: int) -> int:
    """How many tasks to seed so the Support workspace holds about ``size`` (the seed gives
    it a fixed share of all tasks; the exact count is read back and reported)."""
    return math.ceil(size / SUPPORT.share)


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

    progress("starting the dashboards (gunicorn, 1 sync worker each)")
    dashboards = {key: stack.start_dashboard(key, s) for key, s in sandboxes.items()}
    # The same dashboard with shared reads on (the default): what a second supervisor
    # viewing the same page within SHARED_READ_SECONDS gets. Reported, never the target.
    shared = stack.start_dashboard(
        "shared", sandboxes["main"], shared_read_seconds=SHARED_READ_SECONDS
    )
    for dashboard in [*dashboards.values(), shared]:
        stack.wait_dashboard(dashboard)

    pages, floor = measure_page_sizes(
        sandboxes["main"], dashboards["main"], workspaces["main"], plan, shared=shared
    )
    growth = measure_growth(
        [
            (counts[key], sandboxes[key], dashboards[key], workspaces[key])
            for key in ("small", "large")
        ],
        plan,
    )
    ok = all(page["ok"] for page in pages) and growth["ok"]
    return {
        "bench": "taskdeck",
        "quick": plan.quick,
        "filter": {
            "workspace": WORKSPACE_NAME,
            "status": list(STATUSES),
            "sort": DASHBOARD_SORT,
        },
        "seed_tasks": MAIN_SEED_TASKS,
        "workspace_tasks": counts["main"],
        "warmup": plan.warmup,
        "pages": pages,
        "dashboard_floor": floor,
        "budget": page_budget(pages[0], floor),
        "workspace_growth": growth,
        "ok": ok,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(terse=True),
        },
    }


def measure_page_sizes(
    sandbox: Sandbox, dashboard: Dashboard, workspace: str, plan: Plan, *, shared: Dashboard
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(a) and (b) per page size, and the dashboard's floor (``/livez``) with the 50-row
    block. Each size is its own interleaved block: mixed into one loop, the garbage a
    1000-row page leaves in the worker would be collected during the 50-row pages and
    inflate them by about 20% (seen while building this bench)."""
    pages = []
    floor: dict[str, Any] = {}
    for size in PAGE_SIZES:
        a = sandbox_probe(f"a{size}", sandbox.url, workspace, size, log=sandbox.log)
        b = dashboard_probe(f"b{size}", dashboard.url, size, log=dashboard.log)
        c = dashboard_probe(f"c{size}", shared.url, size, log=shared.log)
        a(), b(), c()  # the first round also fills the dashboards' directory caches
        check_same_rows(a, b)
        probes = [a, b, c]
        if not floor:
            probes.append(floor_probe("floor", dashboard.url, log=dashboard.log))
        progress(f"measuring {size}-row pages: {plan.samples} samples each of (a) and (b)")
        times = sample(probes, samples=plan.samples, warmup=plan.warmup)
        if not floor:
            floor = {"path": "/livez", **Summary.of(times["floor"]).as_dict()}
        a_summary, b_summary = Summary.of(times[a.name]), Summary.of(times[b.name])
        c_summary = Summary.of(times[c.name])
        ratio = b_summary.median_ms / a_summary.median_ms
        target = RATIO_TARGETS[size]
        pages.append(
            {
                "page_size": size,
                "a": a_summary.as_dict(),
                "b": b_summary.as_dict(),
                "ratio": round(ratio, 3),
                "shared": c_summary.as_dict(),
                "shared_ratio": round(c_summary.median_ms / a_summary.median_ms, 3),
                "target": target,
                "ok": ratio <= target,
                "a_bytes": a.bytes,
                "b_bytes": b.bytes,
            }
        )
    return pages, floor


def page_budget(page: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """What the target leaves for the page's own work once the two costs it cannot avoid
    are paid: any response through gunicorn and the middleware (``/livez``, measured in the
    same block) and the TaskRouter call itself, (a). A target below that floor is out of
    reach for any page, however lean; the report says so in numbers."""
    a, b, floor_ms = page["a"]["median_ms"], page["b"]["median_ms"], floor["median_ms"]
    allowed = page["target"] * a
    return {
        "page_size": page["page_size"],
        "allowed_ms": round(allowed, 3),
        "floor_plus_a_ms": round(floor_ms + a, 3),
        "left_for_page_ms": round(allowed - floor_ms - a, 3),
        "page_work_ms": round(b - floor_ms - a, 3),
    }


def measure_growth(sides: list[tuple[int, Sandbox, Dashboard, str]], plan: Plan) -> dict[str, Any]:
    """The 50-row page in a small and a large workspace, interleaved; the sandbox's own GET is
    measured too, so a growth can be told apart from the sandbox's."""
    probes = []
    for count, sandbox, dashboard, workspace in sides:
        a = sandbox_probe(f"a-{count}", sandbox.url, workspace, GROWTH_PAGE_SIZE, log=sandbox.log)
        b = dashboard_probe(f"b-{count}", dashboard.url, GROWTH_PAGE_SIZE, log=dashboard.log)
        a(), b()
        check_same_rows(a, b)
        probes += [a, b]
    progress(
        f"measuring the {GROWTH_PAGE_SIZE}-row page in workspaces of "
        f"{' and '.join(f'{c:,}' for c, *_ in sides)} tasks: {plan.samples} samples each"
    )
    times = sample(probes, samples=plan.samples, warmup=plan.warmup)
    sizes = []
    for count, sandbox, _dashboard, _workspace in sides:
        a, b = Summary.of(times[f"a-{count}"]), Summary.of(times[f"b-{count}"])
        sizes.append(
            {
                "workspace_tasks": count,
                "seed_tasks": sandbox.seed_tasks,
                "a": a.as_dict(),
                "b": b.as_dict(),
                "ratio": round(b.median_ms / a.median_ms, 3),
            }
        )
    growth = sizes[-1]["b"]["median_ms"] / sizes[0]["b"]["median_ms"]
    sandbox_growth = sizes[-1]["a"]["median_ms"] / sizes[0]["a"]["median_ms"]
    return {
        "page_size": GROWTH_PAGE_SIZE,
        "sizes": sizes,
        "growth": round(growth, 3),
        "sandbox_growth": round(sandbox_growth, 3),
        "target": GROWTH_TOLERANCE,
        "ok": growth <= GROWTH_TOLERANCE,
    }


# --- the report -----------------------------------------------------------------------------


def _ms(summary: dict[str, Any]) -> str:
    return f"{summary['median_ms']:.1f} ms (p90 {summary['p90_ms']:.1f})"


def _verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def render_report(result: dict[str, Any]) -> str:
    growth = result["workspace_growth"]
    samples = result["pages"][0]["a"]["samples"]
    lines = [
        f"Taskdeck bench{' (--quick)' if result['quick'] else ''}: sandbox seeded with "
        f"{result['seed_tasks']:,} tasks ({WORKSPACE_NAME}: {result['workspace_tasks']:,}), "
        f"status={','.join(STATUSES)} sort={DASHBOARD_SORT}",
        f"medians of {samples} interleaved samples each after {result['warmup']} warm-up "
        "rounds; p90 in brackets",
        "",
        f"{'page size':<11} {'sandbox GET (a)':<22} {'dashboard page (b)':<22} {'b/a':<6} target",
    ]
    for page in result["pages"]:
        lines.append(
            f"{page['page_size']:<11} {_ms(page['a']):<22} {_ms(page['b']):<22} "
            f"{page['ratio']:<6.2f} <= {page['target']:<4} {_verdict(page['ok'])}"
        )
    lines.append(
        f"with shared reads ({SHARED_READ_SECONDS:g} s, the default; not the target: most "
        "requests are answered from the cache): "
        + ", ".join(
            f"{p['page_size']} rows {_ms(p['shared'])} = {p['shared_ratio']:.2f} x (a)"
            for p in result["pages"]
        )
    )
    floor = result["dashboard_floor"]
    lines.append(
        f"dashboard floor (GET {floor['path']}: gunicorn and middleware, no TaskRouter call): "
        f"{_ms(floor)}"
    )
    budget = result["budget"]
    lines.append(
        f"at {budget['page_size']} rows the target allows (b) {budget['allowed_ms']:.1f} ms; "
        f"/livez + (a) = {budget['floor_plus_a_ms']:.1f} ms before any work of the page, "
        f"leaving {budget['left_for_page_ms']:.1f} ms for it; it took "
        f"{budget['page_work_ms']:.1f} ms (b - /livez - a)"
    )
    lines += [
        "",
        f"{'workspace size':<16} {'sandbox GET (a)':<22} "
        f"{'dashboard page (b, ' + str(growth['page_size']) + ' rows)':<28} b/a",
    ]
    for size in growth["sizes"]:
        lines.append(
            f"{size['workspace_tasks']:<16,} {_ms(size['a']):<22} {_ms(size['b']):<28} "
            f"{size['ratio']:.2f}"
        )
    small, large = growth["sizes"][0]["workspace_tasks"], growth["sizes"][-1]["workspace_tasks"]
    lines.append(
        f"growth of (b) from {small:,} to {large:,} tasks: {growth['growth']:.2f}  "
        f"<= {growth['target']}  {_verdict(growth['ok'])}   "
        f"(the sandbox's own: {growth['sandbox_growth']:.2f})"
    )
    missed = [f"b/a at {p['page_size']} rows" for p in result["pages"] if not p["ok"]]
    if not growth["ok"]:
        missed.append("no growth with the workspace's size")
    lines += ["", "all targets met" if not missed else "MISSED: " + "; ".join(missed)]
    return "\n".join(lines)
