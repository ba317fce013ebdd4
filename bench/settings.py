"""The benchmark dashboard's settings: production's, with only STATIC_ROOT moved.

With DEBUG off, whitenoise's manifest storage needs ``collectstatic`` before any page that
uses ``{% static %}`` renders. The bench collects into its own temporary directory instead
of the repository's ``staticfiles/``, which a developer's own deployment may be using.
Everything else (middleware, templates, cache, logging) is exactly ``dashboard.settings``,
configured through the same environment variables a deployment sets.
"""

import os
from pathlib import Path

from dashboard.settings import *  # noqa: F403

STATIC_ROOT = Path(os.environ["TASKDECK_BENCH_STATIC_ROOT"])
