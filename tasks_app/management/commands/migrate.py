"""`manage.py migrate`, connected as the role that owns Taskdeck's tables when
DATABASE_MIGRATION_URL names one (tasks_app/database_roles.py)."""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

from tasks_app.database_roles import as_owner


class Command(DjangoMigrate):
    def handle(self, *args, **options) -> None:
        if options["database"] != DEFAULT_DB_ALIAS:
            return super().handle(*args, **options)
        with as_owner():
            return super().handle(*args, **options)
