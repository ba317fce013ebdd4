"""Forgiving search over the task index (tasks_app.index.search): what a supervisor types
finds the task in any case, with or without accents, by any attribute value, a phone
number in any format, in every workspace, open, closed or deleted; on SQLite and on
PostgreSQL alike."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg
import pytest
from django.db import connections

from tasks_app.index import search, substring_index
from tasks_app.index.models import IndexedTask
from tasks_app.index.text import fold, searchable_text
from tests.backends import require_postgres

SUPPORT = "WS" + "1" * 32
SALES = "WS" + "2" * 32


def sid(n: int) -> str:
    return f"WT{n:032x}"


@pytest.fixture(params=["sqlite", "postgresql"])
def using(request, db) -> Iterator[str]:
    """The database alias to search: the tests' SQLite database (migrated, so its FTS
    table and triggers are the migration's), or a PostgreSQL database of this test's own
    with the task table and the pg_trgm index the migration creates.

    ``db`` is asked for by name, not looked up inside: pytest-django creates the test
    databases that the collected tests name, and a run of only these tests would
    otherwise write to the database in the settings (the developer's own)."""
    if request.param == "sqlite":
        yield "default"
        return
    server = require_postgres()
    name = f"search_test_{secrets.token_hex(5)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    alias = f"search-{name}"
    blocker = request.getfixturevalue("django_db_blocker")
    try:
        parts = urlsplit(server)
        database = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": parts.username,
            "HOST": parts.hostname,
            "PORT": str(parts.port or 5432),
        }
        connections.settings[alias] = connections.configure_settings(
            {"default": {}, alias: database}
        )[alias]
        with blocker.unblock():
            with connections[alias].schema_editor() as editor:
                editor.create_model(IndexedTask)
                for statement in substring_index.POSTGRESQL_CREATE:
                    editor.execute(statement)
            yield alias
    finally:
        if alias in connections.settings:
            with blocker.unblock():
                connections[alias].close()
            del connections[alias]
            del connections.settings[alias]
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def put(using: str, n: int, attributes: dict, **fields) -> IndexedTask:
    fields.setdefault("workspace_sid", SUPPORT)
    fields.setdefault("workspace_name", "Support")
    fields.setdefault("status", "pending")
    fields.setdefault("as_of_ms", n)
    row = IndexedTask(
        sid=sid(n), attributes=attributes, search_text=searchable_text(attributes, sid(n)), **fields
    )
    row.save(using=using)
    return row


def found(using: str, text: str) -> list[str]:
    return [hit.task.sid for hit in search.find(search.parse(text), using=using).hits]


@pytest.fixture
def customers(using: str) -> str:
    put(
        using,
        1,
        {
            "customer": {"name": "José Álvarez-Núñez", "email": "Jose.Alvarez@Example.COM"},
            "from": "+14155550100",
            "ticket": "TK-482113",
        },
    )
    put(
        using,
        2,
        {"name": "Chloé Dubois", "phone": "(212) 555-0199", "subject": "Refund not received"},
        workspace_sid=SALES,
        workspace_name="Sales & Renewals",
    )
    put(using, 3, {"name": "Jane Müller", "phone": "+4930 1234567"}, status="canceled")
    put(
        using,
        4,
        {"name": "Jane Smith", "tags": ["vip", "refund"]},
        status="completed",
        deleted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return using


def test_a_customer_name_in_lower_case_and_without_accents_finds_the_task(customers):
    assert found(customers, "jose alvarez") == [sid(1)]
    assert found(customers, "JOSÉ ÁLVAREZ-NÚÑEZ") == [sid(1)]
    assert found(customers, "chloe") == [sid(2)]
    assert found(customers, "muller") == [sid(3)]


def test_part_of_a_value_finds_it(customers):
    assert found(customers, "lvare") == [sid(1)]
    assert found(customers, "nunez") == [sid(1)]


def test_an_email_in_any_case_finds_the_task(customers):
    assert found(customers, "jose.alvarez@example.com") == [sid(1)]
    assert found(customers, "JOSE.ALVAREZ@EXAMPLE.com") == [sid(1)]


def test_a_phone_number_in_any_format_is_compared_by_its_digits(customers):
    for written in ("(415) 555-0100", "415.555.0100", "+1 415 555 0100", "4155550100"):
        assert found(customers, written) == [sid(1)], written
    assert found(customers, "212-555-0199") == [sid(2)]
    assert found(customers, "+49 30 123 4567") == [sid(3)]


def test_a_ticket_number_finds_the_task_as_written_or_by_its_digits(customers):
    assert found(customers, "tk-482113") == [sid(1)]
    assert found(customers, "#482113") == [sid(1)]


def test_every_word_must_be_found_somewhere_in_the_task(customers):
    assert sorted(found(customers, "jane")) == [sid(3), sid(4)]
    assert found(customers, "jane refund") == [sid(4)]
    assert found(customers, "refund jane") == [sid(4)]
    assert found(customers, "jane zebra") == []


def test_a_short_word_narrows_what_the_longer_ones_find(customers):
    assert found(customers, "jane sm") == [sid(4)]


def test_results_span_workspaces_and_say_which(customers):
    results = search.find(search.parse("refund"), using=customers)
    names = {hit.task.sid: hit.task.workspace_name for hit in results.hits}
    assert names == {sid(2): "Sales & Renewals", sid(4): "Support"}


def test_open_tasks_come_first_then_closed_then_deleted_each_marked(customers):
    put(customers, 5, {"name": "Jane Open"})
    hits = search.find(search.parse("jane"), using=customers).hits
    assert [hit.task.sid for hit in hits] == [sid(5), sid(3), sid(4)]
    assert [(hit.closed, hit.deleted) for hit in hits] == [
        (False, False),
        (True, False),
        (True, True),
    ]


def test_within_a_group_the_newest_task_comes_first_as_its_created_time_reads(customers):
    # The page lists each match beside the time it was created and says the newest are
    # shown. When Taskdeck last saw a task (a full read refreshes every row) is no order
    # a person can check: the oldest task here was seen last, and still comes last.
    created = [datetime(2026, 3, day, 9, 0, tzinfo=UTC) for day in (1, 2, 3)]
    put(customers, 7, {"name": "Ana Reyes"}, created_at=created[0], as_of_ms=900)
    put(customers, 8, {"name": "Ana Reyes"}, created_at=created[2], as_of_ms=100)
    put(customers, 9, {"name": "Ana Reyes"}, created_at=created[1], as_of_ms=500)
    put(customers, 10, {"name": "Ana Reyes"}, as_of_ms=1000)  # its age unknown: last
    assert found(customers, "ana reyes") == [sid(8), sid(9), sid(7), sid(10)]


def test_a_hit_says_which_values_held_the_text(customers):
    (hit,) = search.find(search.parse("(415) 555-0100"), using=customers).hits
    assert hit.matched == (("from", "+14155550100"),)
    assert hit.title == "José Álvarez-Núñez"
    (hit,) = search.find(search.parse("refund"), using=customers).hits[:1]
    assert ("subject", "Refund not received") in hit.matched


def test_one_match_is_single_and_two_are_not(customers):
    assert search.find(search.parse("dubois"), using=customers).single.task.sid == sid(2)
    assert search.find(search.parse("jane"), using=customers).single is None


def test_text_that_looks_like_like_patterns_is_taken_literally(customers):
    put(customers, 6, {"note": "100% sure_thing"})
    assert found(customers, "100%") == [sid(6)]
    assert found(customers, "e_t") == [sid(6)]
    assert found(customers, '"quoted"') == []
    assert found(customers, "a%b") == []


def test_changed_and_deleted_rows_are_found_by_their_new_text_only(customers):
    row = IndexedTask.objects.using(customers).get(sid=sid(2))
    row.attributes = {"name": "Chloé Martin"}
    row.search_text = searchable_text(row.attributes, row.sid)
    row.save(using=customers)
    assert found(customers, "dubois") == []
    assert found(customers, "chloe martin") == [sid(2)]
    IndexedTask.objects.using(customers).filter(sid=sid(1)).delete()
    assert found(customers, "alvarez") == []


def test_more_matches_than_are_ranked_say_so(customers, monkeypatch):
    monkeypatch.setattr(search, "POOL", 1)
    results = search.find(search.parse("jane"), using=customers)  # two Janes
    assert results.more and results.count == 1 and results.single is None
    results = search.find(search.parse("jane smith"), using=customers)
    assert not results.more and results.count == 1


# --- what cannot be searched for ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Type something to search for"),
        ("   ", "Type something to search for"),
        ("jo", "at least 3 letters or digits"),
        ("a b c", "at least 3 letters or digits"),
        ("x" * 101, "at most 100 characters (this is 101)"),
        ("jose\x00", "control"),
    ],
)
def test_text_that_cannot_be_searched_gets_a_message_saying_why(text, message):
    with pytest.raises(search.SearchError, match=re.escape(message)):
        search.parse(text)


def test_a_task_sid_is_recognised_in_any_case():
    query = search.parse(f"  WT{'AB' * 16} ")
    assert query.sid == "WT" + "ab" * 16


def test_a_phone_number_is_one_word_of_digits():
    assert search.parse("(415) 555-0100").words == ("4155550100",)
    assert search.parse("Jane 415-555-0100").words == ("jane", "4155550100")
    assert search.parse("tk-482113").words == ("tk-482113",)


# --- the SQLite index stays in step -----------------------------------------------------------


@pytest.mark.django_db
def test_tasks_the_follower_indexes_are_found_through_its_bulk_writes(sandbox):
    from tests.index_helpers import follow_now

    follow_now(full_read=True)
    task = IndexedTask.objects.exclude(attributes={}).order_by("pk").first()
    email = task.attributes["handle"]
    assert task.sid in found("default", email.upper())
    IndexedTask.objects.filter(pk=task.pk).update(search_text="nothing to see")
    assert task.sid not in found("default", email)


@pytest.mark.django_db
def test_a_migration_that_rebuilds_the_task_table_gets_its_triggers_back():
    with connections["default"].cursor() as cursor:
        cursor.execute("DROP TRIGGER index_task_search_insert")
    assert substring_index.repair("default")
    put("default", 8, {"name": "Rebuilt Later"})
    assert found("default", "rebuilt") == [sid(8)]
    assert not substring_index.repair("default")  # whole: nothing to do


def test_a_long_word_matches_only_where_it_stands_whole(customers):
    put(customers, 9, {"a": "garcia maria", "b": "example.com", "c": "maria"})
    put(customers, 10, {"email": "maria.garcia@example.com"})
    assert found(customers, "maria.garcia@example.com") == [sid(10)]
    assert found(customers, "MARIA.GARCIA") == [sid(10)]


def test_the_ascii_shortcut_folds_as_the_index_does():
    for text in ("  Jane\tDOE  ", "A\x1cB", "x\u00a0y", "Ünïcödé  Ñame"):
        assert search._fold(text) == fold(text), text
