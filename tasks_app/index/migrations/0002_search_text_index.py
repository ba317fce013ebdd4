"""An index that makes substring search over ``IndexedTask.search_text`` fast: an FTS5
trigram table kept in step by triggers on SQLite, a pg_trgm GIN index on PostgreSQL (the
SQL and why: tasks_app/index/substring_index.py). Each database gets its own statements,
chosen by the connection's vendor."""

from django.db import migrations

from tasks_app.index import substring_index


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor) -> None:
        for statement in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("index", "0001_index")]

    operations = [
        migrations.RunPython(
            _run(substring_index.CREATE), _run(substring_index.DROP), elidable=False
        ),
    ]
