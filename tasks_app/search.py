"""The task table's search box: a task SID opens that task; other text becomes a TaskRouter
expression over the attribute paths in TASKDECK_SEARCH_ATTRIBUTES.

TaskRouter has no free-text search, only ``EvaluateTaskAttributes``, so the text is put
into an expression: ``customer.name CONTAINS "Acme" OR name CONTAINS "Acme" ...``
(``CONTAINS`` is TaskRouter's substring test on strings; it is case-sensitive). The text
becomes a string literal, and TaskRouter documents no escape inside one, so a text that a
literal cannot hold as it is (both kinds of quote, a backslash, a control character) is
refused with a message rather than guessed at: nothing reaches TaskRouter that it might
read differently from what the person typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tasks_app.taskrouter.errors import InvalidParameter
from tasks_app.taskrouter.expressions import check_expression, parse_reference

# Enough for a name, a phone number or a subject line; the expression repeats the text
# once per path, and TaskRouter's URL (a GET) should stay short.
SEARCH_MAX_CHARS = 100

_TASK_SID = re.compile(r"WT[0-9a-f]{32}", re.IGNORECASE)


class SearchTextError(ValueError):
    """The text cannot be searched for; the message says why, in plain words."""


def task_sid_in(text: str) -> str | None:
    """``WT`` and 32 hex digits (spaces around it and the case of the letters do not
    matter), as TaskRouter spells a SID; ``None`` for any other text."""
    text = text.strip()
    if not _TASK_SID.fullmatch(text):
        return None
    return "WT" + text[2:].lower()


@lru_cache(maxsize=8)
def _paths(configured: tuple[str, ...]) -> tuple[str, ...]:
    paths = []
    for path in configured:
        try:
            parse_reference(path, param="TASKDECK_SEARCH_ATTRIBUTES")
        except InvalidParameter as error:
            raise ImproperlyConfigured(
                f"TASKDECK_SEARCH_ATTRIBUTES: {path!r} is not an attribute path "
                f"({error.user_message})"
            ) from None
        paths.append(path)
    if not paths:
        raise ImproperlyConfigured("TASKDECK_SEARCH_ATTRIBUTES names no attribute path.")
    return tuple(paths)


def search_paths() -> tuple[str, ...]:
    configured: Sequence[str] = settings.TASKDECK_SEARCH_ATTRIBUTES
    return _paths(tuple(p.strip() for p in configured if p.strip()))


def string_literal(text: str) -> str:
    """``text`` as a TaskRouter string literal, or :class:`SearchTextError`. Double quotes
    unless the text holds one, then single quotes; no escapes, since TaskRouter documents
    none."""
    if len(text) > SEARCH_MAX_CHARS:
        raise SearchTextError(
            f"Search for at most {SEARCH_MAX_CHARS} characters (this is {len(text)})."
        )
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise SearchTextError("Search text cannot hold line breaks, tabs or control characters.")
    if "\\" in text:
        raise SearchTextError(
            "Search text cannot hold a backslash (\\): TaskRouter expressions do not say "
            "how one is read. Search for the text around it."
        )
    if '"' in text and "'" in text:
        raise SearchTextError(
            "Search text can hold double quotes (\") or single quotes ('), not both: a "
            "TaskRouter string cannot contain both. Search for the part without one kind."
        )
    quote = "'" if '"' in text else '"'
    return f"{quote}{text}{quote}"


def search_expression(text: str) -> str:
    """The TaskRouter expression that finds ``text`` in any of the search paths."""
    literal = string_literal(text)
    expression = " OR ".join(f"{path} CONTAINS {literal}" for path in search_paths())
    # Built only from checked parts, so this cannot fail; parsing it once more with the
    # expression module's own rules makes sure of that before TaskRouter sees it.
    return check_expression(expression, param="q")


def combined(where: str, search: str) -> str:
    """The table's ``where`` and the search, both required: each in parentheses, since
    AND binds tighter than OR."""
    if where and search:
        return f"({where}) AND ({search})"
    return where or search
