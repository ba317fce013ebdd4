"""Two database roles: one owns Taskdeck's tables and migrates them, the other serves.

The audit trail's append-only trigger (migration 0004) holds against every role that
does not own the table. The owner can disable the trigger, rewrite or TRUNCATE the table,
so Taskdeck should not serve as the owner:

- DATABASE_MIGRATION_URL names the owning role; `manage.py migrate` connects as it
  (`as_owner`, tasks_app/management/commands/migrate.py), and after every migration
  `grant_serving_role` gives the serving role (DATABASE_URL's user) what serving needs
  and no more: SELECT, INSERT, UPDATE and DELETE on Taskdeck's tables, but on the
  audit table only SELECT, INSERT and UPDATE of the columns that complete a record.
- `check --deploy` warns (taskdeck.W010) when the serving role owns the audit table, is a
  member of the role that does, or is a superuser.

PostgreSQL only; SQLite has neither roles nor the trigger.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

AUDIT_TABLE = "tasks_app_auditrecord"
# What completing an audit record changes (the trigger refuses every other change).
COMPLETION_COLUMNS = (
    "completed",
    "task_sid",
    "outcome",
    "http_status",
    "error_code",
    "message",
    "request_id",
)
_CONNECTION_SETTINGS = ("NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
# The serving role to grant to once `migrate` has run as the owner (None otherwise).
_granting_to: list[str] = []


@contextmanager
def as_owner() -> Iterator[None]:
    """Inside, the default database connection is the owning role's
    (settings.MIGRATION_DATABASE, from DATABASE_MIGRATION_URL), so every migration, and
    every library's data migration that uses the default connection, runs as the owner;
    afterwards `grant_serving_role` lets DATABASE_URL's role serve. Without the setting,
    nothing changes."""
    owner = settings.MIGRATION_DATABASE
    if not owner:
        yield
        return
    connection = connections[DEFAULT_DB_ALIAS]
    serving = {name: connection.settings_dict.get(name) for name in _CONNECTION_SETTINGS}
    connection.close()
    connection.settings_dict.update(
        {name: owner[name] for name in _CONNECTION_SETTINGS if name in owner}
    )
    _granting_to.append(serving["USER"] or "")
    try:
        yield
    finally:
        _granting_to.pop()
        connection.close()
        connection.settings_dict.update(serving)


def grant_serving_role(using: str, **_: Any) -> None:
    """After `migrate` ran as the owning role, let the serving role serve (post_migrate)."""
    connection = connections[using]
    if not _granting_to or using != DEFAULT_DB_ALIAS or connection.vendor != "postgresql":
        return
    serving = _granting_to[-1]
    if not serving or serving == connection.settings_dict.get("USER"):
        return
    quote = connection.ops.quote_name
    role, columns = quote(serving), ", ".join(quote(c) for c in COMPLETION_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = quote(cursor.fetchone()[0])
        for statement in (
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
            f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {AUDIT_TABLE} FROM {role}",
            f"GRANT UPDATE ({columns}) ON {AUDIT_TABLE} TO {role}",
        ):
            cursor.execute(statement)


@register(Tags.security, deploy=True)
def serving_role_cannot_undo_the_audit_trail(app_configs, **kwargs) -> list[Warning]:
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_userbyid(c.relowner), r.rolsuper, "
                "pg_has_role(current_user, c.relowner, 'MEMBER') "
                "FROM pg_class c JOIN pg_roles r ON r.rolname = current_user "
                "WHERE c.oid = to_regclass(%s)",
                [AUDIT_TABLE],
            )
            row = cursor.fetchone()
    except DatabaseError:
        return []  # unreachable or not migrated: other checks and start-up say so
    if row is None:
        return []
    owner, superuser, member = row
    if not (superuser or member):
        return []
    how = "is a superuser" if superuser else f"owns it (or is a member of {owner})"
    return [
        Warning(
            f"Taskdeck serves as a database role that {how}: it can disable the audit "
            "trail's append-only trigger, or rewrite or empty the table.",
            hint="Migrate as the owning role with DATABASE_MIGRATION_URL and serve as a "
            "role that owns nothing (DATABASE_URL); see README, 'In production'.",
            id="taskdeck.W010",
        )
    ]
