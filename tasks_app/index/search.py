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

import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

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
# Results shown: enough to spot the one meant; more words narrow the rest.
SHOWN = 25


class SearchError(ValueError):
    """The text cannot be searched for; the message says why and what to type instead."""


class PageError(ValueError):
    """The page asked for is not a page number; the message says what is."""


def page_number(raw: str | None) -> int:
    """The results page asked for (``page``, counted from 1; 1 when not given), or
    :class:`PageError` with a message to show."""
    if raw is None or raw == "":
        return 1
    text = raw.strip()
    # The length first: int() refuses a string of thousands of digits with an error.
    if not text.isascii() or not text.isdigit() or len(text) > 6 or int(text) < 1:
        raise PageError(
            f"“{raw[:20]}” is not a page of these matches: pages are numbered from 1. "
            "The first page is shown."
        )
    return int(text)


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
    # Which page of ``shown`` matches ``hits`` is, counted from 1.
    page: int = 1
    shown: int = SHOWN
    # A page past the last was asked for (a link from before tasks were deleted from the
    # index, or typed): its number; the last page is what ``hits`` holds.
    past_the_end: int | None = None

    @property
    def single(self) -> Hit | None:
        """The one match, when there is exactly one."""
        return self.hits[0] if self.count == 1 and not self.more else None

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.shown))

    @property
    def first_number(self) -> int:
        """The place of the page's first match among all of them (1 for the first)."""
        return (self.page - 1) * self.shown + 1

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.hits) - 1

    @property
    def newer_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def older_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def find(
    query: Query, *, using: str = DEFAULT_DB_ALIAS, shown: int = SHOWN, page: int = 1
) -> Results:
    """The tasks that match, open ones first, then closed, then deleted; the newest first
    within each (by creation, the time the page shows beside each): the ``page``-th
    ``shown`` of them. One query: the pool of matches (the most recently indexed POOL + 1),
    counted, and that page of it in that order. A page past the last gives the last page
    (``past_the_end`` says which was asked), at the cost of two more queries."""
    results = _find(query, using, shown, page)
    if results.hits or page == 1:
        return results
    first = _find(query, using, shown, 1)
    if not first.hits:
        return first  # nothing matches at all: no page to speak of
    found = _find(query, using, shown, first.pages) if first.pages > 1 else first
    return replace(found, past_the_end=page)


def _find(query: Query, using: str, shown: int, page: int) -> Results:
    connection = connections[using]
    pool, params = _pool(connection, query.words)
    rows = list(
        IndexedTask.objects.using(using).raw(
            _RANKED.format(pool=pool), [*params, POOL + 1, shown, (page - 1) * shown]
        )
    )
    count = rows[0].pool_count if rows else 0
    hits = tuple(
        Hit(task=row, title=attributes_title(row.attributes), matched=matched_values(row, query))
        for row in rows
    )
    return Results(
        query=query, hits=hits, count=min(count, POOL), more=count > POOL, page=page, shown=shown
    )


# {pool}: a SELECT of the matching ids, from `_pool` (placeholders only). The CTE is read
# twice (counted, joined): MATERIALIZED makes both databases compute it once.
_RANKED = (
    "WITH pool AS MATERIALIZED ({pool} ORDER BY id DESC LIMIT %s) "
    "SELECT t.*, (SELECT count(*) FROM pool) AS pool_count "
    "FROM index_indexedtask t JOIN pool ON pool.id = t.id ORDER BY "
    "CASE WHEN t.deleted_at IS NOT NULL THEN 2 "
    "WHEN t.status IN ('canceled', 'completed') THEN 1 ELSE 0 END, "
    # Newest first, as the page's Created column reads: as_of_ms is when Taskdeck last
    # saw a task (a full read of the workspace refreshes every row), not when it changed.
    # "IS NULL" first: both databases then put a task of unknown age last.
    "t.created_at IS NULL, t.created_at DESC, t.id DESC LIMIT %s OFFSET %s"
)


def _pool(connection: BaseDatabaseWrapper, words: tuple[str, ...]) -> tuple[str, list]:
    """The SELECT of the ids of tasks whose text holds every word, with its parameters."""
    if connection.vendor == "sqlite":
        return _sqlite_pool(words, connection.alias)
    # PostgreSQL: the pg_trgm GIN index serves LIKE '%word%' (any other database scans:
    # correct, not fast).
    condition = " AND ".join(["search_text LIKE %s"] * len(words))
    return (
        f"SELECT id FROM index_indexedtask WHERE {condition}",  # noqa: S608 - placeholders
        [f"%{_like_escape(word)}%" for word in words],
    )


def _like_escape(word: str) -> str:
    """``word`` as itself inside a LIKE pattern (backslash is the default escape)."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A word of up to this many characters is looked up whole, as an FTS5 phrase (its
# trigrams side by side); a longer one by its rarest trigrams, then checked whole.
PHRASE_CHARS = 7
RARE_TRIGRAMS = 3
# How many recently indexed tasks tell how common each trigram is, and for how long.
RARITY_SAMPLE = 500
RARITY_SECONDS = 600.0
_rarity: dict[str, tuple[float, dict[str, int]]] = {}


def _sqlite_pool(words: tuple[str, ...], using: str) -> tuple[str, list]:
    """FTS5 with the trigram tokenizer: a quoted string matches where its trigrams stand
    side by side, a substring. The cost of a phrase grows with its trigrams' document
    lists, and the trigrams of "maria.garcia@example.com" include ".co", "com" and "exa",
    which nearly every task holds. So a long word asks the index only for its rarest few
    trigrams (how common each is, estimated from recently indexed tasks), in any place,
    and the candidates are then checked for the whole word, as are words too short for a
    trigram: few candidates, little to check."""
    terms: list[str] = []
    checked: list[str] = []
    seen = _trigram_counts(using)
    for word in words:
        if len(word) < MIN_WORD:
            checked.append(word)
        elif len(word) <= PHRASE_CHARS:
            terms.append(word)
        else:
            trigrams = sorted({word[i : i + 3] for i in range(len(word) - 2)})
            terms += sorted(trigrams, key=lambda t: seen.get(t, 0))[:RARE_TRIGRAMS]
            checked.append(word)
    match = " AND ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
    if not checked:
        return _SQLITE_MATCH, [match]
    check = " AND ".join(["instr(search_text, %s) > 0"] * len(checked))
    return _SQLITE_MATCH_CHECKED.format(check=check), [match, *checked]


_SQLITE_MATCH = "SELECT rowid AS id FROM index_task_search WHERE index_task_search MATCH %s"
# {check}: placeholders only, one per word to check.
_SQLITE_MATCH_CHECKED = (
    "SELECT id FROM index_indexedtask WHERE id IN (SELECT rowid FROM index_task_search "
    "WHERE index_task_search MATCH %s) AND {check}"
)


def _trigram_counts(using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """In how many of the most recently indexed tasks each trigram appears: an estimate
    of how long its document list is, kept a few minutes per process and database (a
    cache: any process computes the same from the database)."""
    now = time.monotonic()
    connection = connections[using]
    cached = _rarity.get(connection.alias)
    if cached is not None and now - cached[0] < RARITY_SECONDS:
        return cached[1]
    counts: Counter[str] = Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_text FROM index_indexedtask ORDER BY id DESC LIMIT %s", [RARITY_SAMPLE]
        )
        for (text,) in cursor.fetchall():
            counts.update({text[i : i + 3] for i in range(len(text) - 2)})
    _rarity[connection.alias] = (now, dict(counts))
    return _rarity[connection.alias][1]


def _fold(text: str) -> str:
    """`fold`, with a shortcut for plain ASCII (most values), where it only lowers the case
    and collapses spaces: a page folds every value of every task it shows."""
    if text.isascii():
        return " ".join(text.lower().split())
    return fold(text)


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
        folded, number = _fold(value), digits(value)
        if any(w in folded or (w.isdigit() and w in number) for w in query.words):
            found.append((path, value))
            if len(found) == most:
                break
    return tuple(found)
