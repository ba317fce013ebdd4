"""WSGI entry point (gunicorn dashboard.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from dashboard.env import configuration_errors_in_one_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# gunicorn.conf.py preloads this in gunicorn's master: a setting that cannot work stops
# start-up with one line saying what to set.
with configuration_errors_in_one_line():
    application = get_wsgi_application()
