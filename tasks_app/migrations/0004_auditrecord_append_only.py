"""The audit trail is append-only below Taskdeck too, where the database allows.

On PostgreSQL a trigger refuses any DELETE of an audit record, and any UPDATE except the
one that completes an intent (sets its outcome, once, leaving what was recorded before the
call untouched). Raw SQL, a database console or a future bug in Taskdeck all meet it.
TRUNCATE is not a row operation and needs the table owner's privilege: run Taskdeck as a
database role that does not own its tables to close that too.

SQLite has triggers, but Django's test runner empties tables between tests with DELETE,
so one there would break the test suite; the model refuses the same changes in Python.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION taskdeck_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit records cannot be deleted (record %)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.completed IS NOT NULL THEN
        RAISE EXCEPTION 'audit record % is completed and cannot be changed', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.completed IS NULL
       OR NEW.id IS DISTINCT FROM OLD.id
       OR NEW.write_id IS DISTINCT FROM OLD.write_id
       OR NEW.actor IS DISTINCT FROM OLD.actor
       OR NEW.started IS DISTINCT FROM OLD.started
       OR NEW.workspace_sid IS DISTINCT FROM OLD.workspace_sid
       OR (OLD.task_sid <> '' AND NEW.task_sid IS DISTINCT FROM OLD.task_sid)
       OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.before IS DISTINCT FROM OLD.before
       OR NEW.after IS DISTINCT FROM OLD.after
       OR NEW.reason IS DISTINCT FROM OLD.reason
       OR NEW.if_match IS DISTINCT FROM OLD.if_match THEN
        RAISE EXCEPTION 'audit record % may only be completed, once', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER taskdeck_audit_append_only
    BEFORE UPDATE OR DELETE ON tasks_app_auditrecord
    FOR EACH ROW EXECUTE FUNCTION taskdeck_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS taskdeck_audit_append_only ON tasks_app_auditrecord;
DROP FUNCTION IF EXISTS taskdeck_audit_append_only();
"""


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("tasks_app", "0003_auditrecord")]

    operations = [migrations.RunPython(create, drop)]
