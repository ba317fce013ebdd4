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

Deadline: every call made while serving one page shares that page's deadline
(TASKROUTER_PAGE_DEADLINE seconds, started by `page_deadline`); outside a page, each call
gets one of its own. Each attempt's read timeout is the smaller of TASKROUTER_TIMEOUT and
the time left, and retries stop when it is spent: a slow TaskRouter costs a page a few
seconds, not timeout x retries.

Reads in flight: at most TASKROUTER_MAX_READS_IN_FLIGHT reads wait on TaskRouter at once
in one process; more fail fast, so a hanging TaskRouter never holds every worker thread.

Circuit breaker: per TaskRouter origin and endpoint class (tasks list, task fetch, writes,
directory), shared by every worker through the shared state cache (`budget.store`). After
TASKROUTER_BREAKER_FAILURES consecutive failed calls (no answer, a timeout, 5xx, an
unreadable body) it opens for TASKROUTER_BREAKER_COOLDOWN seconds and calls fail at once
without reaching TaskRouter; then one call is let through as a probe, and its outcome
closes or reopens it. A write refused by an open breaker was never sent and says so; a
write that was sent keeps the outcome it really had.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.utils.module_loading import import_string
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.exceptions import NewConnectionError

from . import access, budget, limits
from .errors import (
    AuthenticationFailed,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Rejected,
    TaskRouterError,
    Unavailable,
)
from .signals import call_finished, outcome_of

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
        base_url = access.checked_base_url(settings.TASKROUTER_BASE_URL)
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
    return access.basic_auth(
        account_sid=settings.TWILIO_ACCOUNT_SID,
        auth_token=settings.TWILIO_AUTH_TOKEN,
        api_key=settings.TWILIO_API_KEY,
        api_secret=settings.TWILIO_API_SECRET,
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


# --- The page deadline ---------------------------------------------------------------------


@dataclass(slots=True)
class _Page:
    """The page being served: when it must have its answers (time.monotonic()), the
    outage its reads already met, if any, and what it has already read from the shared
    cache (`page_reads`)."""

    deadline: float
    failure: Unavailable | None = None
    reads: dict[str, Any] = field(default_factory=dict)


_page: ContextVar[_Page | None] = ContextVar("taskrouter_page", default=None)


def page_seconds() -> float:
    return max(0.1, float(settings.TASKROUTER_PAGE_DEADLINE))


@contextlib.contextmanager
def page_deadline(seconds: float | None = None) -> Iterator[None]:
    """Every TaskRouter call inside shares one deadline (TASKROUTER_PAGE_DEADLINE by
    default). An outer deadline is kept: a nested one never extends it."""
    deadline = time.monotonic() + (page_seconds() if seconds is None else seconds)
    outer = _page.get()
    token = _page.set(_Page(deadline if outer is None else min(outer.deadline, deadline)))
    try:
        yield
    finally:
        _page.reset(token)


_routine: ContextVar[bool] = ContextVar("taskrouter_routine", default=False)


@contextlib.contextmanager
def routine_reads() -> Iterator[None]:
    """Calls inside are a background loop's, repeated every few seconds (the index's
    follower reads every workspace's Events every 2 s): their successes are logged at
    DEBUG, where at INFO they would be most of a worker's log and of `make run`'s
    terminal. Anything that fails is logged as always."""
    token = _routine.set(True)
    try:
        yield
    finally:
        _routine.reset(token)


def page_reads() -> dict[str, Any] | None:
    """What the page being served has read from the shared cache, by key; None outside a
    page (bulk workers, management commands), where nothing is kept."""
    page = _page.get()
    return None if page is None else page.reads


def time_left() -> float | None:
    """Seconds left before the current page's deadline; None outside a page."""
    page = _page.get()
    return None if page is None else page.deadline - time.monotonic()


class DeadlineExceeded(Unavailable):
    """The page's time for TaskRouter ran out (retries included)."""


def _deadline_error(method: str, seconds: float) -> Unavailable:
    return DeadlineExceeded(
        f"TaskRouter did not answer within {seconds:g} seconds. Try again in a moment."
        if method == "GET"
        else f"TaskRouter did not answer within {seconds:g} seconds, so nothing was sent. "
        "Try again in a moment."
    )


# --- The circuit breaker ------------------------------------------------------------------

_TASK_PATH = re.compile(r"/v1/Workspaces/[^/]+/Tasks/?$")
_ONE_TASK_PATH = re.compile(r"/v1/Workspaces/[^/]+/Tasks/[^/]+/?$")
ENDPOINT_LABELS = {
    "tasks": "the task list",
    "task": "single tasks",
    "write": "changes to tasks",
    "directory": "workspaces, queues and workflows",
}


def endpoint_class(method: str, url: str) -> str:
    """Which breaker a call belongs to: an outage of one kind of endpoint (TaskRouter's
    writes, say) does not stop Taskdeck from reading."""
    if method != "GET":
        return "write"
    path = urlsplit(url).path
    if _ONE_TASK_PATH.search(path):
        return "task"
    if _TASK_PATH.search(path):
        return "tasks"
    return "directory"


def breaker_states() -> dict[str, str]:
    """Each endpoint class's breaker as every instance sees it now: closed, open, or
    half-open (its cool-down is over and one probe may go). Read from the shared cache,
    so any process tells the fleet's state; an unreadable cache reads as closed, as the
    breaker itself then behaves."""
    config = ClientConfig.from_settings()
    states = {}
    for kind in ENDPOINT_LABELS:
        breaker = _Breaker.for_kind(config, kind)
        try:
            open_until = budget.store().get(breaker.key + ":open")
        except Exception:
            open_until = None
        if open_until is None:
            states[kind] = "closed"
        else:
            states[kind] = "open" if time.time() < open_until else "half-open"
    return states


class CircuitOpen(Unavailable):
    """TaskRouter kept failing; Taskdeck is not asking it for a while (nothing was sent)."""


@dataclass(slots=True)
class _Breaker:
    key: str
    label: str
    # Whether allow() saw failures or an open state: only then does a success need to
    # reset anything (a healthy call costs one cache read).
    seen_trouble: bool = True

    @classmethod
    def for_call(cls, config: ClientConfig, method: str, url: str) -> _Breaker:
        return cls.for_kind(config, endpoint_class(method, url))

    @classmethod
    def for_kind(cls, config: ClientConfig, kind: str) -> _Breaker:
        origin = hashlib.sha256(config.base_url.encode()).hexdigest()[:16]
        return cls(key=f"taskrouter:breaker:{origin}:{kind}", label=ENDPOINT_LABELS[kind])

    # The cache may itself be down (Redis restarting): the breaker then stays out of the
    # way rather than turning a cache error into a TaskRouter error, or hiding the real
    # outcome of a write that was sent.
    def allow(self) -> bool:
        """Whether a call may go out now; False while open (and while another worker
        is already probing a breaker whose cool-down ended)."""
        try:
            state = budget.store().get_many([self.key + ":open", self.key + ":failures"])
            self.seen_trouble = bool(state)
            open_until = state.get(self.key + ":open")
            if open_until is None:
                return True
            if time.time() < open_until:
                return False
            # Half open: exactly one caller, in any worker, probes TaskRouter.
            probe_seconds = float(settings.TASKROUTER_TIMEOUT) + CONNECT_TIMEOUT + 1
            return bool(budget.store().add(self.key + ":probe", 1, timeout=probe_seconds))
        except Exception:
            return True

    def succeeded(self) -> None:
        if not self.seen_trouble:
            return
        try:
            budget.store().delete_many(
                [self.key + ":failures", self.key + ":open", self.key + ":probe"]
            )
        except Exception:
            logger.warning("taskrouter breaker %s could not be reset", self.key)

    def failed(self) -> None:
        threshold = max(1, int(settings.TASKROUTER_BREAKER_FAILURES))
        cooldown = max(1.0, float(settings.TASKROUTER_BREAKER_COOLDOWN))
        try:
            # Counting outlives the cool-down, so a failed probe reopens it at once.
            store = budget.store()
            if not store.add(self.key + ":failures", 1, timeout=cooldown * 10):
                failures = store.incr(self.key + ":failures")
            else:
                failures = 1
            if failures >= threshold:
                store.set(self.key + ":open", time.time() + cooldown, timeout=cooldown * 10)
                store.delete(self.key + ":probe")
                logger.warning(
                    "taskrouter breaker %s open for %.0fs after %d failures",
                    self.key,
                    cooldown,
                    failures,
                )
        except Exception:
            logger.warning("taskrouter breaker %s could not record a failure", self.key)

    def refusal(self, method: str) -> CircuitOpen:
        cooldown = float(settings.TASKROUTER_BREAKER_COOLDOWN)
        sent = "" if method == "GET" else " Nothing was sent, so nothing changed."
        return CircuitOpen(
            f"TaskRouter has been failing for {self.label}, so Taskdeck is not asking it "
            f"for up to {cooldown:g} seconds.{sent} Try again in a moment."
        )


# --- Reads in flight -----------------------------------------------------------------------

# How long a read waits for one of the process's slots. A healthy TaskRouter answers in
# tens of milliseconds, so a slot frees up well within this; a hanging one keeps them all
# and later pages fail fast instead of occupying every worker thread (and /livez with them).
SLOT_WAIT = 0.25
# When no slot has come free for this long, TaskRouter is hanging rather than busy: a read
# then fails at once instead of waiting at all.
SLOW_AFTER = 1.0
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()
_last_release = [time.monotonic()]  # when the last read gave its slot back


class Busy(Unavailable):
    """Every read slot of this process is waiting on TaskRouter already."""


def _release(slot: threading.BoundedSemaphore | None) -> None:
    if slot is not None:
        _last_release[0] = time.monotonic()
        slot.release()


def _read_slot(method: str, left: float) -> threading.BoundedSemaphore | None:
    """A slot for one read (TASKROUTER_MAX_READS_IN_FLIGHT per process), or Busy. Writes
    take none: they are few, each is someone's deliberate change, and a write refused here
    would be a write lost for a reason that has nothing to do with it."""
    if method != "GET":
        return None
    size = max(1, int(settings.TASKROUTER_MAX_READS_IN_FLIGHT))
    with _slots_lock:
        slots = _slots.get(size)
        if slots is None:
            slots = _slots[size] = threading.BoundedSemaphore(size)
    if slots.acquire(blocking=False):
        return slots
    hanging = time.monotonic() - _last_release[0] > SLOW_AFTER
    if hanging or not slots.acquire(timeout=max(0.0, min(SLOT_WAIT, left))):
        raise Busy(
            "TaskRouter is slow to answer and Taskdeck is already waiting on it for other "
            "pages. Try again in a moment."
        )
    return slots


# --- Calls ----------------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is not a number
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _absolute_url(config: ClientConfig, path: str) -> str:
    """The URL to call. A URL TaskRouter handed back (a next_page_url) is followed only
    on the configured TaskRouter origin: the request carries the account's credentials,
    and an answer naming another host must never receive them."""
    if not path.startswith(("http://", "https://")):
        return config.base_url + path
    if _origin(path) != _origin(config.base_url):
        logger.warning("taskrouter answer named another origin for its next page; refused")
        raise Unavailable(
            "TaskRouter's answer pointed to another server for its next page, and Taskdeck "
            "only sends its credentials to the configured TaskRouter. An administrator "
            "should check TASKROUTER_BASE_URL and any proxy in between."
        )
    return path


def request(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ApiResponse:
    """One TaskRouter call with the retry policy, deadline and breaker above. ``path``
    may be an absolute URL TaskRouter gave us (a next_page_url) on its own origin.

    Once a read of the page being served has met an outage (no answer in time, 5xx, an
    open breaker), its later reads fail at once with the same message: the page (and its
    header, which lists workspaces) must not spend its deadline twice on a TaskRouter
    that is down."""
    page = _page.get()
    if method == "GET" and page is not None and page.failure is not None:
        raise type(page.failure)(page.failure.user_message)
    try:
        return _request(
            method, path, params=params, data=data, headers=headers, deadline=page and page.deadline
        )
    except Unavailable as error:
        if method == "GET" and page is not None:
            page.failure = error
        raise


def _request(
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None,
    data: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    deadline: float | None,
) -> ApiResponse:
    config = ClientConfig.from_settings()
    url = _absolute_url(config, path)
    session = _session(config)
    breaker = _Breaker.for_call(config, method, url)
    own_seconds = page_seconds()
    seconds = own_seconds if deadline is None else None
    if deadline is None:
        deadline = time.monotonic() + own_seconds
    attempt = 0
    while True:
        if deadline - time.monotonic() <= 0.05:
            raise _deadline_error(method, seconds if seconds is not None else page_seconds())
        if not breaker.allow():
            raise breaker.refusal(method)
        budget.acquire(method, url, params)  # the fleet's shared rate budget (budget.py)
        if seconds is not None and attempt == 0:
            # A call outside a page (a worker, a script) may wait for the budget as long as
            # it is told to; its own deadline runs from when the budget lets it go.
            deadline = time.monotonic() + seconds
        left = deadline - time.monotonic()
        if left <= 0.05:
            raise _deadline_error(method, seconds if seconds is not None else page_seconds())
        slot = _read_slot(method, left)
        started = time.monotonic()
        try:
            try:
                response = session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=(min(config.timeout[0], left), min(config.timeout[1], left)),
                    allow_redirects=False,
                )
            finally:
                _release(slot)
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
            _finished(method, url, params, None, attempt, elapsed)
            pause = _backoff(config, attempt)
            if safe and attempt < config.max_retries and _fits(deadline, pause):
                _sleep(pause)
                attempt += 1
                continue
            breaker.failed()
            if method == "GET" and isinstance(exc, requests.Timeout) and not _fits(deadline, 0):
                # The page's time ran out in this attempt, not TaskRouter's usual timeout.
                raise _deadline_error(method, seconds or page_seconds()) from None
            raise _connection_error(exc, method) from None

        status = response.status_code
        elapsed = time.monotonic() - started
        logger.log(
            logging.DEBUG if _routine.get() and status < 400 else logging.INFO,
            "taskrouter %s %s -> %d in %.3fs (attempt %d, request %s)",
            method,
            _loggable(url),
            status,
            elapsed,
            attempt + 1,
            response.headers.get("Twilio-Request-Id", "-"),
        )
        _finished(method, url, params, status, attempt, elapsed)
        retryable = status == 429 or (method == "GET" and status in _RETRYABLE_READ_STATUSES)
        if retryable and attempt < config.max_retries:
            delay = _retry_after(response)
            if delay is None or delay <= MAX_RETRY_AFTER:
                pause = delay if delay is not None else _backoff(config, attempt)
                if _fits(deadline, pause):
                    _sleep(pause)
                    attempt += 1
                    continue
        try:
            answer = _interpret(response)
        except Unavailable:
            breaker.failed()  # 5xx, or a body that could not be read
            raise
        except TaskRouterError:
            breaker.succeeded()  # TaskRouter answered (404, 412, 400, 429): it is up
            raise
        breaker.succeeded()
        return answer


def _finished(
    method: str, url: str, params: Any, status: int | None, attempt: int, elapsed: float
) -> None:
    """Tells the listeners (metrics) how one attempt ended; a listener's failure never
    changes the call's outcome."""
    with contextlib.suppress(Exception):  # reporting must never break a call
        call_finished.send_robust(
            sender=__name__,
            method=method,
            endpoint=limits.request_key(method, url, params),
            endpoint_class=endpoint_class(method, url),
            status=status,
            outcome=outcome_of(status),
            attempt=attempt + 1,
            elapsed=elapsed,
        )


def _fits(deadline: float, pause: float) -> bool:
    """Whether waiting ``pause`` still leaves time for another attempt."""
    return time.monotonic() + pause < deadline - 0.1


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
