"""The task table.

django-tables2 owns the column definitions, the sort state (``sort=-priority,created``)
and the headers. The body is rendered by the columns themselves in Python: measured on
this code, one ``{% for %}`` template loop with the same cells inline took about 15 times
as long (17 ms against 1.2 ms at 50 rows, 450 ms against 18 ms at 1000). Each column turns
a `Task` into escaped HTML with plain string operations; every value is escaped, task
attributes are untrusted text.

The controls that write (the row checkbox, the Edit link, the select-all box) are not
Python strings: `tasks/_row_controls.html` renders them once per table with a placeholder
SID, and only when the table is ``editable``. That template is the one place a
permission check decides whether a person may change tasks from the table.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape as _html_escape
from urllib.parse import urlencode

import django_tables2 as tables
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django_tables2.data import TableData

from tasks_app import presentation, titles
from tasks_app.forms import AttributeColumn
from tasks_app.index.holders import HELD_STATUSES, Holder, holders_of
from tasks_app.taskrouter.resources import Task
from tasks_app.taskrouter.rules import CLOSED_STATUSES
from tasks_app.triage import breach as triage_breach
from tasks_app.triage import targets as triage_targets

_CONTROLS_TEMPLATE = "tasks/_row_controls.html"


def escape(value: str) -> str:
    # The standard library's escape, not Django's: the same entities, without the lazy
    # string wrapper Django adds per call (a 1000-row page escapes ~10,000 values).
    return _html_escape(value, quote=True)


class RemotePage(TableData):
    """One page of rows that TaskRouter already filtered, sorted and paged."""

    def __init__(self, rows: Iterable[Task]) -> None:
        super().__init__(list(rows))

    def __len__(self) -> int:
        return len(self.data)

    def order_by(self, aliases) -> None:
        pass  # never sort locally: the order is TaskRouter's, across all pages


class TaskColumn(tables.Column):
    """A column that renders cells itself. ``text`` is the plain value (CSV export);
    ``cell`` the escaped HTML of the whole cell, given the row's already escaped SID."""

    css_class = ""
    exportable = True  # part of the CSV export

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)
        self.opening = f'<td class="{self.css_class}">' if self.css_class else "<td>"
        # A plain str: getattr() with django-tables2's Accessor (a str subclass) is slower.
        self.field = str(self.accessor) if self.accessor else None

    def text(self, task: Task) -> str:
        value = getattr(task, self.field) if self.field else None
        return "" if value is None else str(value)

    def cell(self, task: Task, sid: str) -> str:
        return f"{self.opening}{escape(self.text(task))}</td>"


class NameColumn(TaskColumn):
    """A queue's or a workflow's name: may wrap, so a long one never widens the table past
    the screen (a task that moved on to its workflow's next target shows that queue)."""

    css_class = "col-name"


class SidColumn(TaskColumn):
    """The task: its title (from TASKDECK_TITLE_ATTRIBUTES) and its SID shortened; the
    link and its tooltip carry the full SID."""

    css_class = "col-sid"
    detail_url = ""  # set by the table, with the SID placeholder

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.references = ()

    def text(self, task: Task) -> str:
        return task.sid

    def cell(self, task: Task, sid: str) -> str:
        href = self.detail_url.replace(_SID_PLACEHOLDER, sid)
        title = titles.task_title(task, self.references)
        short = titles.short_sid(sid)
        # A row header, so screen readers announce which task each cell belongs to. The
        # title is the link and the short SID the header's own text beside it (styled by
        # the header): two elements fewer per row than a link wrapping two spans, and a
        # 1000-row table parses, styles and lays out each.
        link = f'<th scope="row" class="col-sid"><a href="{href}" title="{sid}"'
        if title:
            return f'{link} class="task-title">{escape(title)}</a> {short}</th>'
        return f'{link} class="sid">{short}</a></th>'


class StatusColumn(TaskColumn):
    css_class = "col-status"
    _BADGES = {
        status: f'<td class="col-status"><span class="badge status-{status}">{label}</span></td>'
        for status, label in presentation.STATUS_LABELS.items()
    }

    def text(self, task: Task) -> str:
        return task.assignment_status

    def cell(self, task: Task, sid: str) -> str:
        badge = self._BADGES.get(task.assignment_status)
        if badge is None:  # a status TaskRouter added since: show it as it came
            status = escape(task.assignment_status)
            badge = f'<td class="col-status"><span class="badge">{status}</span></td>'
        return badge


class PriorityColumn(TaskColumn):
    css_class = "col-number"

    def text(self, task: Task) -> str:
        return str(task.priority)

    def cell(self, task: Task, sid: str) -> str:
        return f'<td class="col-number">{task.priority:d}</td>'  # an int: nothing to escape


class TimeColumn(TaskColumn):
    """How long an open task has been waiting, with an agent or wrapping up, as of the
    moment the page was read (`presentation.time_in_status`). The cell keeps the class
    col-age: live refresh moves these times on in rows that did not change."""

    css_class = "col-age"
    now = None  # set by the table: when the rows were read

    def time(self, task: Task) -> presentation.TimeInStatus | None:
        return None if self.now is None else presentation.time_in_status(task, self.now)

    def text(self, task: Task) -> str:
        time = self.time(task)
        return "" if time is None else str(time.seconds)

    def cell(self, task: Task, sid: str) -> str:
        time = self.time(task)
        if time is None:
            return '<td class="col-age"></td>'
        # The duration never breaks inside ("waiting 1 h 43" over "min"); the clock in
        # static/js/taskdeck.js rewrites the span's text as time goes by.
        return (
            f'<td class="col-age" title="{time.title}">{time.word} '
            f'<span class="duration">{presentation.human_duration(time.seconds)}</span></td>'
        )


class BreachColumn(TaskColumn):
    """A waiting task's time to breach its service-level target, in words and colour
    (class breach-now, breach-soon or breach-later): "3 min past target", "due in 40 s".
    Under it, the wait since the task was created when that differs from its time in its
    queue (the Time column's): a re-route restarts the second, never the first. The cell
    carries both moments, so static/js/taskdeck.js moves them on between refreshes and a
    task crossing its target turns breaching without a reload."""

    css_class = "col-breach"
    now = None  # set by the table: when the rows were read

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.targets: dict[str, triage_targets.Targets] = {}

    def breach(self, task: Task) -> triage_breach.Breach | None:
        if task.assignment_status not in triage_breach.WAITING or self.now is None:
            return None
        found = self.targets.get(task.workspace_sid)
        if found is None:
            found = self.targets[task.workspace_sid] = triage_targets.load(task.workspace_sid)
        return triage_breach.of(task, found, self.now)

    def text(self, task: Task) -> str:
        found = self.breach(task)
        return "" if found is None else str(found.remaining)

    def cell(self, task: Task, sid: str) -> str:
        if task.assignment_status not in triage_breach.WAITING:
            return '<td class="col-breach"></td>'
        found = self.breach(task)
        created = task.date_created
        since = ""
        entered = task.task_queue_entered_date
        waited = in_queue = ""
        if created is not None and entered is not None:
            waited = presentation.human_duration((self.now - created).total_seconds())
            in_queue = presentation.human_duration((self.now - entered).total_seconds())
        if waited != in_queue:  # re-routed: its time in this queue (the Time column) restarted
            since = (
                f'<span class="since-created" data-created-at="{created.isoformat()}">'
                f"{waited} since created</span>"
            )
        if found is None:
            return f'<td class="col-breach"><span class="muted">no target</span>{since}</td>'
        words = _breach_words(found.remaining)
        target = presentation.human_duration(found.target)
        return (
            f'<td class="col-breach breach-{found.state}" data-breach-at="{found.at.isoformat()}"'
            f' title="Target {target} from creation">'
            f'<span class="breach-text">{words}</span>{since}</td>'
        )


def _breach_words(remaining: int) -> str:
    """The same words static/js/taskdeck.js writes as time goes by."""
    if remaining < 0:
        return f"⚠ {presentation.human_duration(-remaining)} past target"
    return f"due in {presentation.human_duration(remaining)}"


class HolderColumn(TaskColumn):
    """Who holds a reserved, assigned or wrapping task, from the index (joined to the page's
    rows by SID in one query per table, never a TaskRouter read per row): the agent's name,
    their activity (marked "away" when it does not let them work) and how long the task has
    been with them. Plain text; the tooltip has the worker's SID and exact seconds."""

    css_class = "col-agent"
    holders: Mapping[str, Holder] = {}  # set by the table
    now = None  # set by the table: when the rows were read

    def holder(self, task: Task) -> Holder | None:
        if task.assignment_status not in HELD_STATUSES:
            return None
        return self.holders.get(task.sid)

    def text(self, task: Task) -> str:
        holder = self.holder(task)
        return "" if holder is None or self.now is None else holder.text(self.now)

    def cell(self, task: Task, sid: str) -> str:
        holder = self.holder(task)
        if holder is None or self.now is None:
            return '<td class="col-agent"></td>'
        away = " agent-away" if holder.available is False else ""
        held = holder.held_for(self.now)
        # As in the Time column, the duration never breaks inside ("2 h" over "18 min").
        held = f' · <span class="duration">{held}</span>' if held else ""
        return (
            f'<td class="col-agent{away}" title="{escape(holder.title(self.now))}">'
            f"{escape(holder.label)}{held}</td>"
        )


class MomentColumn(TaskColumn):
    css_class = "col-moment"
    zone = UTC  # set by the table to the display zone before rendering rows
    zone_name = "UTC"  # and to its IANA name (escaped), which each cell carries

    def text(self, task: Task) -> str:
        value = getattr(task, self.field)
        return value.isoformat() if value else ""

    def cell(self, task: Task, sid: str) -> str:
        value = getattr(task, self.field)
        if value is None:
            return '<td class="col-moment"></td>'
        iso, short, utc = presentation.moment_texts(value, self.zone)
        # The cell is the moment (data-at, as a <time>'s datetime), not a <time> inside it:
        # two elements fewer per row. data-zone: static/js/taskdeck.js rewrites a moment
        # only when the viewer's zone is not the one it is written in, so a 1000-row table
        # costs it nothing in that case.
        return (
            f'<td class="col-moment" data-at="{iso}" title="{utc}" '
            f'data-zone="{self.zone_name}">{short}</td>'
        )


class ActionsColumn(TaskColumn):
    """Edit in place; the link opens the task page when JavaScript is off. The row's
    tbody supplies hx-target="closest tr" and hx-swap="outerHTML". Only in an editable
    table; the markup comes from the controls template."""

    css_class = "col-actions"
    exportable = False
    controls: dict[str, str] = {}  # set by the table, with the SID placeholder

    def text(self, task: Task) -> str:
        return ""

    def cell(self, task: Task, sid: str) -> str:
        name = "closed" if task.assignment_status in CLOSED_STATUSES else "edit"
        return self.controls[name].replace(_SID_PLACEHOLDER, sid)


class ReasonColumn(TaskColumn):
    """TaskRouter's free text: it wraps, so a long reason does not widen the table."""

    css_class = "col-reason"


class AttributeValueColumn(TaskColumn):
    """A value from the task's attributes, picked with ``cols=customer.name``."""

    css_class = "col-attribute"
    row_url = ""  # set by the table: this row's URL, to load what the list left out

    def __init__(self, attribute: AttributeColumn, **kwargs) -> None:
        super().__init__(verbose_name=attribute.path, empty_values=(), **kwargs)
        self.reference = attribute.reference

    def text(self, task: Task) -> str:
        return presentation.task_attribute_text(task, self.reference)

    def cell(self, task: Task, sid: str) -> str:
        if task.attributes is None:
            # TaskRouter may leave attributes out of list results; fetching every row on
            # page load would cost one call per row, so the user asks for the ones they need.
            url = self.row_url.replace(_SID_PLACEHOLDER, sid)
            return (
                '<td class="col-attribute attributes-missing">not in list '
                f'<button type="button" class="button-link" hx-get="{url}">load</button></td>'
            )
        return f'<td class="col-attribute">{escape(self.text(task))}</td>'


_SID_PLACEHOLDER = "WT00000000000000000000000000000000"


class TaskTable(tables.Table):
    sid = SidColumn(verbose_name="Task")
    status = StatusColumn(verbose_name="Status")
    priority = PriorityColumn(verbose_name="Priority", orderable=True)
    time = TimeColumn(verbose_name="Time")
    breach = BreachColumn(verbose_name="Target", orderable=True)
    agent = HolderColumn(verbose_name="Agent")
    queue = NameColumn(accessor="task_queue_friendly_name", verbose_name="Queue")
    workflow = NameColumn(accessor="workflow_friendly_name", verbose_name="Workflow")
    created = MomentColumn(accessor="date_created", verbose_name="Created", orderable=True)
    start = MomentColumn(accessor="virtual_start_time", verbose_name="Start", orderable=True)
    reason = ReasonColumn(accessor="reason", verbose_name="Reason")
    actions = ActionsColumn(verbose_name="Actions")

    class Meta:
        order_by_field = "sort"
        # Attribute columns (added per request) go before the row's actions.
        sequence = ("...", "actions")
        orderable = False
        template_name = "tasks/_task_table.html"

    def __init__(
        self,
        tasks: Sequence[Task],
        *,
        workspace_slug: str,
        attribute_columns: Sequence[AttributeColumn] = (),
        order_by: Sequence[str] = (),
        query: Mapping[str, list[str]] | None = None,
        editable: bool = True,
        now: datetime | None = None,
        targets: triage_targets.Targets | None = None,
    ) -> None:
        tasks = list(tasks)
        # Time to breach only where the workspace has service-level targets: without any,
        # every cell would say "no target" and only widen the table.
        workspace_sid = tasks[0].workspace_sid if tasks else ""
        found = None
        if workspace_sid:  # the page's own read of the targets when it has one
            found = targets if targets is not None else triage_targets.load(workspace_sid)
        hidden = ("breach",) if found is None or found.empty else ()
        super().__init__(
            RemotePage(tasks),
            order_by=tuple(order_by),
            extra_columns=[
                (f"attr_{i}", AttributeValueColumn(a)) for i, a in enumerate(attribute_columns)
            ],
            exclude=(() if editable else ("actions",)) + hidden,
        )
        self.targets = {workspace_sid: found} if found is not None else {}
        # The one switch for every control that writes: checkboxes, Edit, select-all.
        self.editable = editable
        self.now = now or datetime.now(UTC)
        self.query = dict(query or {})
        cols = ",".join(a.path for a in attribute_columns)
        # A row's own URLs carry the table's attribute columns, so a redrawn row matches.
        row_query = f"?{urlencode({'cols': cols})}" if cols else ""
        self._urls = {
            "detail": reverse("task_detail", args=[workspace_slug, _SID_PLACEHOLDER]),
            "row": reverse("task_row", args=[workspace_slug, _SID_PLACEHOLDER]) + row_query,
            "edit": reverse("task_row_edit", args=[workspace_slug, _SID_PLACEHOLDER]) + row_query,
        }
        self.controls = self._render_controls() if editable else {}
        # Who holds each row's task: one query of the index for the rows TaskRouter says are
        # held (none for a table of pending tasks), whatever the table's size.
        held = [task.sid for task in tasks if task.assignment_status in HELD_STATUSES]
        self.holders = holders_of(held)
        sid_column = self.columns["sid"].column
        sid_column.detail_url = escape(self._urls["detail"])
        sid_column.references = titles.title_references()
        if editable:
            self.columns["actions"].column.controls = self.controls
        for bound in self.columns:
            if isinstance(bound.column, AttributeValueColumn):
                bound.column.row_url = escape(self._urls["row"])

    def _render_controls(self) -> dict[str, str]:
        """The write controls' markup, rendered once with the placeholder SID."""
        context = {
            "editable": self.editable,
            "sid": _SID_PLACEHOLDER,
            "detail_url": self._urls["detail"],
        }
        return {
            name: render_to_string(f"{_CONTROLS_TEMPLATE}#{name}", context).strip()
            for name in ("select-all", "select", "edit", "closed")
        }

    @property
    def edit_url_template(self) -> str:
        """Every row's editor URL with ``{sid}`` for the row's SID: the table's script
        opens a row's editor from it, so no row carries its own htmx attributes."""
        return self._urls["edit"].replace(_SID_PLACEHOLDER, "{sid}")

    def url(self, name: str, sid: str) -> str:
        """A row's URL: ``detail`` (the task page), ``row`` (the row redrawn) or ``edit``
        (its editor); the last two keep the table's attribute columns."""
        return self._urls[name].replace(_SID_PLACEHOLDER, sid)

    # --- headers ---

    def header_html(self) -> SafeString:
        """The header row: scope="col" everywhere, a sort link on the three columns
        TaskRouter can sort by, aria-sort only on the column the rows are sorted by.
        Sort links have stable ids so htmx keeps keyboard focus on them after a swap."""
        marks = {"ascending": " ▲", "descending": " ▼"}
        cells = [self.controls["select-all"]] if self.editable else []
        for cell in self.header_cells():
            label = escape(cell.label)
            if cell.name == "actions":
                # Each row's Edit says what the column is; its name, wider than the
                # links, would only widen the table (screen readers still hear it).
                label = f'<span class="visually-hidden">{label}</span>'
            if cell.sort_href is None:
                cells.append(f'<th scope="col" class="col-{cell.name}">{label}</th>')
                continue
            aria = f' aria-sort="{cell.aria_sort}"' if cell.aria_sort else ""
            mark = marks.get(cell.aria_sort or "", " •" if cell.secondary else " ⇅")
            cells.append(
                f'<th scope="col" class="col-{cell.name} sortable"{aria}>'
                f'<a href="{escape(cell.sort_href)}" id="sort-{cell.name}">{label}'
                f'<span class="sort-mark" aria-hidden="true">{mark}</span></a></th>'
            )
        return mark_safe("".join(cells))  # noqa: S308 - labels and links escaped above

    def header_cells(self) -> list[HeaderCell]:
        primary = self.order_by[0].bare if self.order_by else None
        cells = []
        for bound in self.columns:
            cell = HeaderCell(name=bound.name, label=str(bound.header))
            if bound.orderable:
                cell.sort_href = self._sort_href(bound)
                if bound.name == primary:
                    cell.aria_sort = "descending" if self.order_by[0].is_descending else "ascending"
                elif bound.is_ordered:
                    cell.secondary = True
            cells.append(cell)
        return cells

    def _sort_href(self, bound) -> str:
        """Sorting by a header: that column first (toggled if it already leads), the page
        token dropped (a token belongs to one ordering)."""
        current = self.order_by[0] if self.order_by else None
        if current is not None and current.bare == bound.name:
            alias = current.bare if current.is_descending else f"-{current.bare}"
        else:
            # Priority reads best highest first; dates oldest first, as TaskRouter routes.
            alias = f"-{bound.name}" if bound.name == "priority" else bound.name
        query = {k: v for k, v in self.query.items() if k not in ("sort", "page")}
        query["sort"] = [alias]
        return "?" + urlencode(query, doseq=True)

    # --- body ---

    @property
    def column_count(self) -> int:
        return len(self.columns) + (1 if self.editable else 0)

    def _cell_renderers(self) -> list:
        """Each visible column's cell function, looked up once per table, not per row."""
        zone, name = presentation.display_zone(), escape(presentation.zone_name())
        renderers = []
        for bound in self.columns:
            if isinstance(bound.column, MomentColumn):
                bound.column.zone, bound.column.zone_name = zone, name
            elif isinstance(bound.column, TimeColumn):
                bound.column.now = self.now
            elif isinstance(bound.column, BreachColumn):
                bound.column.now, bound.column.targets = self.now, dict(self.targets)
            elif isinstance(bound.column, HolderColumn):
                bound.column.now, bound.column.holders = self.now, self.holders
            renderers.append(bound.column.cell)
        return renderers

    def row_html(self, task: Task, *, changed: bool = False) -> SafeString:
        # Every value interpolated in the cells went through escape(); the rest is markup.
        return mark_safe(self._row(task, self._cell_renderers(), changed=changed))  # noqa: S308

    def rows_html(self) -> SafeString:
        renderers = self._cell_renderers()
        rows = "\n".join([self._row(task, renderers) for task in self.data])
        return mark_safe(rows)  # noqa: S308

    def _row(self, task: Task, renderers, *, changed: bool = False) -> str:
        sid = escape(task.sid)
        cells = "".join([cell(task, sid) for cell in renderers])
        select = self.controls["select"].replace(_SID_PLACEHOLDER, sid) if self.editable else ""
        marked = ' class="row-changed"' if changed else ""
        return (
            f'<tr id="row-{sid}" data-sid="{sid}" '
            f'data-version="{row_version(task, self.holders.get(task.sid))}"{marked}>'
            f"{select}{cells}</tr>"
        )


@dataclass(slots=True)
class HeaderCell:
    name: str
    label: str
    sort_href: str | None = None
    aria_sort: str | None = None
    secondary: bool = False


def row_version(task: Task, holder: Holder | None = None) -> str:
    """A short fingerprint of a row (age aside, which always moves), so live refresh can
    mark the rows that really changed. List results carry no ETag, but TaskRouter moves
    date_updated on every change; its holder's activity (from the index) changes without
    the task changing. CRC-32 is stable across processes (unlike hash())."""
    updated = task.date_updated.timestamp() if task.date_updated else 0
    held = holder.fingerprint if holder is not None else 0
    fingerprint = f"{task.assignment_status}|{task.priority}|{task.task_queue_sid}|{updated}|{held}"
    return f"{zlib.crc32(fingerprint.encode()):08x}"
