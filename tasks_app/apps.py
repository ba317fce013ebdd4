from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class TasksAppConfig(AppConfig):
    name = "tasks_app"
    verbose_name = "Taskdeck"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tasks_app import audit, bulk
        from tasks_app.fleet import duties

        audit.connect()  # every write to TaskRouter leaves an audit record
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
