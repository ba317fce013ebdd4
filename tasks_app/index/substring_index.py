"""The SQL of the index that makes substring search over ``IndexedTask.search_text`` fast
(installed by migration ``0002_search_text_index``; repaired after any later migration).

Search looks for any part of a value ("garc" in "maria garcia", "5550100" in
"14155550100"), which a B-tree cannot answer without reading every row:

- SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or later) whose content is
  the task table itself (``content=``), kept in step by triggers on every insert, update
  and delete of a task, whatever code writes it (bulk writes too: no signal needed).
- PostgreSQL: a GIN index with pg_trgm's trigram operator class on the column itself, which
  PostgreSQL keeps in step on its own and uses for ``LIKE '%text%'``.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

# The SQL is spelled out, names and all: these statements are the schema.
SQLITE_TABLE = "index_task_search"
SQLITE_TRIGGERS = (
    "index_task_search_insert",
    "index_task_search_delete",
    "index_task_search_update",
)
SQLITE_CREATE_TRIGGERS = [
    "CREATE TRIGGER index_task_search_insert AFTER INSERT ON index_indexedtask BEGIN "
    "INSERT INTO index_task_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    # An external-content FTS table forgets a row by being told its old text.
    "CREATE TRIGGER index_task_search_delete AFTER DELETE ON index_indexedtask BEGIN "
    "INSERT INTO index_task_search(index_task_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER index_task_search_update AFTER UPDATE OF search_text ON index_indexedtask "
    "WHEN old.search_text IS NOT new.search_text BEGIN "
    "INSERT INTO index_task_search(index_task_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO index_task_search(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DROP_TRIGGERS = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
# Reads every task's text again (tasks indexed before the table existed, or while the
# triggers were missing).
SQLITE_REBUILD = "INSERT INTO index_task_search(index_task_search) VALUES ('rebuild')"

SQLITE_CREATE = [
    # The text is stored folded already (tasks_app.index.text.fold); the tokenizer's own
    # case folding then changes nothing.
    "CREATE VIRTUAL TABLE index_task_search USING fts5("
    "search_text, content='index_indexedtask', content_rowid='id', tokenize='trigram')",
    *SQLITE_CREATE_TRIGGERS,
    SQLITE_REBUILD,
]
SQLITE_DROP = [*SQLITE_DROP_TRIGGERS, "DROP TABLE IF EXISTS index_task_search"]

POSTGRESQL_CREATE = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner, who migrates,
    # may create it without being a superuser.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS index_task_search_trgm ON index_indexedtask "
    "USING gin (search_text gin_trgm_ops)",
]
POSTGRESQL_DROP = ["DROP INDEX IF EXISTS index_task_search_trgm"]

CREATE = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRESQL_CREATE}
DROP = {"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}


def repair(using: str = DEFAULT_DB_ALIAS, **_: Any) -> bool:
    """Recreate the SQLite index's triggers, and refill it, if they are gone; True if it did.

    SQLite cannot alter most columns in place, so a later migration that changes the task
    table rebuilds it (a new table, the rows copied, the old one dropped), and the triggers
    go with the old table. Run after every ``migrate`` (post_migrate), this puts them back,
    so no later migration has to remember them."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        names = {SQLITE_TABLE, *SQLITE_TRIGGERS}
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()} & names
        if SQLITE_TABLE not in present or present == names:
            return False  # not installed (before 0002, or reversed), or whole
        for statement in [*SQLITE_DROP_TRIGGERS, *SQLITE_CREATE_TRIGGERS, SQLITE_REBUILD]:
            cursor.execute(statement)
    return True
