"""The embedded sandbox, wired in as TaskRouter's transport.

Settings name `transport` in ``TASKROUTER_TRANSPORTS`` for the sandbox's base URL, and the
service package's client mounts what it returns on its requests session: the client runs
the same code it runs against taskrouter.twilio.com, minus the socket, and nothing in
`tasks_app.taskrouter` knows the sandbox exists. The sandbox accepts the credentials
Taskdeck is configured with (settings default them to its development credentials).
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings
from requests.adapters import BaseAdapter

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    Credentials,
    SandboxApp,
    SandboxStore,
    ensure_seeded,
    in_process_adapter,
)
from tasks_app.sandbox.housekeeping import Housekeeper

_lock = threading.Lock()
# (db path, credentials, options) -> (transport adapter, its store)
_sandboxes: dict[tuple, tuple[BaseAdapter, SandboxStore]] = {}


def sandbox_credentials() -> Credentials:
    """What the sandbox accepts: Taskdeck's configured credentials, else the defaults."""
    if not (settings.TWILIO_ACCOUNT_SID or settings.TWILIO_API_KEY):
        return DEVELOPMENT_CREDENTIALS
    return Credentials(
        account_sid=settings.TWILIO_ACCOUNT_SID or DEVELOPMENT_CREDENTIALS.account_sid,
        auth_token=settings.TWILIO_AUTH_TOKEN or DEVELOPMENT_CREDENTIALS.auth_token,
        api_key=settings.TWILIO_API_KEY or None,
        api_secret=settings.TWILIO_API_SECRET or None,
    )


def transport() -> BaseAdapter:
    """The transport adapter for this process's embedded sandbox (built and seeded once
    per sandbox file and configuration)."""
    key = (
        str(settings.SANDBOX_DB_PATH),
        sandbox_credentials(),
        settings.SANDBOX_LIST_ATTRIBUTES,
        settings.SANDBOX_SEED_TASKS,
        settings.SANDBOX_PURGE_AFTER,
    )
    built = _sandboxes.get(key)
    if built is None:
        with _lock:
            built = _sandboxes.get(key) or _build(*key)
            _sandboxes[key] = built
    return built[0]


def reset() -> None:
    """Forget every embedded sandbox of this process (tests give each test its own file)."""
    with _lock:
        for _adapter, store in _sandboxes.values():
            store.close()
        _sandboxes.clear()


def _build(
    db_path: str,
    credentials: Credentials,
    list_attributes: bool,
    seed_tasks: int,
    purge_after: float | None,
):
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    store = SandboxStore(db_path)
    ensure_seeded(store, tasks=seed_tasks)
    # TaskRouter's clock (TTL expiry, the purge of closed tasks) runs on Taskdeck's own
    # requests, at most once a second: no thread, nothing to start.
    app = SandboxApp(
        store,
        credentials=credentials,
        list_attributes=list_attributes,
        housekeeper=Housekeeper(store, purge_after=purge_after),
    )
    return in_process_adapter(app), store
