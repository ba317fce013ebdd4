from django.apps import AppConfig
from django.conf import settings


class IndexConfig(AppConfig):
    name = "tasks_app.index"
    label = "index"
    verbose_name = "Task index"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tasks_app.fleet import duties

        # One follower per workspace for the whole fleet (a lease each), in every worker.
        duties.register(
            duties.Duty(
                name="follow",
                run="tasks_app.index.follower.follow_round",
                every=lambda: settings.TASKDECK_FOLLOW_SECONDS,
                keys="tasks_app.index.follower.workspace_keys",
            )
        )
