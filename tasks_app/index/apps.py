from django.apps import AppConfig
from django.conf import settings


class IndexConfig(AppConfig):
    name = "tasks_app.index"
    label = "index"
    verbose_name = "Task index"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tasks_app.fleet import duties

        from . import substring_index

        # A later migration that rebuilds the task table on SQLite drops the search
        # index's triggers with the old table: put them back after every migrate.
        post_migrate.connect(substring_index.repair, sender=self)

        # One follower per workspace for the whole fleet (a lease each), in every worker.
        duties.register(
            duties.Duty(
                name="follow",
                run="tasks_app.index.follower.follow_round",
                every=lambda: settings.TASKDECK_FOLLOW_SECONDS,
                keys="tasks_app.index.follower.workspace_keys",
            )
        )
