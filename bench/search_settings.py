"""Settings of the search bench's child (bench/search.py): production's, with static files
served from the source folders (the child renders pages without ``collectstatic``) and
the test client's host."""

from dashboard.settings import *  # noqa: F403
from dashboard.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
