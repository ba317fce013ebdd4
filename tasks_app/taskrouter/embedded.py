"""The embedded sandbox, reached in-process through a requests transport adapter.

Only used while TASKROUTER_BASE_URL is the default: the client then runs the same code it
runs against taskrouter.twilio.com, minus the socket. The sandbox accepts the credentials
Taskdeck is configured with, or its documented development credentials when none are set.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()


def development_credentials() -> tuple[str, str]:
    from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS

    return DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token


def sandbox_credentials():
    """What the sandbox accepts: Taskdeck's configured credentials, else the defaults."""
    from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS, Credentials

    if not (settings.TWILIO_ACCOUNT_SID or settings.TWILIO_API_KEY):
        return DEVELOPMENT_CREDENTIALS
    return Credentials(
        account_sid=settings.TWILIO_ACCOUNT_SID or DEVELOPMENT_CREDENTIALS.account_sid,
        auth_token=settings.TWILIO_AUTH_TOKEN or DEVELOPMENT_CREDENTIALS.auth_token,
        api_key=settings.TWILIO_API_KEY or None,
        api_secret=settings.TWILIO_API_SECRET or None,
    )


def sandbox_adapter():
    """The transport adapter for this process's embedded sandbox (built and seeded once)."""
    key = (
        str(settings.SANDBOX_DB_PATH),
        sandbox_credentials(),
        settings.SANDBOX_LIST_ATTRIBUTES,
        settings.SANDBOX_SEED_TASKS,
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


# (db path, credentials, options) -> (transport adapter, its store)
_sandboxes: dict[tuple, tuple] = {}


def _build(db_path: str, credentials, list_attributes: bool, seed_tasks: int):
    from tasks_app.sandbox import SandboxApp, SandboxStore, in_process_adapter

    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    store = SandboxStore(db_path)
    store.ensure_seeded(tasks=seed_tasks)
    app = SandboxApp(store, credentials=credentials, list_attributes=list_attributes)
    return in_process_adapter(app), store
