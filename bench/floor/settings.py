"""The floor's settings: Django with nothing switched on that the two views do not need
(no apps, no middleware, no templates, no database)."""

import os

SECRET_KEY = os.environ["FLOOR_SECRET"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "bench.floor"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
LOGGING_CONFIG = None
