"""A task's human title: the first of the configured attribute paths its attributes carry.

TASKDECK_TITLE_ATTRIBUTES lists the paths (``customer.name,name,from`` by default, the way
contact-centre tasks usually name who is waiting). Titles are untrusted text: whoever
renders one escapes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import Reference, parse_reference, resolve
from tasks_app.taskrouter.resources import Task

# Long enough for any name; a title is a label, not a place to read an essay.
MAX_TITLE_CHARS = 120


@lru_cache(maxsize=8)
def _references(paths: tuple[str, ...]) -> tuple[Reference, ...]:
    references = []
    for path in paths:
        try:
            references.append(parse_reference(path, param="TASKDECK_TITLE_ATTRIBUTES"))
        except InvalidParameter as error:
            raise ImproperlyConfigured(
                f"TASKDECK_TITLE_ATTRIBUTES: {path!r} is not an attribute path "
                f"({error.user_message})"
            ) from None
    return tuple(references)


def title_references() -> tuple[Reference, ...]:
    paths: Sequence[str] = settings.TASKDECK_TITLE_ATTRIBUTES
    return _references(tuple(p.strip() for p in paths if p.strip()))


def task_title(task: Task, references: Sequence[Reference] | None = None) -> str:
    """The first configured path that holds text or a number; "" when none does (or when
    TaskRouter left the attributes out of a list result)."""
    return attributes_title(task.attributes, references)


def attributes_title(attributes: Any, references: Sequence[Reference] | None = None) -> str:
    """The title a task with these attributes has (see `task_title`)."""
    if not attributes or not isinstance(attributes, dict):
        return ""
    for reference in title_references() if references is None else references:
        value = resolve(reference, attributes)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1] + "…"
    return ""


def short_sid(sid: str) -> str:
    """``WT…a1b2``: enough to tell rows apart at a glance; the full SID stays in the link."""
    return f"{sid[:2]}…{sid[-4:]}" if len(sid) > 8 else sid
