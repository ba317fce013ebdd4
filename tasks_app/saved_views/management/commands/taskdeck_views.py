"""``manage.py taskdeck_views export FILE`` / ``import FILE``: saved views as code (see
tasks_app/saved_views/code.py for the JSON and what an import changes)."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tasks_app.saved_views import code


class Command(BaseCommand):
    help = "Export saved views to a JSON file, or import them from one (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("file", help="the JSON file ('-': standard output or input)")
        parser.add_argument(
            "--actor",
            default="",
            help="who the audit trail names for an import (default: the system user)",
        )

    def handle(self, *args: Any, action: str, file: str, actor: str, **options: Any) -> None:
        if action == "export":
            text = code.export_text()
            if file == "-":
                self.stdout.write(text, ending="")
            else:
                Path(file).write_text(text, encoding="utf-8")
                count = len(json.loads(text)["views"])
                self.stdout.write(f"exported {count} view{'s' if count != 1 else ''} to {file}")
            return
        try:
            raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror or error}") from None
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as error:
            raise CommandError(f"{file} is not JSON: {error}") from None
        who = actor.strip() or f"{getpass.getuser()} (manage.py taskdeck_views)"
        try:
            report = code.import_views(document, actor=who)
        except code.ImportError_ as error:
            raise CommandError(f"Nothing imported:\n{error}") from None
        for line in report.lines():
            self.stdout.write(line)
