"""An embedded, faithful stand-in for TaskRouter v1 (``https://taskrouter.twilio.com/v1``).

Taskdeck runs and is tested against it with no Twilio account and no network: Workspaces,
Workflows, TaskQueues, TaskChannels (list, fetch), Tasks (create, fetch, list, update,
delete), Activities, Workers, Worker Channels and Reservations, every Statistics resource
and Events (list, fetch: every change records them, :mod:`.events`), answering like
TaskRouter (JSON shapes, ETags and If-Match, page tokens, errors), assigning tasks to
workers as it does (:mod:`.assignment`), with TaskRouter's own clock (:mod:`.housekeeping`:
reservation and target timeouts, TTL expiry, closed tasks purged 5 to 8 minutes after
closing).

A plain WSGI application over its own SQLite file; stdlib only, plus the pure-Python domain
rules it shares with the dashboard (``tasks_app.taskrouter.rules``, ``.errors``,
``.expressions``, ``.routing``, ``.query``, ``.limits``). Nothing else from tasks_app is
imported here.

    store = SandboxStore("var/sandbox.sqlite3"); ensure_seeded(store)
    app = SandboxApp(store, credentials=Credentials.development())
    session.mount("http://taskrouter.sandbox.invalid", in_process_adapter(app))  # no socket
    with SandboxServer(app) as server: requests.get(server.url + "/v1/Workspaces", ...)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .app import SandboxApp
from .auth import DEVELOPMENT_CREDENTIALS, Credentials
from .faults import Fault, FaultPlan
from .housekeeping import Housekeeper
from .seed import ensure_seeded
from .server import SandboxServer
from .simulate import Simulator
from .store import SandboxStore

if TYPE_CHECKING:
    from requests.adapters import BaseAdapter


def in_process_adapter(app: Callable[..., Iterable[bytes]]) -> BaseAdapter:
    """A requests transport adapter that calls ``app`` (a WSGI callable) with no socket.

    Imported on use, so the sandbox itself needs nothing beyond the standard library.
    """
    from .transport import in_process_adapter as build

    return build(app)


__all__ = [
    "DEVELOPMENT_CREDENTIALS",
    "Credentials",
    "Fault",
    "FaultPlan",
    "Housekeeper",
    "SandboxApp",
    "SandboxServer",
    "SandboxStore",
    "Simulator",
    "ensure_seeded",
    "in_process_adapter",
]
