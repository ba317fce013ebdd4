import logging
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class TasksAppConfig(AppConfig):
    name = "tasks_app"
    verbose_name = "Taskdeck"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tasks_app import audit, bulk, database_roles, identity, metrics  # noqa: F401 - checks, signals
        from tasks_app.fleet import duties

        audit.connect()  # every write to TaskRouter leaves an audit record
        # After migrating as the owning role, the serving role gets what serving needs.
        post_migrate.connect(
            database_roles.grant_serving_role, sender=self, dispatch_uid="taskdeck-grants"
        )
        # Python's warnings become log lines (JSON like every other), not raw text.
        logging.captureWarnings(True)
        # One worker of the fleet at a time hands stalled bulk jobs to a live worker.
        duties.register(
            duties.Duty(name="bulk-takeover", run=bulk.hand_over_stalled, every=bulk.takeover_every)
        )
        # The default SQLite file lives in var/, which a fresh clone does not have yet.
        for database in settings.DATABASES.values():
            name = str(database.get("NAME") or "")
            if (
                database["ENGINE"].endswith("sqlite3")
                and name
                and not name.startswith((":memory:", "file:"))
            ):
                Path(name).parent.mkdir(parents=True, exist_ok=True)
