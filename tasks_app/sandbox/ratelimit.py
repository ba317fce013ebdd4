"""TaskRouter's rate limits, enforced by the sandbox when asked (``runsandbox --rate-limits``).

Per account and per resource key (``Task-List-EvaluateTaskAttributes``, ``Task-Update``...),
at most the key's limit times 10 requests in any 10 seconds: TaskRouter averages its
per-second limits over 10 s, so a burst is fine while the 10-s average holds. The limits
are TaskRouter's own (``tasks_app.taskrouter.limits``, shared with Taskdeck's budget).
A request over the limit is answered 429 with Twilio's body (code 20429) and is not
processed, as TaskRouter does; it does not count against the limit.

DECISION: TaskRouter documents no Retry-After; the sandbox sends one (whole seconds until
the oldest request leaves the window), as the issue asking for this mode wants clients to
be able to honour it. The account is the Basic-auth user (an Account SID, or an API key
standing for its account).
"""

from __future__ import annotations

import base64
import binascii
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from tasks_app.taskrouter import limits

__all__ = ["RateLimiter", "account_of"]


def account_of(authorization: str | None) -> str:
    """The Basic-auth user name of a request ("" when there is none)."""
    if not authorization or not authorization.startswith("Basic "):
        return ""
    try:
        decoded = base64.b64decode(authorization[6:], validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    return decoded.split(":", 1)[0]


class RateLimiter:
    def __init__(
        self,
        overrides: Mapping[str, int] | None = None,
        *,
        window: float = limits.WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self.admitted = 0
        self.refused = 0

    def check(self, account: str, method: str, path: str, parameters: Iterable[str]) -> int | None:
        """Record the request and return None, or return the Retry-After (seconds) of a
        request over the limit."""
        key = limits.resource_key(method, path, parameters)
        allowed = limits.limit_for(key, self.overrides) * self.window
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault((account, key), deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= allowed:
                self.refused += 1
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            self.admitted += 1
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self.admitted = self.refused = 0
