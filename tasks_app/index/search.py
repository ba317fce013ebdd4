"""Forgiving search over the task index: any case, any accents, any attribute value, a
phone number in any format, every workspace, open, closed and deleted tasks.

What a person types is folded exactly as the index folds attribute values
(`tasks_app.index.text`), then split into words; a task matches when its
``search_text`` contains every word (anywhere: "garc" finds "García"). A word without
letters that holds at least `text.MIN_DIGITS` digits is compared by its digits alone, and so
is a whole text without letters: "(415) 555-0100" looks for "4155550100", which the index
holds for "+14155550100". A task SID opens that task.

Substring search is made fast by an index on ``search_text`` (migration
``0002_search_text_index``): on SQLite an FTS5 table with the trigram tokenizer, kept in
step by triggers; on PostgreSQL a pg_trgm GIN index. A trigram index needs words of three
characters or more; shorter words only narrow what the longer ones found, so a text of
short words alone is refused with a message.

At most `POOL` matches are ranked (the most recently indexed ones): a text so common that
more tasks match says so and asks for more words, in bounded time, rather than sorting
the whole index.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, IntegerField, Q, Value, When

from tasks_app.search import task_sid_in
from tasks_app.titles import attributes_title

from .models import IndexedTask
from .text import MIN_DIGITS, digits, fold

# Enough for a name and an e-mail, or a subject line.
MAX_CHARS = 100
# A trigram index finds words of three characters or more.
MIN_WORD = 3
# Matches ranked per search; beyond this the page asks for more words.
POOL = 1000
# Results shown.
SHOWN = 50


class SearchError(ValueError):
    """The text cannot be searched for; the message says why and what to type instead."""


@dataclass(frozen=True)
class Query:
    text: str
    # What a matching task's search_text contains, every one of them.
    words: tuple[str, ...]
    # A task SID: the task to open, whatever the index knows of it.
    sid: str | None = None


def parse(text: str) -> Query:
    """The query for ``text`` as typed, or :class:`SearchError` with a message to show."""
    text = " ".join(text.split())  # tabs and line breaks of a paste are spaces
    if not text:
        raise SearchError(
            "Type something to search for: a name, an e-mail, a phone number, a ticket "
            "number or a task SID."
        )
    if len(text) > MAX_CHARS:
        raise SearchError(f"Search for at most {MAX_CHARS} characters (this is {len(text)}).")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in text):
        raise SearchError("Search text cannot hold control or unassigned characters.")
    sid = task_sid_in(text)
    if sid is not None:
        return Query(text=text, words=(sid.lower(),), sid=sid)
    folded = fold(text)
    if _is_number(folded):
        words = [digits(folded)]  # a phone number as written: "(415) 555-0100"
    else:
        words = [digits(word) if _is_number(word) else word for word in folded.split(" ")]
    words = list(dict.fromkeys(w for w in words if w))
    if not any(len(word) >= MIN_WORD for word in words):
        raise SearchError(
            f"Type at least {MIN_WORD} letters or digits in a row (part of a name, an "
            "e-mail, a number): shorter text would match almost every task."
        )
    return Query(text=text, words=tuple(words))


def _is_number(text: str) -> bool:
    """No letters, and enough digits to be a number worth comparing by its digits."""
    return not any(c.isalpha() for c in text) and len(digits(text)) >= MIN_DIGITS


# --- finding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    task: IndexedTask
    title: str
    # Where the text was found: (attribute path, value), the first few.
    matched: tuple[tuple[str, str], ...]

    @property
    def deleted(self) -> bool:
        return self.task.deleted_at is not None

    @property
    def closed(self) -> bool:
        return not self.task.open


@dataclass(frozen=True)
class Results:
    query: Query
    hits: tuple[Hit, ...]
    # How many tasks match, counted up to POOL; ``more``: more than POOL do.
    count: int
    more: bool

    @property
    def single(self) -> Hit | None:
        """The one match, when there is exactly one."""
        return self.hits[0] if self.count == 1 and not self.more else None


def find(query: Query, *, using: str = DEFAULT_DB_ALIAS, shown: int = SHOWN) -> Results:
    """The tasks that match, open ones first, then closed, then deleted; the most recent
    change first within each."""
    connection = connections[using]
    ids = _matching_ids(connection, query.words, POOL + 1)
    more = len(ids) > POOL
    ids = ids[:POOL]
    rank = Case(
        When(deleted_at__isnull=False, then=Value(2)),
        When(status__in=("canceled", "completed"), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    rows = (
        IndexedTask.objects.using(using)
        .filter(pk__in=ids)
        .annotate(rank=rank)
        .order_by("rank", "-as_of_ms", "-pk")[:shown]
    )
    hits = tuple(
        Hit(task=row, title=attributes_title(row.attributes), matched=matched_values(row, query))
        for row in rows
    )
    return Results(query=query, hits=hits, count=len(ids), more=more)


# Placeholders only are added ({narrow}: one LIKE per short word).
_SQLITE_MATCH = (
    "SELECT s.rowid FROM index_task_search s JOIN index_indexedtask t ON t.id = s.rowid "
    "WHERE index_task_search MATCH %s{narrow} ORDER BY s.rowid DESC LIMIT %s"
)


def _matching_ids(connection: BaseDatabaseWrapper, words: tuple[str, ...], limit: int) -> list:
    """The ids of the most recently indexed tasks whose text holds every word."""
    long = [w for w in words if len(w) >= MIN_WORD]
    short = [w for w in words if len(w) < MIN_WORD]
    if connection.vendor == "sqlite":
        # Each word a quoted FTS5 string: with the trigram tokenizer, a substring.
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in long)
        narrow = "".join(" AND t.search_text LIKE %s ESCAPE '\\'" for _ in short)
        sql = _SQLITE_MATCH.format(narrow=narrow)
        params: list[Any] = [match, *(f"%{_like_escape(w)}%" for w in short), limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]
    # PostgreSQL (the pg_trgm GIN index serves LIKE '%word%'), and any other database
    # (a scan: correct, not fast).
    condition = Q()
    for word in words:
        condition &= Q(search_text__contains=word)
    rows = IndexedTask.objects.using(connection.alias).filter(condition).order_by("-pk")
    return list(rows.values_list("pk", flat=True)[:limit])


def _like_escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    elif not isinstance(value, bool) and value is not None:
        yield path, str(value)


def matched_values(task: IndexedTask, query: Query, most: int = 3) -> tuple[tuple[str, str], ...]:
    """The attribute values (path, value) that hold one of the query's words, as search
    compares them, so a person sees why a task was found."""
    found: list[tuple[str, str]] = []
    for path, value in _leaves(task.attributes or {}):
        folded, number = fold(value), digits(value)
        if any(w in folded or (w.isdigit() and w in number) for w in query.words):
            found.append((path, value))
            if len(found) == most:
                break
    return tuple(found)
