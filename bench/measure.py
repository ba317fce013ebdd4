"""Timed requests, checked answers, interleaved sampling and the statistics reported.

Only the HTTP exchange is timed (request sent, whole body received). Checking the answer,
parsing JSON or counting rows happens after the clock stops, so the client's own work never
leaks into either side of a ratio.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.stack import SANDBOX_AUTH, BenchError, log_tail

# The filter both sides ask for: what a supervisor's "open work, most urgent first" looks like.
STATUSES = ("pending", "reserved", "assigned")
DASHBOARD_SORT = "-priority"
TASKROUTER_ORDERING = "Priority:desc"
WORKSPACE_NAME = "Support"

_ROW = re.compile(r'<tr id="row-(WT[0-9a-f]{32})"')


def sandbox_params(page_size: int) -> list[tuple[str, str]]:
    """ListTask's query string exactly as the dashboard's service module sends it (repeated
    AssignmentStatus, then Ordering, then PageSize), so (a) is the dashboard's own call."""
    params = [("AssignmentStatus", status) for status in STATUSES]
    return [*params, ("Ordering", TASKROUTER_ORDERING), ("PageSize", str(page_size))]


def dashboard_params(page_size: int) -> dict[str, str]:
    return {"status": ",".join(STATUSES), "sort": DASHBOARD_SORT, "size": str(page_size)}


@dataclass
class Probe:
    """One kind of request, repeatable: ``probe()`` times one exchange and checks it."""

    name: str
    url: str
    params: Any
    expect_rows: int
    session: requests.Session
    check: Callable[[requests.Response], list[str]]  # the SIDs the answer lists, in order
    log: Path | None = None  # the server's log, shown when an answer is wrong
    bytes: int = 0
    last_sids: list[str] = field(default_factory=list)

    def __call__(self) -> float:
        started = time.perf_counter()
        response = self.session.get(self.url, params=self.params, timeout=60)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            self._fail(f"answered {response.status_code}:\n{response.text[:2000]}", response)
        self.last_sids = self.check(response)
        if len(self.last_sids) != self.expect_rows:
            self._fail(
                f"has {len(self.last_sids)} rows, not {self.expect_rows}; "
                "a benchmark of the wrong page is worthless",
                response,
            )
        self.bytes = len(response.content)
        return elapsed

    def _fail(self, problem: str, response: requests.Response) -> None:
        message = f"{self.name}: {response.url} {problem}"
        if self.log is not None:
            message += f"\n--- the server's log ends with:\n{log_tail(self.log)}"
        raise BenchError(message)


def _sandbox_sids(response: requests.Response) -> list[str]:
    return [task["sid"] for task in response.json()["tasks"]]


def _dashboard_sids(response: requests.Response) -> list[str]:
    return _ROW.findall(response.text)


def sandbox_probe(
    name: str, sandbox_url: str, workspace_sid: str, page_size: int, *, log: Path | None = None
) -> Probe:
    session = requests.Session()
    session.auth = SANDBOX_AUTH
    session.headers["Accept"] = "application/json"
    return Probe(
        name=name,
        url=f"{sandbox_url}/v1/Workspaces/{workspace_sid}/Tasks",
        params=sandbox_params(page_size),
        expect_rows=page_size,
        session=session,
        check=_sandbox_sids,
        log=log,
    )


def dashboard_probe(
    name: str, dashboard_url: str, page_size: int, *, log: Path | None = None
) -> Probe:
    # A plain session, as a browser: it keeps the cookies the page sets (csrftoken).
    return Probe(
        name=name,
        url=f"{dashboard_url}/w/{WORKSPACE_NAME}/tasks/",
        params=dashboard_params(page_size),
        expect_rows=page_size,
        session=requests.Session(),
        check=_dashboard_sids,
        log=log,
    )


def _no_rows(response: requests.Response) -> list[str]:
    return []


def floor_probe(name: str, dashboard_url: str, *, log: Path | None = None) -> Probe:
    """``/livez``: gunicorn, the middleware and a JSON answer, no TaskRouter call and no
    template. What any page of the dashboard costs at the least, for reading the ratios."""
    return Probe(
        name=name,
        url=f"{dashboard_url}/livez",
        params=None,
        expect_rows=0,
        session=requests.Session(),
        check=_no_rows,
        log=log,
    )


def check_same_rows(a: Probe, b: Probe) -> None:
    """(a) and (b) must show the same tasks in the same order, or they measure different
    things. Called after a warm-up round, when both have just answered."""
    if a.last_sids != b.last_sids:
        first = next(
            (i for i, (x, y) in enumerate(zip(a.last_sids, b.last_sids, strict=False)) if x != y),
            min(len(a.last_sids), len(b.last_sids)),
        )
        raise BenchError(
            f"{a.name} and {b.name} list different tasks (first difference at row {first}); "
            "they are not the same filter"
        )


def sample(probes: Sequence[Probe], *, samples: int, warmup: int) -> dict[str, list[float]]:
    """Run every probe ``warmup`` times unrecorded, then ``samples`` recorded rounds.

    Rounds alternate their order (a, b, ... then ..., b, a), so neither side always runs
    right after the other, and slow drift of the machine lands on every probe equally.
    """
    for _ in range(warmup):
        for probe in probes:
            probe()
    times: dict[str, list[float]] = {probe.name: [] for probe in probes}
    for round_number in range(samples):
        ordered = probes if round_number % 2 == 0 else list(reversed(probes))
        for probe in ordered:
            times[probe.name].append(probe())
    return times


@dataclass(frozen=True)
class Summary:
    samples: int
    median_ms: float
    p90_ms: float
    min_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        ms = sorted(s * 1000 for s in seconds)
        p90 = statistics.quantiles(ms, n=10, method="inclusive")[-1] if len(ms) > 1 else ms[0]
        return cls(samples=len(ms), median_ms=statistics.median(ms), p90_ms=p90, min_ms=ms[0])

    def as_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "median_ms": round(self.median_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "min_ms": round(self.min_ms, 3),
        }
