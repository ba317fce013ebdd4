"""Test settings: production settings with the few changes a test run needs."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
os.environ["DJANGO_DEBUG"] = "0"  # tests run with production settings, whatever the shell says
# The test client and the live server see requests from 127.0.0.1: that is the SSO proxy.
os.environ["TASKDECK_SSO_TRUSTED_PROXIES"] = "127.0.0.1/32"
os.environ.pop("TASKDECK_SSO_DISABLED", None)

from dashboard.settings import *  # noqa: F403
from dashboard.settings import MIDDLEWARE, STORAGES

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
# No collectstatic before tests: serve from the source folders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Each test gets its own copy of a seeded sandbox (see conftest.py); this is the fallback.
SANDBOX_DB_PATH = Path(tempfile.gettempdir()) / f"taskdeck-test-sandbox-{os.getpid()}.sqlite3"
TASKROUTER_RETRY_BACKOFF = 0.01
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT = None  # nothing is collected for tests; whitenoise serves the finders
# Tests see every change at once; the shared-read tests turn sharing on themselves.
TASKROUTER_SHARED_READ_SECONDS = 0
# Roles of the identities tests sign in as (tests/conftest.py, IDENTITY_HEADERS).
TASKDECK_ROLE_GROUPS = "admin=taskdeck-admins;editor=taskdeck-editors;viewer=taskdeck-viewers"
# Bulk jobs run inside the request that enqueues them; tests/test_bulk.py runs real workers.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
TASKDECK_TASK_QUEUE = "default"
# The live server and the test share one database connection: see tests/shared_connection.py.
MIDDLEWARE = ["tests.shared_connection.one_request_at_a_time", *MIDDLEWARE]
