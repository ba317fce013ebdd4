"""Injected faults: TaskRouter slow, rate limiting, failing, hanging up or answering nonsense.

A fault spec is a kind followed by ``;``-separated modifiers::

    delay=SECONDS        answer after SECONDS (then process the request normally)
    429                  Too Many Requests (code 20429); ``retry_after=N`` adds Retry-After: N
    500 | 502 | 503 | 504  a server error in Twilio's body shape
    drop                 close the connection without answering
    malformed            200 with a body that is not JSON
    html                 200 with an HTML page (a captive portal or a proxy's error page)
    401                  the credentials are refused (code 20003), as after a key rotation

    modifiers: times=N (only the next N matching requests), methods=GET,POST,
               path=/Tasks (a substring of the request path)

e.g. ``503;times=2``, ``delay=1.5;methods=GET;path=/Tasks``, ``429;retry_after=2``.

A :class:`FaultPlan` holds the faults applied to every request (``runsandbox --fault``,
repeatable); a request may also carry its own spec in the ``X-Sandbox-Fault`` header (that
one applies to that request only, so ``times`` means nothing there).

Faults are applied before anything else, authentication included: a 429 is never processed,
as Twilio guarantees ([E-20429]). Every delay that matches a request adds up; then the first
matching fault of another kind, if any, decides the answer. A ``times`` count is only used up
when its fault is applied.

DECISIONS (Twilio does not document these):
    * Error codes: 429 -> 20429 "Too Many Requests"; 503 -> 20503 "Service Unavailable";
      500, 502 and 504 -> 20500 with the HTTP reason phrase as the message (Twilio's error
      dictionary has no 20502/20504; a real 502/504 comes from Twilio's edge).
    * Retry-After is only sent when asked for: Twilio documents none for TaskRouter.
    * ``malformed`` answers ``Content-Type: application/json`` and a truncated JSON body, the
      way a proxy cutting a response short looks to a client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from tasks_app.taskrouter.errors import InvalidParameter

__all__ = ["ERROR_KINDS", "ClientReadTimeout", "Fault", "FaultPlan", "ServerDroppedConnection"]

# HTTP status -> (Twilio code, message)
ERROR_KINDS: dict[str, tuple[int, int, str]] = {
    "401": (401, 20003, "Authenticate"),
    "429": (429, 20429, "Too Many Requests"),
    "500": (500, 20500, "Internal Server Error"),
    "502": (502, 20500, "Bad Gateway"),
    "503": (503, 20503, "Service Unavailable"),
    "504": (504, 20500, "Gateway Timeout"),
}
KINDS = frozenset({"delay", "drop", "malformed", "html", *ERROR_KINDS})


class ServerDroppedConnection(Exception):
    """Raised by the app for a ``drop`` fault: the server must hang up without answering."""


class ClientReadTimeout(Exception):
    """Raised to an in-process caller whose read timeout ran out during a ``delay`` fault."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"Read timed out. (read timeout={timeout})")
        self.timeout = timeout


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    seconds: float = 0.0  # delay only
    retry_after: int | None = None  # 429 only
    times: int | None = None
    methods: frozenset[str] | None = None
    path: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse one spec (see the module docstring); InvalidParameter when it is not one."""
        parts = [p.strip() for p in str(spec).split(";") if p.strip()]
        if not parts:
            raise _invalid(spec, "it is empty")
        head, *modifiers = parts
        name, _, value = head.partition("=")
        kind = name.strip().lower()
        if kind not in KINDS:
            raise _invalid(spec, f"{name.strip()!r} is not a fault kind")
        seconds = 0.0
        if kind == "delay":
            seconds = _number(value, spec, "delay")
        elif value:
            raise _invalid(spec, f"{kind} takes no value")
        fields: dict = {}
        for modifier in modifiers:
            key, sep, raw = modifier.partition("=")
            key, raw = key.strip().lower(), raw.strip()
            if not sep or not raw:
                raise _invalid(spec, f"modifier {modifier!r} needs a value (name=value)")
            if key == "times":
                times = _number(raw, spec, "times")
                if times != int(times) or times < 1:
                    raise _invalid(spec, "times must be a whole number of at least 1")
                fields["times"] = int(times)
            elif key == "methods":
                fields["methods"] = frozenset(m.strip().upper() for m in raw.split(",") if m)
            elif key == "path":
                fields["path"] = raw
            elif key == "retry_after" and kind == "429":
                retry = _number(raw, spec, "retry_after")
                if retry != int(retry):
                    raise _invalid(spec, "retry_after must be a whole number of seconds")
                fields["retry_after"] = int(retry)
            else:
                raise _invalid(spec, f"{key!r} is not a modifier of {kind}")
        return cls(kind=kind, seconds=seconds, **fields)

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        return self.path is None or self.path in path

    @property
    def is_delay(self) -> bool:
        return self.kind == "delay"

    def __str__(self) -> str:
        text = f"delay={self.seconds:g}" if self.is_delay else self.kind
        if self.retry_after is not None:
            text += f";retry_after={self.retry_after}"
        if self.times is not None:
            text += f";times={self.times}"
        if self.methods is not None:
            text += f";methods={','.join(sorted(self.methods))}"
        if self.path is not None:
            text += f";path={self.path}"
        return text


class FaultPlan:
    """The faults applied to every request. Thread-safe: ``times`` counts are shared."""

    def __init__(self, faults: Iterable[Fault | str] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: list[list] = []  # [fault, remaining or None]
        for fault in faults:
            self.add(fault)

    @classmethod
    def parse(cls, *specs: str) -> FaultPlan:
        """``FaultPlan.parse("503;times=2")``; several specs make several faults."""
        return cls(Fault.parse(spec) for spec in specs)

    def add(self, fault: Fault | str) -> None:
        parsed = fault if isinstance(fault, Fault) else Fault.parse(fault)
        with self._lock:
            self._entries.append([parsed, parsed.times])

    def set(self, spec: Fault | str | Iterable[Fault | str] | None) -> None:
        """Replace every fault with ``spec`` (one spec, several, or None for none)."""
        if spec is None:
            faults: list[Fault] = []
        elif isinstance(spec, Fault | str):
            faults = [spec if isinstance(spec, Fault) else Fault.parse(spec)]
        else:
            faults = [f if isinstance(f, Fault) else Fault.parse(f) for f in spec]
        with self._lock:
            self._entries = [[f, f.times] for f in faults]

    def clear(self) -> None:
        self.set(None)

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults still active (those with ``times`` left or no ``times``)."""
        with self._lock:
            return tuple(f for f, left in self._entries if left is None or left > 0)

    def take(self, method: str, path: str) -> tuple[float, Fault | None]:
        """The faults for one request: (total delay, the deciding fault or None).

        Uses up one of ``times`` for each fault applied.
        """
        delay, decisive = 0.0, None
        with self._lock:
            for entry in self._entries:
                fault, left = entry
                if (left is not None and left <= 0) or not fault.matches(method, path):
                    continue
                if fault.is_delay:
                    delay += fault.seconds
                elif decisive is None:
                    decisive = fault
                else:
                    continue
                if left is not None:
                    entry[1] = left - 1
        return delay, decisive

    def __repr__(self) -> str:
        return f"FaultPlan({[str(f) for f in self.faults]!r})"


def _number(value: str, spec: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _invalid(spec, f"{what} needs a number, not {value.strip()!r}") from None
    if number < 0 or number != number or number == float("inf"):
        raise _invalid(spec, f"{what} must be a finite number of at least 0")
    return number


def _invalid(spec: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"X-Sandbox-Fault {str(spec)[:100]!r} is not a fault spec: {why}.", param="X-Sandbox-Fault"
    )
