"""Tiny helpers that read settings from the environment (no settings framework needed).

An empty value means the default, exactly as if the variable were unset, so a copy of
.env.example with blanks left in it starts Taskdeck with the documented defaults. Each
helper raises ImproperlyConfigured naming the variable when its value cannot be used, so a
typo in a deployment stops start-up with a message instead of running with a surprise;
`configuration_errors_in_one_line` turns that into one line on stderr, not a traceback.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    """The variable's value without surrounding blanks; None when unset or empty."""
    return os.environ.get(name, "").strip() or None


def env_str(name: str, default: str = "") -> str:
    return _raw(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    """A number; greater than zero unless a ``minimum`` is given."""
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None
    if (minimum is None and value <= 0) or (minimum is not None and value < minimum):
        bound = "greater than zero" if minimum is None else f"at least {minimum:g}"
        raise ImproperlyConfigured(f"{name} must be {bound}, not {raw!r}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Comma-separated items; the default when there are none (``,`` alone included)."""
    items = [item.strip() for item in (_raw(name) or "").split(",") if item.strip()]
    return items or list(default or [])


@contextmanager
def configuration_errors_in_one_line() -> Iterator[None]:
    """Around start-up (manage.py, the WSGI module, gunicorn.conf.py): a setting that
    cannot work ends the process with status 1 and one line on stderr saying what is wrong
    and what to set, instead of a traceback through Django's settings loader."""
    try:
        yield
    except ImproperlyConfigured as error:
        sys.stderr.write(f"Taskdeck cannot start: {' '.join(str(error).split())}\n")
        sys.stderr.flush()
        if threading.current_thread() is not threading.main_thread():
            # runserver loads the application in a thread, where SystemExit would end the
            # thread alone and leave the reloader waiting for a file to change: no edit
            # fixes the environment, so the process ends (its reloader then does too).
            sys.stdout.flush()
            os._exit(1)
        raise SystemExit(1) from None
