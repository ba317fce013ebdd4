"""The audit trail against the database role Taskdeck serves as: on PostgreSQL, with two
roles made for the test (and dropped after), `migrate` runs as the owner
(DATABASE_MIGRATION_URL) and Taskdeck serves as a role that can write and complete audit
records but cannot disable the append-only trigger, empty the table or rewrite a record;
`check --deploy` warns when Taskdeck would serve as the owner."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.backends import require_postgres
from tests.serving import manage


@dataclass
class Roles:
    host: str
    port: int
    database: str
    owner: str
    serving: str

    def url(self, role: str) -> str:
        return f"postgres://{role}@{self.host}:{self.port}/{self.database}"

    def connect(self, role: str) -> psycopg.Connection:
        return psycopg.connect(self.url(role), autocommit=True, connect_timeout=5)


@pytest.fixture
def roles() -> Iterator[Roles]:
    admin_url = require_postgres()
    parts = urlsplit(admin_url)
    tag = secrets.token_hex(5)
    made = Roles(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        database=f"taskdeck_roles_{tag}",
        owner=f"taskdeck_owner_{tag}",
        serving=f"taskdeck_serving_{tag}",
    )
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE ROLE {made.owner} LOGIN")
        admin.execute(f"CREATE ROLE {made.serving} LOGIN")
        admin.execute(f"CREATE DATABASE {made.database} OWNER {made.owner}")
        try:
            yield made
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {made.database} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {made.serving}")
            admin.execute(f"DROP ROLE IF EXISTS {made.owner}")


def manage_as(roles: Roles, *command: str, serving_as: str) -> subprocess.CompletedProcess:
    """``manage.py`` with production settings, serving as ``serving_as`` and migrating as
    the owner."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))},
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "taskdeck.example.com",
        "TASKDECK_SSO_TRUSTED_PROXIES": "10.0.4.17/32",
        "DATABASE_URL": roles.url(serving_as),
        "DATABASE_MIGRATION_URL": roles.url(roles.owner),
    }
    return manage(environment, *command)


INSERT = (
    "INSERT INTO tasks_app_auditrecord (write_id, actor, started, workspace_sid, task_sid, "
    "action, after, reason, if_match, outcome, message, request_id) "
    "VALUES (%s, 'editor@example.com', now(), 'WS1', 'WT1', 'update', '{}', '', 'e1', "
    "'unknown', '', '') RETURNING id"
)


def test_taskdeck_serves_as_a_role_that_cannot_undo_the_audit_trail(roles):
    migrated = manage_as(roles, "migrate", "--noinput", serving_as=roles.serving)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    with roles.connect(roles.owner) as owner:
        owners = owner.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    assert owners == [(roles.owner,)]  # migrate ran as the owner, not as the serving role

    with roles.connect(roles.serving) as serving:
        # What serving needs: sessions, jobs, and audit records written and completed.
        serving.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "VALUES ('k', 'd', now())"
        )
        record = serving.execute(INSERT, ["w1"]).fetchone()[0]
        serving.execute(
            "UPDATE tasks_app_auditrecord SET outcome = 'done', completed = now(), "
            "http_status = 200, request_id = 'RQ1' WHERE id = %s AND completed IS NULL",
            [record],
        )
        # What it must not do: undo the trigger, empty the table, rewrite or delete.
        for statement in (
            "ALTER TABLE tasks_app_auditrecord DISABLE TRIGGER taskdeck_audit_append_only",
            "ALTER TABLE tasks_app_auditrecord DISABLE TRIGGER ALL",
            "DROP TRIGGER taskdeck_audit_append_only ON tasks_app_auditrecord",
            "TRUNCATE tasks_app_auditrecord",
            "DELETE FROM tasks_app_auditrecord",
            "UPDATE tasks_app_auditrecord SET actor = 'mallory@example.com'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                serving.execute(statement)
        assert serving.execute(
            "SELECT actor, outcome FROM tasks_app_auditrecord WHERE id = %s", [record]
        ).fetchone() == ("editor@example.com", "done")

    clean = manage_as(
        roles, "check", "--deploy", "--fail-level", "WARNING", serving_as=roles.serving
    )
    assert "taskdeck.W010" not in clean.stdout + clean.stderr
    as_owner = manage_as(roles, "check", "--deploy", serving_as=roles.owner)
    assert "taskdeck.W010" in as_owner.stderr, as_owner.stdout + as_owner.stderr
    assert "DATABASE_MIGRATION_URL" in as_owner.stderr
