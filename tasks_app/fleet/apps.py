from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "tasks_app.fleet"
    label = "fleet"
    verbose_name = "Fleet duties"
    default_auto_field = "django.db.models.BigAutoField"
