#!/usr/bin/env python
"""Django's command-line utility for Taskdeck."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if sys.argv[1:2] == ["runsandbox"]:
        # The sandbox is a development tool and signs nothing, yet settings refuse to load
        # without DJANGO_SECRET_KEY unless DJANGO_DEBUG is on: give it development settings,
        # as `make sandbox` does, unless the environment chose otherwise.
        os.environ.setdefault("DJANGO_DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
