"""Structured logs: one JSON object per line, each carrying the request id of the request
(or bulk job) it belongs to, including the TaskRouter call lines the client writes.

The id comes from the incoming ``X-Request-Id`` (a load balancer or proxy may set it) when
it looks like an id, else a new one; it is echoed on the response so a supervisor's
report can be matched with the log lines.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from pythonjsonlogger import core as jsonlogger_core
from pythonjsonlogger import json as jsonlogger

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# Anything else (too long, odd characters) could forge or break log lines: a new id.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current() -> str:
    return _request_id.get()


@contextmanager
def bound(request_id: str) -> Iterator[None]:
    """Log lines written inside carry ``request_id`` (background work names its job)."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-Id", "")
        request_id = given if _ACCEPTABLE.match(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        with bound(request_id):
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response


def request_id_of(record: logging.LogRecord) -> str | None:
    """The request id a record belongs to: the request's own (Django's ``django.request``
    lines are written after the middleware has returned, with the request attached), the
    one of the request or job being served, or the id gunicorn echoed on its response
    (access lines). None where there is none (start-up, a request gunicorn refused)."""
    given = getattr(record, "request_id", None)
    if given and given != "-":
        return given
    request = getattr(record, "request", None)
    if getattr(request, "request_id", None):
        return request.request_id
    if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
        echoed = record.args.get("{x-request-id}o")
        return echoed if isinstance(echoed, str) and _ACCEPTABLE.match(echoed) else None
    current = _request_id.get()
    return None if current == "-" else current


class RequestIdFilter(logging.Filter):
    """Puts the request id on every record (for any formatter to use)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_of(record) or "-"
        return True


# What an access line says, from gunicorn's atoms (its names in parentheses): the request
# as sent, the answer, and the time taken. Values are whatever the client sent; the
# formatter escapes them, so a line break or a quote in a path cannot split or forge a line.
_ACCESS_FIELDS = {
    "remote": "h",
    "method": "m",
    "path": "U",
    "query": "q",
    "protocol": "H",
    "status": "s",
    "bytes": "B",
    "duration_ms": "M",
    "user_agent": "a",
}
# Longest value kept from a client-sent field of an access line.
ACCESS_VALUE_MAX = 2048


class JsonFormatter(jsonlogger.JsonFormatter):
    """One JSON object per line (python-json-logger): time, level, logger, message,
    request id, anything passed as ``extra``, the exception when there is one, and, for
    gunicorn's access lines, the request and its answer field by field.

    Used by Django's logging (settings.LOGGING), gunicorn's (gunicorn.conf.py) and so the
    workers' (manage.py commands configure Django's). Output is ASCII: a byte that is not
    UTF-8 in a path is escaped like everything else, so no line is ever cut or mangled."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("json_ensure_ascii", True)
        kwargs.setdefault("json_default", str)
        # A request object attached by Django is summarised by its id, not dumped.
        kwargs.setdefault(
            "reserved_attrs", [*jsonlogger_core.RESERVED_ATTRS, "request", "request_id"]
        )
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        log_data["request_id"] = request_id_of(record)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for field, atom in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if isinstance(value, str):
                    value = value[:ACCESS_VALUE_MAX]
                log_data[field] = value
        super().add_fields(log_data, record, message_dict)
        if "exc_info" in log_data:
            log_data["exception"] = log_data.pop("exc_info")
