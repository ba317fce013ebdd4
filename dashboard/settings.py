"""Taskdeck settings, read from the environment.

Every variable is listed in README.md ("Configuration") and in .env.example. Development
conveniences (DEBUG, a development secret key, local hosts) exist only when DJANGO_DEBUG
is on; with it off, anything a deployment must decide has to be set.
"""

import os
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import env_bool, env_float, env_int, env_list, env_str
from tasks_app.sandbox.auth import DEVELOPMENT_CREDENTIALS
from tasks_app.taskrouter import access
from tasks_app.taskrouter.errors import Misconfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# prometheus-client turns to multiprocess mode when PROMETHEUS_MULTIPROC_DIR is present at
# all, and an empty one would scatter its files in the working directory: empty means
# unset, as everywhere here. gunicorn.conf.py sets it for gunicorn's workers.
if not env_str("PROMETHEUS_MULTIPROC_DIR"):
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))"), '
            "or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-development-only-taskdeck-key"  # noqa: S105

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tables2",
    "django_htmx",
    "template_partials",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "tasks_app",
    "tasks_app.fleet",
    "tasks_app.index",
    "tasks_app.saved_views",
]

MIDDLEWARE = [
    # First, so every log line of the request, and its timing, are covered.
    "tasks_app.requestlog.RequestIdMiddleware",
    "tasks_app.metrics.PageTimingMiddleware",
    # /livez and /readyz, before anything checks the Host (probes use the pod's IP).
    "dashboard.middleware.ProbesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "dashboard.middleware.NoStoreMiddleware",
    "dashboard.middleware.TaskRouterDeadlineMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who is acting (SSO headers, roles); refuses requests without an identity.
    "tasks_app.identity.SSOMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "tasks_app.context_processors.taskdeck",
            ],
        },
    },
]

# Form widgets render through Jinja2 (Django's own Jinja2 copies of its widget templates):
# a page's forms are made of many small widget templates, and Django's template language
# spends most of a widget's time resolving variables. The task page's six forms and the
# table's bulk bar render about three times faster this way; the pages themselves stay in
# Django templates.
FORM_RENDERER = "django.forms.renderers.Jinja2"

# --- Database and cache: SQLite and local memory by default; PostgreSQL and Redis at scale.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'taskdeck.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
# The role that owns Taskdeck's tables, for `manage.py migrate` only; Taskdeck then serves
# as DATABASE_URL's role, which cannot disable the audit trail's trigger
# (tasks_app/database_roles.py). Same database, another user.
DATABASE_MIGRATION_URL = env_str("DATABASE_MIGRATION_URL")
MIGRATION_DATABASE = (
    dj_database_url.parse(DATABASE_MIGRATION_URL) if DATABASE_MIGRATION_URL else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# On PostgreSQL each process shares a pool of at most DATABASE_POOL_MAX connections among
# its threads (Django's own pooling, psycopg_pool), so the fleet's connections have a
# bound PostgreSQL's max_connections can hold (README, "Connections"); a request waits
# up to DATABASE_POOL_TIMEOUT seconds for one. 0 turns the pool off (one connection per
# thread, as DATABASE_CONN_MAX_AGE says). Workers run without it (their threads each
# keep a connection: manage.py worker).
DATABASE_POOL_MAX = env_int("DATABASE_POOL_MAX", 4)
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 10.0)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # A dead server or a silently broken network fails a connection within
            # seconds, not at the kernel's TCP timeout (hours), so workers ride it out.
            "connect_timeout": 5,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
    )
    if DATABASE_POOL_MAX > 0:
        if DATABASES["default"]["CONN_MAX_AGE"]:
            raise ImproperlyConfigured(
                "DATABASE_CONN_MAX_AGE keeps connections per thread, DATABASE_POOL_MAX "
                "shares a pool of them: set one (DATABASE_POOL_MAX=0 turns the pool off)."
            )
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 0,
            "max_size": DATABASE_POOL_MAX,
            "timeout": DATABASE_POOL_TIMEOUT,
        }
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes write the embedded database at once (the web server, the worker
    # and the fleet's duties): WAL lets readers carry on beside a writer, IMMEDIATE takes
    # the write lock when a transaction starts (two writers never deadlock upgrading a read
    # lock), and a writer waits up to 20 s for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )

# Every key Taskdeck and its libraries write to Redis starts with this deployment's prefix
# (Django's KEY_PREFIX; RQ's queue is named after it): two deployments sharing one Redis
# must set different prefixes. Letters, digits, ".", "_" and "-".
TASKDECK_CACHE_PREFIX = env_str("TASKDECK_CACHE_PREFIX", "taskdeck")
if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", TASKDECK_CACHE_PREFIX):
    raise ImproperlyConfigured(
        "TASKDECK_CACHE_PREFIX must be 1 to 64 letters, digits, '.', '_' or '-', "
        f"not {TASKDECK_CACHE_PREFIX!r}."
    )
# Bytes held by a local-memory cache (the default cache without Redis, and each process's
# cached template fragments), least recently used first out.
TASKDECK_LOCAL_CACHE_MAX_BYTES = env_int("TASKDECK_LOCAL_CACHE_MAX_BYTES", 32 * 1024 * 1024)


def _redis_cache(url: str) -> dict:
    """Django's Redis cache that keeps pages working while Redis is down (dashboard/cache.py),
    with short timeouts so a Redis that hangs cannot hold a page either."""
    return {
        "BACKEND": "dashboard.cache.ResilientRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": TASKDECK_CACHE_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2.0},
    }


def _local_cache(name: str) -> dict:
    # Bounded by bytes, not only entries: shared reads of large pages would otherwise grow
    # each worker by hundreds of MiB.
    return {
        "BACKEND": "dashboard.cache.BoundedLocMemCache",
        "LOCATION": name,
        "KEY_PREFIX": TASKDECK_CACHE_PREFIX,
        "OPTIONS": {"MAX_BYTES": TASKDECK_LOCAL_CACHE_MAX_BYTES},
    }


# The shared cache (CACHE_URL): shared reads, directory lists, the account check, cached
# sessions. Everything in it may be evicted or lost: run it with maxmemory and an
# eviction policy (README, "Running at scale").
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": _redis_cache(CACHE_URL)}
elif CACHE_URL in ("", "locmem://"):
    CACHES = {"default": _local_cache("")}
else:
    raise ImproperlyConfigured(
        f"CACHE_URL must be redis://host:port/db or empty (local memory), not {CACHE_URL!r}."
    )
# Template fragments ({% cache %}: the filter bar, the bulk bar) stay in each process's
# memory, bounded by bytes: cheap to render again, and any viewer can make new ones (one
# per query), so they must never grow the shared Redis.
CACHES["template_fragments"] = _local_cache("template-fragments")
# State that must never be evicted: the fleet's rate budget and the circuit breakers. On
# REDIS_URL (the Redis holding RQ's queue, run with maxmemory-policy noeviction) when set,
# else in the default cache.
REDIS_URL = env_str("REDIS_URL")
CACHES["state"] = _redis_cache(REDIS_URL) if REDIS_URL else CACHES["default"]

# --- Background work (bulk previews and writes): django-tasks, the backport of Django 6's
# django.tasks (the upgrade is an import change). The database backend is the default and
# needs nothing else; a fleet uses RQ on Redis, whose workers scale out as processes on any
# machine. `manage.py worker` runs the right one. TASKDECK_TASKS_BACKEND picks one; with
# only REDIS_URL set, RQ is chosen. Jobs go to the queue TASKDECK_TASK_QUEUE. Nothing is
# deferred (no RQ scheduler): stalled jobs are handed over by a fleet duty (tasks_app/bulk.py).
TASKDECK_TASKS_BACKEND = env_str("TASKDECK_TASKS_BACKEND", "rq" if REDIS_URL else "db")
if TASKDECK_TASKS_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured(
            "TASKDECK_TASKS_BACKEND=rq needs REDIS_URL (redis://host:6379/1)."
        )
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    # RQ's queue is named after the deployment's prefix: two deployments sharing a Redis
    # never take each other's jobs.
    TASKDECK_TASK_QUEUE = TASKDECK_CACHE_PREFIX
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [TASKDECK_TASK_QUEUE]}}
    RQ_QUEUES = {TASKDECK_TASK_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}}
elif TASKDECK_TASKS_BACKEND == "db":
    # The queue lives in this deployment's own database.
    TASKDECK_TASK_QUEUE = "default"
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured(
        f"TASKDECK_TASKS_BACKEND must be db or rq, not {TASKDECK_TASKS_BACKEND!r}."
    )

# A session identifies the browser that opened an editor or started a bulk action (those
# live in their own tables); the database keeps sessions when the cache is cold or is not
# shared by every instance.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- TaskRouter -------------------------------------------------------------------------
# The default base URL is the embedded sandbox, reached in-process (no socket); the
# ".invalid" name can never resolve, so a misrouted request fails instead of leaking.
EMBEDDED_SANDBOX_URL = "http://taskrouter.sandbox.invalid"
TASKROUTER_BASE_URL = env_str("TASKROUTER_BASE_URL", EMBEDDED_SANDBOX_URL).rstrip("/")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_API_KEY = env_str("TWILIO_API_KEY")
TWILIO_API_SECRET = env_str("TWILIO_API_SECRET")
# Transports mounted on the TaskRouter session by URL prefix (dotted paths of factories
# returning a requests adapter): the embedded sandbox answers in-process, with no socket.
TASKROUTER_TRANSPORTS = {EMBEDDED_SANDBOX_URL: "tasks_app.embedded_sandbox.transport"}
if TASKROUTER_BASE_URL == EMBEDDED_SANDBOX_URL and not (TWILIO_ACCOUNT_SID or TWILIO_API_KEY):
    # The sandbox's documented development credentials (README, "The embedded sandbox").
    TWILIO_ACCOUNT_SID = DEVELOPMENT_CREDENTIALS.account_sid
    TWILIO_AUTH_TOKEN = DEVELOPMENT_CREDENTIALS.auth_token
# Without a usable URL and credentials every page would answer 502 (TaskRouter refuses an
# unauthenticated call, and so does a sandbox served by `manage.py runsandbox`): stop now,
# with the client's own rules, and say what to set.
try:
    access.checked_base_url(TASKROUTER_BASE_URL)
    access.basic_auth(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        api_key=TWILIO_API_KEY,
        api_secret=TWILIO_API_SECRET,
    )
except Misconfigured as problem:
    raise ImproperlyConfigured(
        f"TASKROUTER_BASE_URL={TASKROUTER_BASE_URL}: every page would answer 502. {problem}"
        + (
            ""
            if TASKROUTER_BASE_URL == EMBEDDED_SANDBOX_URL
            else " (A sandbox served by manage.py runsandbox accepts TWILIO_ACCOUNT_SID="
            f"{DEVELOPMENT_CREDENTIALS.account_sid} and TWILIO_AUTH_TOKEN="
            f"{DEVELOPMENT_CREDENTIALS.auth_token}; without TASKROUTER_BASE_URL, Taskdeck "
            "uses its embedded sandbox.)"
        )
    ) from None
# Read timeout of one call to TaskRouter, in seconds (the connect timeout is 3.05 s or
# this, whichever is smaller). Retries of reads and 429s come on top, within
# TASKROUTER_MAX_RETRIES.
TASKROUTER_TIMEOUT = env_float("TASKROUTER_TIMEOUT", 10.0)
TASKROUTER_MAX_RETRIES = env_int("TASKROUTER_MAX_RETRIES", 2)
# All TaskRouter calls made for one page share this many seconds, retries included; then
# the page says TaskRouter is not answering instead of holding a worker for a minute.
TASKROUTER_PAGE_DEADLINE = env_float("TASKROUTER_PAGE_DEADLINE", 6.0, minimum=0.5)
# Reads one process lets wait on TaskRouter at once; more fail fast. Keep it below the
# worker's threads (gunicorn --threads 8), so a hanging TaskRouter leaves threads free for
# health checks and for pages that need no TaskRouter.
TASKROUTER_MAX_READS_IN_FLIGHT = env_int("TASKROUTER_MAX_READS_IN_FLIGHT", 5)
# After this many failed calls in a row to one kind of endpoint (tasks list, one task,
# writes, directory), every worker stops calling it for the cool-down, then probes once.
TASKROUTER_BREAKER_FAILURES = env_int("TASKROUTER_BREAKER_FAILURES", 5)
TASKROUTER_BREAKER_COOLDOWN = env_float("TASKROUTER_BREAKER_COOLDOWN", 15.0, minimum=1)
TASKROUTER_RETRY_BACKOFF = env_float("TASKROUTER_RETRY_BACKOFF", 0.25)
TASKROUTER_DEFAULT_WORKSPACE = env_str("TASKROUTER_DEFAULT_WORKSPACE")
# How long workspace, queue, workflow and channel lists are cached (they rarely change).
TASKROUTER_DIRECTORY_TTL = env_int("TASKROUTER_DIRECTORY_TTL", 60)
# How long one read of a task table page serves everyone viewing the same page, on every
# instance sharing the cache (0 turns sharing off), however much is written meanwhile; a
# person's own writes end it for them at once.
TASKROUTER_SHARED_READ_SECONDS = env_float("TASKROUTER_SHARED_READ_SECONDS", 2.0, minimum=0)
# How long such a shared read is kept to be shown, with its age, when TaskRouter fails or
# misses the page's deadline (only while sharing is on).
TASKROUTER_STALE_SECONDS = env_float("TASKROUTER_STALE_SECONDS", 300.0, minimum=0)
# What shared reads may hold in the shared cache, per TaskRouter account: at most this many
# entries (a read's slot comes from its normalised query) of at most this many bytes each
# (a larger page is read for each viewer instead). The bound is slots x bytes, whatever
# URLs anyone asks for: 256 x 2 MiB by default (a 1000-row page is about 1.5 MB).
TASKDECK_SHARED_READ_SLOTS = env_int("TASKDECK_SHARED_READ_SLOTS", 256)
TASKDECK_SHARED_READ_MAX_BYTES = env_int("TASKDECK_SHARED_READ_MAX_BYTES", 2 * 1024 * 1024)

# The fleet-wide TaskRouter rate budget (tasks_app/taskrouter/budget.py), shared through
# the cache: on by default except against the embedded sandbox, which has no limits.
# TASKDECK_RATE_LIMITS sets an account's real limits ("Task-Update=20,Task-Fetch=40");
# a read waits at most TASKDECK_BUDGET_READ_WAIT seconds for budget, a write
# TASKDECK_BUDGET_WRITE_WAIT (bulk jobs wait as long as it takes).
TASKDECK_RATE_BUDGET = env_bool("TASKDECK_RATE_BUDGET", None)
TASKDECK_RATE_LIMITS = env_str("TASKDECK_RATE_LIMITS")
TASKDECK_BUDGET_READ_WAIT = env_float("TASKDECK_BUDGET_READ_WAIT", 2.0, minimum=0)
TASKDECK_BUDGET_WRITE_WAIT = env_float("TASKDECK_BUDGET_WRITE_WAIT", 10.0, minimum=0)

# The embedded sandbox (only used while TASKROUTER_BASE_URL is the default above).
# A relative path is taken from the repository, wherever the process was started.
SANDBOX_DB_PATH = BASE_DIR / env_str("SANDBOX_DB_PATH", str(VAR_DIR / "sandbox.sqlite3"))
SANDBOX_SEED_TASKS = env_int("SANDBOX_SEED_TASKS", 600)
SANDBOX_LIST_ATTRIBUTES = env_bool("SANDBOX_LIST_ATTRIBUTES", True)
# Seconds after closing that the sandbox purges a canceled or completed task; unset:
# TaskRouter's 5 to 8 minutes.
SANDBOX_PURGE_AFTER = (
    env_float("SANDBOX_PURGE_AFTER", 0.0, minimum=0) if env_str("SANDBOX_PURGE_AFTER") else None
)

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security ---------------------------------------------------------------------------
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^livez$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    # Only when the proxy overwrites X-Forwarded-Proto itself (see README).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# A strict policy: no inline script or style anywhere, htmx configured without eval.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Identity: the company's SSO proxy says who is acting (tasks_app/identity.py) ------
# Django's remote-user sign-in, with the header names, trusted proxies and roles below
# (tasks_app/identity.py). Users are created the first time they are seen.
AUTHENTICATION_BACKENDS = ["tasks_app.identity.SSOBackend"]
TASKDECK_SSO_USER_HEADER = env_str("TASKDECK_SSO_USER_HEADER", "X-Forwarded-Email")
TASKDECK_SSO_GROUPS_HEADER = env_str("TASKDECK_SSO_GROUPS_HEADER", "X-Forwarded-Groups")
# CIDRs of the proxy; identity headers from any other peer address are refused. Taskdeck
# must also be unreachable except through the proxy, which replaces (never appends to)
# the identity headers.
TASKDECK_SSO_TRUSTED_PROXIES = env_list("TASKDECK_SSO_TRUSTED_PROXIES")
# role=group,group;role=group: e.g. admin=ops-admins;editor=ops-supervisors,team-leads;viewer=ops
TASKDECK_ROLE_GROUPS = env_str("TASKDECK_ROLE_GROUPS")
# Without SSO everyone is this person, with this role (DEBUG with no trusted proxy, so
# `make run` works alone, or TASKDECK_SSO_DISABLED=1 on purpose; every page then says so).
TASKDECK_SSO_DISABLED = env_bool("TASKDECK_SSO_DISABLED", False)
TASKDECK_DEV_USER = env_str("TASKDECK_DEV_USER", "developer@localhost")
TASKDECK_DEV_ROLE = env_str("TASKDECK_DEV_ROLE", "admin")
if not DEBUG and not TASKDECK_SSO_TRUSTED_PROXIES and not TASKDECK_SSO_DISABLED:
    raise ImproperlyConfigured(
        "TASKDECK_SSO_TRUSTED_PROXIES is not set, so Taskdeck could not know who is acting. "
        "Set it to the CIDRs of the SSO proxy in front of Taskdeck (e.g. 10.0.0.5/32), or "
        "set TASKDECK_SSO_DISABLED=1 to let everyone act as TASKDECK_DEV_USER "
        "(every page will say so)."
    )

# --- Locale -----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TASKDECK_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- Logging: one JSON object per line on stdout, each with its request id (taken from
# X-Request-Id or made up, echoed on the response; TaskRouter call lines carry it too).
# LOG_FORMAT=plain gives readable lines for development. Secrets are never logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "tasks_app.requestlog.RequestIdFilter"},
    },
    "formatters": {
        "json": {"()": "tasks_app.requestlog.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("LOG_FORMAT", "plain" if DEBUG else "json"),
            "filters": ["request_id"],
            "level": env_str("LOG_LEVEL", "INFO"),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING" if not DEBUG else "INFO"},
    },
}
if LOGGING["handlers"]["console"]["formatter"] not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")

# --- Taskdeck ---------------------------------------------------------------------------
# The fleet's duties (tasks_app/fleet/): a worker holds a duty's lease this long unless it
# renews it (every third of it); when the worker dies, another takes the duty over within
# about this many seconds plus one.
TASKDECK_LEASE_SECONDS = env_float("TASKDECK_LEASE_SECONDS", 6.0)
# Each worker serves its own Prometheus metrics here (its bulk outcomes and TaskRouter
# calls; no web instance sees them). Port 0: none. Several workers on one machine need a
# port each.
TASKDECK_WORKER_METRICS_HOST = env_str("TASKDECK_WORKER_METRICS_HOST", "127.0.0.1")
TASKDECK_WORKER_METRICS_PORT = env_int("TASKDECK_WORKER_METRICS_PORT", 8001)
# The follower of TaskRouter's Events (tasks_app/index/): how often it reads new events, and
# how often it reads a workspace's whole task list (older tasks, deletions nobody announced).
TASKDECK_FOLLOW_SECONDS = env_float("TASKDECK_FOLLOW_SECONDS", 2.0, minimum=0.1)
TASKDECK_INDEX_RECONCILE_SECONDS = env_float("TASKDECK_INDEX_RECONCILE_SECONDS", 300.0, minimum=1)
# How long "Undo" is offered after a person's save or bulk job (tasks_app/timeline/undo.py);
# reverting from the task's timeline stays possible afterwards, on the same terms.
TASKDECK_UNDO_SECONDS = env_int("TASKDECK_UNDO_SECONDS", 60)
# Saved views' alerts (tasks_app/saved_views/): one evaluator for the fleet checks every
# alert this often; webhooks go only to these hosts (host or host:port), signed with this
# secret (HMAC-SHA256), retried with backoff up to this many attempts. The deep link in
# each alert starts with Taskdeck's public address.
TASKDECK_ALERT_SECONDS = env_float("TASKDECK_ALERT_SECONDS", 30.0, minimum=0.2)
TASKDECK_ALERT_WEBHOOK_HOSTS = env_list("TASKDECK_ALERT_WEBHOOK_HOSTS", [])
TASKDECK_ALERT_SIGNING_SECRET = env_str("TASKDECK_ALERT_SIGNING_SECRET", "")
TASKDECK_ALERT_MAX_ATTEMPTS = env_int("TASKDECK_ALERT_MAX_ATTEMPTS", 8)
TASKDECK_ALERT_RETRY_SECONDS = env_float("TASKDECK_ALERT_RETRY_SECONDS", 5.0, minimum=0.01)
TASKDECK_PUBLIC_URL = env_str("TASKDECK_PUBLIC_URL", "").rstrip("/")
# How often an open task table refreshes itself, in seconds (users can pause it).
TASKDECK_REFRESH_SECONDS = env_int("TASKDECK_REFRESH_SECONDS", 15)
# Service levels: the target wait (seconds, creation to an accepted reservation) of every
# queue that has no target of its own on the targets page. 0 (the default): none, so a
# queue without a target shows no service level rather than an invented one.
TASKDECK_DEFAULT_SLA_SECONDS = max(0, env_int("TASKDECK_DEFAULT_SLA_SECONDS", 0))
# The most tasks one CSV export writes (TaskRouter pages of 1000, so 10 calls by default).
TASKDECK_EXPORT_MAX_ROWS = env_int("TASKDECK_EXPORT_MAX_ROWS", 10_000)
TASKDECK_TITLE_ATTRIBUTES = env_list("TASKDECK_TITLE_ATTRIBUTES", ["customer.name", "name", "from"])
# Attribute paths the table's search box looks in (each one CONTAINS the text, joined by OR).
TASKDECK_SEARCH_ATTRIBUTES = env_list(
    "TASKDECK_SEARCH_ATTRIBUTES", ["customer.name", "name", "from", "subject"]
)
# Bulk actions: the most tasks one job covers, writes at once, writes per second (stay
# inside TaskRouter's per-account rate limit), and how long one request keeps writing.
TASKDECK_BULK_MAX_TASKS = env_int("TASKDECK_BULK_MAX_TASKS", 1000)
TASKDECK_BULK_CONCURRENCY = env_int("TASKDECK_BULK_CONCURRENCY", 4)
TASKDECK_BULK_RATE = env_float("TASKDECK_BULK_RATE", 10.0)
TASKDECK_BULK_CHUNK_SECONDS = env_float("TASKDECK_BULK_CHUNK_SECONDS", 3.0)
# A job whose worker has shown no progress for this long is taken over by another worker
# (a worker killed mid-chunk leaves its claimed items behind; see tasks_app/bulk.py).
TASKDECK_BULK_STALE_SECONDS = env_float("TASKDECK_BULK_STALE_SECONDS", 60.0)
