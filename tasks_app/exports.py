"""CSV export of the task table's current filter: every page, up to a cap.

Streamed, so a large export starts at once and never sits in memory. The cap and any
failure part-way are written into the file itself as a last line, because by then the
status code has long been sent.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from django.conf import settings
from django.http import StreamingHttpResponse

from tasks_app.taskrouter import service as taskrouter

logger = logging.getLogger(__name__)

# Spreadsheets execute cells that start with these; task attributes are untrusted text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def tasks_csv(
    *, workspace: taskrouter.Workspace, query: taskrouter.TaskQuery, columns
) -> StreamingHttpResponse:
    """``columns`` is a TaskTable: the export has the table's columns, in its order."""
    limit = settings.TASKDECK_EXPORT_MAX_ROWS
    bound = columns.export_columns()
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow([str(c.header) for c in bound])
        written = 0
        try:
            # One more than the cap, only to know whether there was more.
            for task in taskrouter.iter_tasks(
                workspace_sid=workspace.sid, query=query, limit=limit + 1
            ):
                if written == limit:
                    yield writer.writerow(
                        [
                            f"# Export stopped at the limit of {limit:,} tasks; "
                            "narrow the filter to export the rest."
                        ]
                    )
                    return
                yield writer.writerow([_safe(c.column.text(task)) for c in bound])
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
