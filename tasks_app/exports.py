"""CSV export of the task table's current filter: every page, up to a cap.

Streamed, so a large export starts at once and never sits in memory. The cap and any
failure part-way are written into the file itself as a last line, because by then the
status code has long been sent.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.http import StreamingHttpResponse

from tasks_app import presentation, titles
from tasks_app.forms import AttributeColumn
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.expressions import Reference
from tasks_app.taskrouter.resources import Task

logger = logging.getLogger(__name__)

# Spreadsheets execute cells that start with these; task attributes are untrusted text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class CsvColumn:
    header: str
    text: Callable[[Task], str]


def _plain(value: object) -> str:
    return "" if value is None else str(value)


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value else ""


# The export's own column list: every field a spreadsheet may want, exact values (seconds,
# ISO 8601 in UTC), whatever the table on screen shows.
COLUMNS: tuple[CsvColumn, ...] = (
    CsvColumn("Task", lambda t: t.sid),
    CsvColumn("Status", lambda t: t.assignment_status),
    CsvColumn("Priority", lambda t: str(t.priority)),
    CsvColumn("Title", titles.task_title),
    CsvColumn("Age", lambda t: str(t.age)),
    CsvColumn("Queue", lambda t: _plain(t.task_queue_friendly_name)),
    CsvColumn("In queue since", lambda t: _moment(t.task_queue_entered_date)),
    CsvColumn("Workflow", lambda t: _plain(t.workflow_friendly_name)),
    CsvColumn("Channel", lambda t: _plain(t.task_channel_unique_name)),
    CsvColumn("Created", lambda t: _moment(t.date_created)),
    CsvColumn("Start", lambda t: _moment(t.virtual_start_time)),
    CsvColumn("Reason", lambda t: _plain(t.reason)),
)


def _attribute(reference: Reference) -> Callable[[Task], str]:
    return lambda task: presentation.task_attribute_text(task, reference)


def export_columns(attribute_columns: Sequence[AttributeColumn] = ()) -> list[CsvColumn]:
    """The fixed columns, then the attribute columns the table was asked for."""
    extra = [CsvColumn(a.path, _attribute(a.reference)) for a in attribute_columns]
    return [*COLUMNS, *extra]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def tasks_csv(
    *,
    workspace: taskrouter.Workspace,
    query: taskrouter.TaskQuery,
    attribute_columns: Sequence[AttributeColumn] = (),
    tasks: Sequence[Task] | None = None,
) -> StreamingHttpResponse:
    """``tasks``: the rows already chosen (the agent filters choose them from the index);
    otherwise every task TaskRouter lists for ``query``."""
    limit = settings.TASKDECK_EXPORT_MAX_ROWS
    columns = export_columns(attribute_columns)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow([c.header for c in columns])
        written = 0
        try:
            # One more than the cap, only to know whether there was more.
            source = (
                tasks
                if tasks is not None
                else taskrouter.iter_tasks(
                    workspace_sid=workspace.sid, query=query, limit=limit + 1
                )
            )
            for task in source:
                if written == limit:
                    yield writer.writerow(
                        [
                            f"# Export stopped at the limit of {limit:,} tasks; "
                            "narrow the filter to export the rest."
                        ]
                    )
                    return
                yield writer.writerow([_safe(c.text(task)) for c in columns])
                written += 1
        except Exception as error:
            if not isinstance(error, taskrouter.TaskRouterError):
                logger.exception("CSV export failed after %d tasks", written)
            message = getattr(error, "user_message", "a task could not be written.")
            yield writer.writerow([f"# Export incomplete after {written:,} tasks: {message}"])

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    filename = f"tasks-{workspace.sid}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Taskdeck-Export-Limit"] = str(limit)
    return response
