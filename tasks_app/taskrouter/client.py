"""HTTP to TaskRouter: sessions, authentication, timeouts, retries and error mapping.

The only place in Taskdeck that touches ``requests``. Everything it returns is an
`ApiResponse` of parsed JSON; everything that goes wrong is a `TaskRouterError`.

Retry policy (TaskRouter's behaviour is summarised in docs/taskrouter.md, "Errors and
retries"):
- Reads (GET) are retried on connection errors, timeouts, 429 and 5xx.
- Any method is retried on 429 ("requests that receive 429 responses aren't processed
  and are safe to retry") and on a connection that was refused before the request went
  out. A write whose answer was lost (read timeout, dropped connection) is never resent:
  TaskRouter may have applied it, and the caller must re-read.
- Backoff is exponential with full jitter; a Retry-After header, when present, wins
  (capped, so one answer cannot stall a page for long).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.utils.module_loading import import_string
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.exceptions import NewConnectionError

from . import budget
from .errors import (
    AuthenticationFailed,
    Misconfigured,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Rejected,
    TaskRouterError,
    Unavailable,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05  # slightly above a multiple of 3 s, as requests' docs advise
MAX_RETRY_AFTER = 5.0  # seconds; longer waits become a "rate limited" message instead
POOL_SIZE = 16  # >= gunicorn threads per worker
_RETRYABLE_READ_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class ClientConfig:
    base_url: str
    auth: tuple[str, str]
    timeout: tuple[float, float]
    max_retries: int
    backoff: float

    @classmethod
    def from_settings(cls) -> ClientConfig:
        base_url = settings.TASKROUTER_BASE_URL.rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Misconfigured(
                "TASKROUTER_BASE_URL must be an http(s) URL such as https://taskrouter.twilio.com."
            )
        read_timeout = float(settings.TASKROUTER_TIMEOUT)
        return cls(
            base_url=base_url,
            auth=_credentials(),
            timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout),
            max_retries=max(0, int(settings.TASKROUTER_MAX_RETRIES)),
            backoff=float(settings.TASKROUTER_RETRY_BACKOFF),
        )


def _credentials() -> tuple[str, str]:
    """HTTP Basic pair: API Key + secret when given, else Account SID + Auth Token."""
    if settings.TWILIO_API_KEY or settings.TWILIO_API_SECRET:
        if not (settings.TWILIO_API_KEY and settings.TWILIO_API_SECRET):
            raise Misconfigured("TWILIO_API_KEY and TWILIO_API_SECRET must be set together.")
        return settings.TWILIO_API_KEY, settings.TWILIO_API_SECRET
    if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
        return settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN
    raise Misconfigured(
        "Taskdeck has no TaskRouter credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, "
        "or TWILIO_API_KEY, TWILIO_API_SECRET and TWILIO_ACCOUNT_SID."
    )


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: Any  # parsed JSON; None for 204
    headers: Mapping[str, str]

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("Twilio-Request-Id")


# One Session per process and thread: requests does not promise thread safety, and a
# pool must never be shared across a fork.
_local = threading.local()


def _mounted_transport(config: ClientConfig) -> BaseAdapter | None:
    """A transport configured for this base URL (TASKROUTER_TRANSPORTS maps URL prefixes to
    dotted paths of adapter factories): how the embedded sandbox is reached in-process."""
    for prefix, factory in settings.TASKROUTER_TRANSPORTS.items():
        if config.base_url.startswith(prefix.rstrip("/")):
            return import_string(factory)()
    return None


def _session(config: ClientConfig) -> requests.Session:
    # The mounted transport is part of the key: tests point each test at its own sandbox
    # file, and a session must never talk to a sandbox it was not built for.
    transport = _mounted_transport(config)
    sessions: dict = getattr(_local, "sessions", None) or {}
    _local.sessions = sessions
    session = sessions.get((config, transport))
    if session is None:
        session = requests.Session()
        session.auth = config.auth
        session.headers.update({"Accept": "application/json", "User-Agent": "Taskdeck/0.1"})
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        if transport is not None:
            session.mount(config.base_url, transport)
        sessions[(config, transport)] = session
    return session


def reset_sessions() -> None:
    """Drop this thread's sessions (after settings change, in tests)."""
    for session in (getattr(_local, "sessions", None) or {}).values():
        session.close()
    _local.sessions = {}


def request(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ApiResponse:
    """One TaskRouter call with the retry policy above. ``path`` may be an absolute URL
    TaskRouter gave us (a next_page_url), which is followed verbatim."""
    config = ClientConfig.from_settings()
    url = path if path.startswith(("http://", "https://")) else config.base_url + path
    session = _session(config)
    attempt = 0
    while True:
        budget.acquire(method, url, params)  # the fleet's shared rate budget (budget.py)
        started = time.monotonic()
        try:
            response = session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=config.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            elapsed = time.monotonic() - started
            safe = method == "GET" or _never_sent(exc)
            logger.warning(
                "taskrouter %s %s failed after %.3fs (attempt %d): %s",
                method,
                _loggable(url),
                elapsed,
                attempt + 1,
                type(exc).__name__,
            )
            if safe and attempt < config.max_retries:
                _sleep(_backoff(config, attempt))
                attempt += 1
                continue
            raise _connection_error(exc, method) from None

        status = response.status_code
        logger.info(
            "taskrouter %s %s -> %d in %.3fs (attempt %d, request %s)",
            method,
            _loggable(url),
            status,
            time.monotonic() - started,
            attempt + 1,
            response.headers.get("Twilio-Request-Id", "-"),
        )
        retryable = status == 429 or (method == "GET" and status in _RETRYABLE_READ_STATUSES)
        if retryable and attempt < config.max_retries:
            delay = _retry_after(response)
            if delay is None or delay <= MAX_RETRY_AFTER:
                _sleep(delay if delay is not None else _backoff(config, attempt))
                attempt += 1
                continue
        return _interpret(response)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _backoff(config: ClientConfig, attempt: int) -> float:
    # Full jitter: spreads a fleet's retries instead of synchronising them.
    return random.uniform(0, config.backoff * (2**attempt))


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP-date; TaskRouter does not document Retry-After at all


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached TaskRouter (safe to resend a write)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, NewConnectionError)
    return False


def _connection_error(exc: requests.RequestException, method: str) -> TaskRouterError:
    if method != "GET" and not _never_sent(exc):
        return Unavailable(
            "TaskRouter did not answer in time, so Taskdeck cannot tell whether the change "
            "was saved. Reload the task to check before trying again."
        )
    if isinstance(exc, requests.Timeout):
        return Unavailable("TaskRouter did not answer in time. Try again in a moment.")
    return Unavailable("Taskdeck could not connect to TaskRouter. Try again in a moment.")


def _loggable(url: str) -> str:
    """The path and query only: never credentials, and no host noise."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _interpret(response: requests.Response) -> ApiResponse:
    status = response.status_code
    if status == 204:
        return ApiResponse(status=status, body=None, headers=response.headers)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
        if 200 <= status < 300:
            raise Unavailable(
                "TaskRouter sent an answer Taskdeck could not read. Try again in a moment.",
                http_status=status,
                request_id=response.headers.get("Twilio-Request-Id"),
            ) from None
    if 200 <= status < 300:
        return ApiResponse(status=status, body=body, headers=response.headers)
    raise _error_for(status, body if isinstance(body, dict) else {}, response.headers)


def _error_for(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> TaskRouterError:
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    details = {
        "http_status": status,
        "code": code,
        "request_id": headers.get("Twilio-Request-Id"),
        "more_info": body.get("more_info") if isinstance(body.get("more_info"), str) else None,
    }
    if status == 404:
        return NotFound(**details)
    if status == 412:
        return PreconditionFailed(**details)
    if status in (401, 403):
        return AuthenticationFailed(**details)
    if status == 429:
        return RateLimited(**details)
    if status >= 500:
        return Unavailable(
            f"TaskRouter had a problem (HTTP {status}). Try again in a moment.", **details
        )
    # 400s carry TaskRouter's own explanation, written for API users; it names the task
    # and what was wrong, so it is the most useful thing to show.
    return Rejected(message or f"TaskRouter refused the request (HTTP {status}).", **details)
