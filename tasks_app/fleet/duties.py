"""Duties and the runner that holds their leases (see tasks_app.fleet).

A capability registers its duty once, from its AppConfig.ready()::

    fleet.duties.register(Duty(
        name="events", run="tasks_app.index.follower.follow_round",
        every=lambda: settings.TASKDECK_FOLLOW_SECONDS,
        keys="tasks_app.index.follower.workspace_keys",
    ))

``run(key, held)`` does one round of the duty for one key (None for a duty without keys)
and returns; the runner calls it again ``every()`` seconds while this process holds the
lease ``"<name>:<key>"``. A long round (catching up after an outage) checks
``held.still_held()`` as it goes and stops when it is False. ``keys()`` names the keys that
want a holder (one lease each, so several workers can share the keys of one duty).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils.module_loading import import_string

from . import leases

log = logging.getLogger("tasks_app.fleet")

RunRound = Callable[[str | None, leases.Held], None]


@dataclass(frozen=True)
class Duty:
    name: str
    run: str | RunRound
    every: Callable[[], float]
    keys: str | Callable[[], Iterable[str]] | None = None

    def round(self, key: str | None, held: leases.Held) -> None:
        run = import_string(self.run) if isinstance(self.run, str) else self.run
        run(key, held)

    def wanted_keys(self) -> list[str | None]:
        if self.keys is None:
            return [None]
        keys = import_string(self.keys) if isinstance(self.keys, str) else self.keys
        return list(keys())

    def lease_name(self, key: str | None) -> str:
        return self.name if key is None else f"{self.name}:{key}"


_registry: dict[str, Duty] = {}


def register(duty: Duty) -> None:
    """Add (or replace, by name) a duty every worker's runner will hold in turn."""
    _registry[duty.name] = duty


def registered() -> list[Duty]:
    return list(_registry.values())


def lease_seconds() -> float:
    return float(getattr(settings, "TASKDECK_LEASE_SECONDS", 6.0))


@dataclass
class _Holding:
    """One duty key this process holds, and the thread doing its rounds."""

    duty: Duty
    key: str | None
    held: leases.Held
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    renewed_at: float = field(default_factory=time.monotonic)


class DutyRunner:
    """Holds as many duty leases as it can get and does their rounds, until stopped.

    One manager loop (``run``) acquires and renews leases every ``tick`` seconds; each held
    duty key has a thread of its own doing rounds, so a long catch-up never delays a
    renewal. A database outage stops nothing for good: renewals fail, the leases lapse
    (the rounds stop by themselves), and the loop takes them again once the database is back.
    """

    def __init__(
        self,
        duties: Iterable[Duty] | None = None,
        *,
        holder: str | None = None,
        seconds: float | None = None,
        tick: float = 1.0,
        keys_every: float = 30.0,
    ) -> None:
        self.duties = list(duties) if duties is not None else registered()
        self.holder = holder or leases.new_holder_name()
        self.seconds = seconds if seconds is not None else lease_seconds()
        self.tick = tick
        self.keys_every = keys_every
        self._holdings: dict[str, _Holding] = {}
        self._keys: dict[str, list[str | None]] = {}
        self._keys_read_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_problem = ""
        self.steps = 0  # passes of the manager loop, for whoever watches it

    # Running -------------------------------------------------------------------------------

    def start(self) -> threading.Thread:
        """Run in a daemon thread (a worker's main thread runs the bulk queue)."""
        self._thread = threading.Thread(target=self.run, name="fleet-duties", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or self._stop
        log.info("fleet duties: %s runs as %s", ", ".join(d.name for d in self.duties) or "none",
                 self.holder)  # fmt: skip
        try:
            while not stop.is_set() and not self._stop.is_set():
                try:
                    self.step()
                except DatabaseError as error:
                    self._problem(f"database unavailable ({type(error).__name__}); retrying")
                    close_old_connections()
                except Exception:
                    log.exception("fleet duties: unexpected failure; retrying")
                stop.wait(self.tick)
        finally:
            self._let_go()
            connection.close()

    def holding(self) -> list[str]:
        """The lease names this runner holds now."""
        return [name for name, h in self._holdings.items() if h.held.still_held()]

    # One pass of the manager loop ---------------------------------------------------------

    def step(self) -> None:
        close_old_connections()
        self._read_keys()
        wanted = {
            duty.lease_name(key): (duty, key)
            for duty in self.duties
            for key in self._keys.get(duty.name, [])
        }
        for name in list(self._holdings):
            if name not in wanted:
                self._drop(name)
        for name, (duty, key) in wanted.items():
            holding = self._holdings.get(name)
            if holding is not None and self._keep(holding):
                continue
            if holding is not None:
                self._drop(name)
            held = leases.acquire(name, holder=self.holder, seconds=self.seconds)
            if held is not None:
                log.info("fleet duties: %s now holds %s (token %s)", self.holder, name, held.token)
                self._begin(_Holding(duty=duty, key=key, held=held))
        self._last_problem = ""
        self.steps += 1

    def _read_keys(self) -> None:
        if time.monotonic() - self._keys_read_at < self.keys_every:
            return
        for duty in self.duties:
            try:
                self._keys[duty.name] = duty.wanted_keys()
            except Exception as error:  # keep the last known keys; say why once
                self._problem(f"cannot list the keys of {duty.name}: {error}")
        self._keys_read_at = time.monotonic()

    def _keep(self, holding: _Holding) -> bool:
        """Renew a held lease when a third of it has passed; False once it is lost."""
        if holding.held.lost or (holding.thread is not None and not holding.thread.is_alive()):
            return False
        if time.monotonic() - holding.renewed_at >= self.seconds / 3:
            try:
                if not leases.renew(holding.held, seconds=self.seconds):
                    log.warning("fleet duties: %s lost %s", self.holder, holding.held.name)
                    return False
            except DatabaseError:
                # Cannot renew now: the lease lapses by itself, and its rounds stop with it.
                close_old_connections()
                return holding.held.still_held()
            holding.renewed_at = time.monotonic()
        return holding.held.still_held()

    def _begin(self, holding: _Holding) -> None:
        holding.thread = threading.Thread(
            target=self._rounds, args=(holding,), name=f"duty-{holding.held.name}", daemon=True
        )
        self._holdings[holding.held.name] = holding
        holding.thread.start()

    def _rounds(self, holding: _Holding) -> None:
        duty = holding.duty
        try:
            while not holding.stop.is_set() and holding.held.still_held():
                started = time.monotonic()
                try:
                    close_old_connections()
                    duty.round(holding.key, holding.held)
                except DatabaseError as error:
                    self._problem(f"{holding.held.name}: database unavailable ({error})")
                except Exception:
                    log.exception("fleet duties: a round of %s failed", holding.held.name)
                wait = max(0.0, float(duty.every()) - (time.monotonic() - started))
                holding.stop.wait(wait)
        finally:
            connection.close()

    def _drop(self, name: str) -> None:
        holding = self._holdings.pop(name)
        holding.stop.set()
        if holding.held.still_held():
            with contextlib.suppress(DatabaseError):  # else it lapses by itself
                leases.release(holding.held)

    def _let_go(self) -> None:
        holdings = list(self._holdings.values())
        for name in list(self._holdings):
            self._drop(name)
        for holding in holdings:
            if holding.thread is not None:
                holding.thread.join(2)

    def _problem(self, text: str) -> None:
        if text != self._last_problem:  # once per kind of trouble, not every second
            log.warning("fleet duties: %s", text)
            self._last_problem = text
