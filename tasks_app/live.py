"""Live refresh of the task table, priced for the common case: nothing changed.

The browser sends what it shows in one request header, ``Taskdeck-Rows``: for each row,
in order, a 4-byte key, base64-encoded (268 characters for 50 rows). A row's key is its
``data-version`` (a fingerprint of what the row shows, see ``tables.row_version``) XORed
with the last 8 hex digits of its SID, so two rows that happen to share a fingerprint
still differ; static/js/taskdeck.js computes the same keys from the rows' data.

The answer:

* **204, no body**, when the page's rows are the rows the browser has, in the same
  order; only ``Taskdeck-Read-At`` says when TaskRouter was asked, so the page can say
  how old its data is.
* Otherwise **200** with a ``<tbody>`` holding only the rows the browser lacks (changed
  or new), and ``data-order``: every SID of the page in order, so the browser keeps the
  rows it has, drops the ones that left and puts the new ones in place. Without the
  header (or with one that cannot be read) every row travels.

The read itself is the table's own (shared reads through the cache included): only what
travels back changes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html

from tasks_app.index.holders import holders_of
from tasks_app.tables import TaskTable, row_version
from tasks_app.taskrouter import service as taskrouter

ROWS_HEADER = "Taskdeck-Rows"
READ_AT_HEADER = "Taskdeck-Read-At"
_KEY_BYTES = 4


def row_key(sid: str, version: str) -> int:
    """The 32-bit key of one row as the browser shows it."""
    try:
        sid_bits = int(sid[-8:], 16)
    except ValueError:  # SIDs are hex by TaskRouter's spec; anything else keys by version
        sid_bits = 0
    return (int(version, 16) ^ sid_bits) & 0xFFFFFFFF


def encode_keys(keys: Sequence[int]) -> str:
    """The header value for these keys (what the browser sends; tests use it too)."""
    raw = b"".join(key.to_bytes(_KEY_BYTES, "big") for key in keys)
    return base64.b64encode(raw).decode("ascii")


def client_keys(request: HttpRequest) -> list[int] | None:
    """The keys of the rows the browser has, in order; None when it did not say (or
    said something unreadable: then it simply gets every row)."""
    value = request.headers.get(ROWS_HEADER)
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) % _KEY_BYTES:
        return None
    return [int.from_bytes(raw[i : i + _KEY_BYTES], "big") for i in range(0, len(raw), _KEY_BYTES)]


def rows_response(
    request: HttpRequest,
    page: taskrouter.TaskPage,
    table_for: Callable[[Sequence[taskrouter.Task]], TaskTable],
) -> HttpResponse:
    """The answer to a live refresh of ``page`` (see the module docstring)."""
    holders = holders_of(task.sid for task in page.tasks)  # one query of the index
    keys = [row_key(task.sid, row_version(task, holders.get(task.sid))) for task in page.tasks]
    have = client_keys(request)
    read_at = page.read_at.isoformat()
    if have == keys:
        response = HttpResponse(status=204)
    else:
        known = frozenset(have or ())
        lacking = [task for task, key in zip(page.tasks, keys, strict=True) if key not in known]
        body = format_html(
            '<tbody id="task-rows" data-read-at="{}" data-order="{}">{}</tbody>',
            read_at,
            " ".join(task.sid for task in page.tasks),
            table_for(lacking).rows_html(),
        )
        response = HttpResponse(body)
    response[READ_AT_HEADER] = read_at
    patch_vary_headers(response, ["HX-Request", "HX-Target", ROWS_HEADER])
    return response
