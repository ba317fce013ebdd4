"""gunicorn, as Taskdeck runs in production: `gunicorn -c gunicorn.conf.py dashboard.wsgi`.

Every value comes from the environment (README, "Running at scale"), with defaults sized
for a small machine. Threads, not processes, carry most of the concurrency: a page spends
its time waiting on TaskRouter, and threads share one TaskRouter connection pool per
worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger

from dashboard.env import (
    configuration_errors_in_one_line,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)

# Every value read here goes through dashboard/env.py (an empty value is the default); a
# value that cannot work stops start-up with one line, not gunicorn's traceback.
with configuration_errors_in_one_line():
    bind = env_list("GUNICORN_BIND", ["127.0.0.1:8000"])
    worker_class = "gthread"
    workers = env_int("GUNICORN_WORKERS", 2)
    # At most the TaskRouter client's connection pool per process (16), so no thread waits
    # for a connection.
    threads = min(env_int("GUNICORN_THREADS", 8), 16)

    # A worker is killed when a request runs longer than `timeout`. The slowest legitimate
    # request is a TaskRouter call timing out on every attempt: (connect 3.05 s + read
    # TASKROUTER_TIMEOUT) per attempt, 1 + TASKROUTER_MAX_RETRIES attempts, and up to 5 s of
    # Retry-After between them. The timeout sits above that, so gunicorn never kills a
    # request that Taskdeck itself would still answer with a clear message.
    _read = env_float("TASKROUTER_TIMEOUT", 10.0)
    _attempts = 1 + max(0, env_int("TASKROUTER_MAX_RETRIES", 2))
    _taskrouter_worst_case = _attempts * (3.05 + _read) + (_attempts - 1) * 5.0
    timeout = env_int("GUNICORN_TIMEOUT", int(_taskrouter_worst_case) + 15)
    graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
    keepalive = env_int("GUNICORN_KEEPALIVE", 5)
    # Load Taskdeck once in the master: a settings mistake stops start-up with its message,
    # and workers start in milliseconds.
    preload_app = True
    # Several instances may run on one machine (make loadtest); nothing uses the socket.
    control_socket_disable = True
    max_requests = env_int("GUNICORN_MAX_REQUESTS", 5000)
    max_requests_jitter = max_requests // 10

    # X-Forwarded-Proto (and the other forwarded headers) are trusted from these addresses
    # only when Taskdeck is deployed behind a TLS proxy, the same switch that makes Django
    # trust the header (DJANGO_BEHIND_TLS_PROXY). Otherwise from nobody: gunicorn's own
    # default trusts loopback, which would let anything on the machine claim HTTPS.
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        forwarded_allow_ips = ",".join(
            env_list("TASKDECK_FORWARDED_ALLOW_IPS")
            or env_list("TASKDECK_SSO_TRUSTED_PROXIES")
            or ["127.0.0.1", "::1"]
        )
    else:
        forwarded_allow_ips = ""

    # "-" is stdout, "off" none (as load tests run), anything else a file.
    _access_log = env_str("GUNICORN_ACCESS_LOG", "-")
    accesslog = None if _access_log.lower() == "off" else _access_log
    errorlog = "-"

# The access line's message; its fields (method, path, status, duration...) are added one
# by one by the JSON formatter, which escapes whatever the client sent.
access_log_format = "%(m)s %(U)s %(s)s"
# gunicorn's own lines (start-up, workers, errors; the access log when on) as JSON objects
# by the same formatter as Django's (tasks_app/requestlog.py): every line on stdout and
# stderr is one JSON object, whatever a path or a header holds.


class _Atoms(dict):
    """gunicorn's atoms as they are: its own wrapper escapes quotes for its text format,
    which the JSON formatter (escaping everything itself) would show doubled."""

    def __getitem__(self, key: str):
        return self.get(key.lower() if key.startswith("{") else key, "-")


class JsonLogger(Logger):
    atoms_wrapper_class = _Atoms


logger_class = JsonLogger
_json_to = {
    "-": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
    "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "tasks_app.requestlog.JsonFormatter"}},
    # Django's settings give the root logger its handler when Taskdeck loads.
    "root": {"level": "INFO", "handlers": []},
    "handlers": {
        "error": {**_json_to["stderr"], "formatter": "json"},
        **(
            {
                "access": {
                    **_json_to.get(
                        accesslog, {"class": "logging.FileHandler", "filename": accesslog}
                    ),
                    "formatter": "json",
                }
            }
            if accesslog
            else {}
        ),
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {
            "handlers": ["access"] if accesslog else [],
            "level": "INFO" if accesslog else "WARNING",
            "propagate": False,
        },
    },
}


# Metrics from every worker, merged on /metrics (prometheus-client multiprocess mode). The
# directory must exist, and hold no samples of an earlier run, before Taskdeck is loaded
# (preload_app loads it right after this file), so it is prepared here. One directory per
# instance: two instances must not share one.
_METRICS_DIR = Path(
    env_str("PROMETHEUS_MULTIPROC_DIR")
    or Path(tempfile.gettempdir()) / f"taskdeck-metrics-{os.getpid()}"
)
_METRICS_DIR.mkdir(parents=True, exist_ok=True)
for _stale in _METRICS_DIR.glob("*.db"):
    _stale.unlink()
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_METRICS_DIR)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
