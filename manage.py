#!/usr/bin/env python
"""Django's command-line utility for Taskdeck."""

import os
import sys


def main() -> None:
    from dashboard.env import configuration_errors_in_one_line, env_str

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    if sys.argv[1:2] == ["runsandbox"]:
        # The sandbox is a development tool and signs nothing, yet settings refuse to load
        # without DJANGO_SECRET_KEY unless DJANGO_DEBUG is on: give it development settings,
        # as `make sandbox` does, unless the environment chose otherwise (empty is unset).
        if not env_str("DJANGO_DEBUG"):
            os.environ["DJANGO_DEBUG"] = "1"
        # It serves TaskRouter and calls none: Taskdeck's TASKROUTER_BASE_URL (often this
        # very sandbox, exported in the same shell) and the start-up check of credentials
        # for it do not concern it.
        os.environ.pop("TASKROUTER_BASE_URL", None)
    from django.core.management import execute_from_command_line

    with configuration_errors_in_one_line():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
