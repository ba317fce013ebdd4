from django.apps import AppConfig


class SavedViewsConfig(AppConfig):
    name = "tasks_app.saved_views"
    label = "saved_views"
    verbose_name = "Saved views and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tasks_app.fleet import duties

        from . import alerting

        # Exactly one evaluator of every view's alert for the whole fleet (one lease).
        duties.register(
            duties.Duty(name=alerting.DUTY, run=alerting.evaluate_round, every=alerting.every)
        )
