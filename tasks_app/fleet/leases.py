"""Database leases: one holder per name for the whole fleet, taken over when it lapses.

Acquiring, renewing and releasing are each one conditional UPDATE (or one INSERT for a
name never held), so two processes racing for a lease get it once between them on SQLite
and PostgreSQL alike. Times come from each process's clock: instances on several machines
need their clocks in step (NTP), as the rate budget already does.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Lease


def new_holder_name() -> str:
    """Names this process in the leases it holds (and in the logs): host, pid, and a random
    part so a restarted process with a recycled pid is a new holder."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class Held:
    """A lease this process holds, as of its last acquisition or renewal."""

    name: str
    holder: str
    token: int
    expires: datetime
    lost: bool = field(default=False)

    def still_held(self) -> bool:
        """True while the lease is ours by our own clock (no database call)."""
        return not self.lost and timezone.now() < self.expires


def acquire(name: str, *, holder: str, seconds: float) -> Held | None:
    """Take the lease ``name`` if nobody holds it (or its holder let it lapse), for
    ``seconds``; None when another holder has it."""
    now = timezone.now()
    expires = now + timedelta(seconds=seconds)
    with transaction.atomic():
        taken = (
            Lease.objects.filter(name=name)
            .filter(Q(expires__lte=now) | Q(holder=holder))
            .update(holder=holder, expires=expires, acquired=now, token=F("token") + 1)
        )
        if not taken:
            try:
                with transaction.atomic():
                    Lease.objects.create(
                        name=name, holder=holder, expires=expires, acquired=now, token=1
                    )
            except IntegrityError:
                return None  # held by someone else (or taken by them just now)
        token = Lease.objects.filter(name=name, holder=holder).values_list("token", flat=True)
        token_value = token.first()
    if token_value is None:
        return None
    return Held(name=name, holder=holder, token=token_value, expires=expires)


def renew(held: Held, *, seconds: float) -> bool:
    """Extend a lease we hold; False (and ``held.lost``) when it was taken over meanwhile."""
    expires = timezone.now() + timedelta(seconds=seconds)
    renewed = Lease.objects.filter(name=held.name, holder=held.holder, token=held.token).update(
        expires=expires
    )
    if renewed:
        held.expires = expires
    else:
        held.lost = True
    return bool(renewed)


def release(held: Held) -> None:
    """Give the lease up at once, so a successor need not wait for it to lapse."""
    held.lost = True
    Lease.objects.filter(name=held.name, holder=held.holder, token=held.token).update(
        expires=timezone.now()
    )


def holder_of(name: str) -> str | None:
    """Who holds ``name`` now (for pages and tests), None when nobody does."""
    lease = Lease.objects.filter(name=name, expires__gt=timezone.now()).first()
    return lease.holder if lease else None
