"""Timed requests, checked answers, interleaved sampling and the statistics reported.

Only the HTTP exchange is timed (request sent, whole body received). Checking the answer,
parsing JSON or counting rows happens after the clock stops, so the client's own work never
leaks into either side of a ratio.
"""

from __future__ import annotations

import base64
import html
import json
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
    headers: dict[str, str] | None = None
    statuses: tuple[int, ...] = (200,)  # the answers that are right
    bytes: int = 0  # the body, as the client has it
    wire_bytes: int = 0  # the whole answer as it travelled: status line, headers, body
    last_sids: list[str] = field(default_factory=list)
    last_status: int = 0

    def __call__(self) -> float:
        started = time.perf_counter()
        response = self.session.get(self.url, params=self.params, headers=self.headers, timeout=60)
        elapsed = time.perf_counter() - started
        self.last_status = response.status_code
        if response.status_code not in self.statuses:
            self._fail(f"answered {response.status_code}:\n{response.text[:2000]}", response)
        self.last_sids = self.check(response)
        if len(self.last_sids) != self.expect_rows:
            self._fail(
                f"has {len(self.last_sids)} rows, not {self.expect_rows}; "
                "a benchmark of the wrong page is worthless",
                response,
            )
        self.bytes = len(response.content)
        self.wire_bytes = wire_bytes(response)
        return elapsed

    def _fail(self, problem: str, response: requests.Response) -> None:
        message = f"{self.name}: {response.url} {problem}"
        if self.log is not None:
            message += f"\n--- the server's log ends with:\n{log_tail(self.log)}"
        raise BenchError(message)


def wire_bytes(response: requests.Response) -> int:
    """The answer's size on the wire (HTTP/1.1): status line, headers and the body as sent
    (``Content-Length`` when given, which is the compressed size if it was compressed)."""
    status_line = f"HTTP/1.1 {response.status_code} {response.reason}\r\n"
    headers = sum(len(name) + len(value) + 4 for name, value in response.headers.items())
    body = int(response.headers.get("Content-Length") or len(response.content))
    return len(status_line) + headers + 2 + body


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


def livez_probe(name: str, dashboard_url: str, *, log: Path | None = None) -> Probe:
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


# --- the floor ------------------------------------------------------------------------------


def floor_probe_table(name: str, floor_url: str, page_size: int, *, log: Path | None) -> Probe:
    """The floor's table: the same query string as the dashboard's page, the same rows."""
    return Probe(
        name=name,
        url=f"{floor_url}/tasks/",
        params=dashboard_params(page_size),
        expect_rows=page_size,
        session=requests.Session(),
        check=_dashboard_sids,
        log=log,
    )


# --- one task's page ------------------------------------------------------------------------


def _showing(sid: str, etag: str) -> Callable[[requests.Response], list[str]]:
    """A task page is right when it shows the task and the version it was read at."""

    def check(response: requests.Response) -> list[str]:
        text = response.text
        return [sid] if sid in text and etag in text else []

    return check


def task_probes(
    *,
    sandbox_url: str,
    workspace_sid: str,
    floor_url: str,
    dashboard_url: str,
    sid: str,
    logs: tuple[Path, Path, Path],
) -> list[Probe]:
    """(a) the sandbox's Fetch of one task, (f) the floor's page of it, (b) Taskdeck's."""
    sandbox_session = requests.Session()
    sandbox_session.auth = SANDBOX_AUTH
    sandbox_session.headers["Accept"] = "application/json"
    fetched = sandbox_session.get(
        f"{sandbox_url}/v1/Workspaces/{workspace_sid}/Tasks/{sid}", timeout=60
    )
    if fetched.status_code != 200 or not fetched.headers.get("ETag"):
        raise BenchError(f"fetching {sid} from the sandbox answered {fetched.status_code}")
    check = _showing(sid, fetched.headers["ETag"])
    return [
        Probe(
            name="a-task",
            url=fetched.url,
            params=None,
            expect_rows=1,
            session=sandbox_session,
            check=lambda response: [response.json()["sid"]],
            log=logs[0],
        ),
        Probe(
            name="f-task",
            url=f"{floor_url}/tasks/{sid}/",
            params=None,
            expect_rows=1,
            session=requests.Session(),
            check=check,
            log=logs[1],
        ),
        # A browser's session: the page's session and CSRF cookies come back each time.
        Probe(
            name="b-task",
            url=f"{dashboard_url}/w/{WORKSPACE_NAME}/tasks/{sid}/",
            params=None,
            expect_rows=1,
            session=requests.Session(),
            check=check,
            log=logs[2],
        ),
    ]


# --- live refresh ---------------------------------------------------------------------------

# What htmx sends when the open table refreshes only its rows.
REFRESH_HEADERS = {"HX-Request": "true", "HX-Target": "task-rows"}
_HX_ATTRIBUTE = re.compile(r"""\b(hx-headers|hx-vals)=(?:'([^']*)'|"([^"]*)")""")
_DIGEST_ATTRIBUTE = re.compile(r'<(?!tr\b)[a-z]+\b[^>]*\bdata-([\w-]*digest[\w-]*)="([^"]*)"')
_ROW_TAG = re.compile(r"<tr\b[^>]*>")
_ROW_SID = re.compile(r'\bid="row-(WT[0-9a-f]{32})"')
_ROW_VERSION = re.compile(r'\bdata-version="([0-9a-f]{1,8})"')


def shown_rows(text: str) -> list[tuple[str, str]]:
    """(SID, ``data-version``) of every task row in the markup, in order."""
    rows = []
    for tag in _ROW_TAG.findall(text):
        sid, version = _ROW_SID.search(tag), _ROW_VERSION.search(tag)
        if sid and version:
            rows.append((sid.group(1), version.group(1)))
    return rows


def rows_header(rows: list[tuple[str, str]]) -> str:
    """``Taskdeck-Rows`` as the table's script sends it on a live refresh: per row, in
    order, its ``data-version`` XORed with the last 8 hex digits of its SID, as 4 bytes
    big-endian, all base64-encoded."""
    raw = b"".join(
        ((int(version, 16) ^ int(sid[-8:], 16)) & 0xFFFFFFFF).to_bytes(4, "big")
        for sid, version in rows
    )
    return base64.b64encode(raw).decode("ascii")


def refresh_probe(
    name: str,
    dashboard_url: str,
    page_size: int,
    *,
    log: Path | None,
    extra_headers: dict[str, str] | None = None,
    extra_params: dict[str, str] | None = None,
    unchanged: bool = False,
) -> Probe:
    """A live refresh of the table's rows (``HX-Target: task-rows``). ``unchanged``: the
    browser says what it holds and expects no body back (204, or 304)."""
    return Probe(
        name=name,
        url=f"{dashboard_url}/w/{WORKSPACE_NAME}/tasks/",
        params={**dashboard_params(page_size), **(extra_params or {})},
        expect_rows=0 if unchanged else page_size,
        session=requests.Session(),
        check=_dashboard_sids,
        log=log,
        headers={**REFRESH_HEADERS, **(extra_headers or {})},
        statuses=(204, 304) if unchanged else (200,),
    )


@dataclass(frozen=True)
class Carrier:
    """One way a browser may tell the server what rows it holds."""

    description: str
    headers: dict[str, str]
    params: dict[str, str]


def refresh_carriers(page: requests.Response, fragment: requests.Response) -> list[Carrier]:
    """The ways this build may accept "here is what I hold", read from what it served.

    The bench does not know the protocol in advance (it is the page's JavaScript's and the
    view's business), so it tries what the answers themselves offer: ``hx-headers`` /
    ``hx-vals`` the markup declares, an ``ETag`` (as ``If-None-Match``), a response header
    or ``data-*digest*`` attribute naming a digest (sent back under the same name), and the
    rows the table shows, as the table's script describes them (`rows_header`) or as their
    versions joined by commas. The first one answered with no body is used.
    """
    carriers: list[Carrier] = []
    for response in (fragment, page):
        for match in _HX_ATTRIBUTE.finditer(response.text):
            attribute, raw = match.group(1), match.group(2) or match.group(3)
            try:
                values = json.loads(html.unescape(raw))
            except ValueError:
                continue
            if not isinstance(values, dict) or not values:
                continue
            values = {str(k): str(v) for k, v in values.items()}
            if attribute == "hx-headers":
                carriers.append(Carrier(f"hx-headers {sorted(values)}", values, {}))
            else:
                carriers.append(Carrier(f"hx-vals {sorted(values)}", {}, values))
        etag = response.headers.get("ETag")
        if etag:
            carriers.append(Carrier("If-None-Match: <ETag>", {"If-None-Match": etag}, {}))
        for header, value in response.headers.items():
            if "digest" in header.lower() or "version" in header.lower():
                carriers.append(Carrier(f"{header}: <its value>", {header: value}, {}))
                carriers.append(Carrier(f"If-None-Match: <{header}>", {"If-None-Match": value}, {}))
        for attribute, value in _DIGEST_ATTRIBUTE.findall(response.text):
            value = html.unescape(value)
            header = "-".join(part.capitalize() for part in attribute.split("-"))
            carriers += [
                Carrier(f"header {header}", {header: value}, {}),
                Carrier(f"Taskdeck-{header}", {f"Taskdeck-{header}": value}, {}),
                Carrier(f"param {attribute}", {}, {attribute: value}),
                Carrier(
                    f"param {attribute.replace('-', '_')}", {}, {attribute.replace("-", "_"): value}
                ),
                Carrier(f"If-None-Match: data-{attribute}", {"If-None-Match": value}, {}),
            ]
    rows = shown_rows(fragment.text) or shown_rows(page.text)
    if rows:
        carriers += [
            Carrier("Taskdeck-Rows: <row keys>", {"Taskdeck-Rows": rows_header(rows)}, {}),
            Carrier(
                "Taskdeck-Rows: <row versions>",
                {"Taskdeck-Rows": ",".join(version for _sid, version in rows)},
                {},
            ),
        ]
    unique: dict[str, Carrier] = {}
    for carrier in carriers:
        unique.setdefault(carrier.description, carrier)
    return list(unique.values())


def find_unchanged_refresh(
    dashboard_url: str, page_size: int, *, log: Path | None
) -> tuple[Carrier | None, list[str]]:
    """The carrier this build answers with no body for an unchanged table, if any, and the
    descriptions of every carrier tried."""
    session = requests.Session()
    url = f"{dashboard_url}/w/{WORKSPACE_NAME}/tasks/"
    params = dashboard_params(page_size)
    page = session.get(url, params=params, timeout=60)
    fragment = session.get(url, params=params, headers=REFRESH_HEADERS, timeout=60)
    if page.status_code != 200 or fragment.status_code != 200:
        raise BenchError(
            f"the table page answered {page.status_code}, its refresh {fragment.status_code}"
            + (f"\n{log_tail(log)}" if log else "")
        )
    carriers = refresh_carriers(page, fragment)
    for carrier in carriers:
        answer = session.get(
            url,
            params={**params, **carrier.params},
            headers={**REFRESH_HEADERS, **carrier.headers},
            timeout=60,
        )
        if answer.status_code in (204, 304):
            return carrier, [c.description for c in carriers]
    return None, [c.description for c in carriers]
