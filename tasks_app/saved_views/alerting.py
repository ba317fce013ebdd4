"""Alerts: the fleet duty ``alerts`` evaluates every view's alert and sends what changed.

Exactly one worker of the fleet holds the duty's lease (tasks_app.fleet) and, every
``TASKDECK_ALERT_SECONDS``, does one round:

1. **Evaluate.** Each view with an alert is counted from the index (`counting.count`). Its
   condition holds when the count is above N and/or the oldest wait above T seconds.
2. **Record a transition, fenced.** When the condition starts (or stops) holding, one
   transaction (a) checks that the lease is still this round's, by its fencing token, with
   a write to the lease's row (a successor's takeover writes that row too, so the two are
   serialised and the older holder's check fails once the successor has the lease),
   (b) moves the alert's state from what the round read to the new one (a compare-and-set:
   two evaluators cannot both make the same move), and (c) adds the message to the outbox
   (`AlertDelivery`). So a state change and its message are recorded together or not at
   all: an evaluator killed before the commit leaves the state as it was, and its successor
   finds the condition starting and records it; killed after, the successor finds the new
   state (nothing to repeat) and the message waiting in the outbox.
3. **Deliver from the outbox.** Each due message is POSTed (JSON, HMAC-signed), every
   attempt logged (`DeliveryAttempt`); a failure is retried with exponential backoff up to
   ``TASKDECK_ALERT_MAX_ATTEMPTS``. Messages of one view go in order. A message whose POST
   left but whose outcome was never recorded (the evaluator died in between) is sent again
   by the successor with the same ``Taskdeck-Delivery`` id, for the receiver to drop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from tasks_app.fleet.leases import Held
from tasks_app.fleet.models import Lease

from . import counting
from .forms import webhook_refusal
from .models import AlertDelivery, AlertState, DeliveryAttempt, SavedView

log = logging.getLogger("tasks_app.saved_views")

DUTY = "alerts"
SIGNATURE_HEADER = "Taskdeck-Signature"
TIMESTAMP_HEADER = "Taskdeck-Timestamp"
DELIVERY_HEADER = "Taskdeck-Delivery"
TIMEOUT_SECONDS = 5.0
LONGEST_BACKOFF_SECONDS = 3600.0
# How long the delivery log keeps a finished message and its attempts.
KEEP_DELIVERIES = timedelta(days=30)


def every() -> float:
    return float(settings.TASKDECK_ALERT_SECONDS)


def condition_holds(view: SavedView, figures: counting.Figures) -> bool:
    by_count = view.alert_count_above is not None and figures.count > view.alert_count_above
    wait = figures.oldest_wait_seconds
    by_wait = (
        view.alert_wait_above_seconds is not None
        and wait is not None
        and wait > view.alert_wait_above_seconds
    )
    return by_count or by_wait


def evaluate_round(key: str | None, held: Held) -> None:
    """One round of the duty (see the module's docstring)."""
    views = SavedView.objects.filter(
        Q(alert_count_above__isnull=False) | Q(alert_wait_above_seconds__isnull=False)
    )
    figures: dict[tuple[str, str], counting.Figures] = {}  # views with one query count once
    for view in views:
        if not held.still_held():
            return
        evaluate(view, held, counted=figures)
    deliver_due(held)
    forget_old_deliveries()


def evaluate(
    view: SavedView,
    held: Held,
    *,
    counted: dict[tuple[str, str], counting.Figures] | None = None,
) -> str | None:
    """Count ``view`` and record a transition when there is one: returns "firing" or
    "resolved" then, None otherwise."""
    now = timezone.now()
    key = (view.workspace_sid, view.query)
    figures = (counted or {}).get(key) or counting.count(view.workspace_sid, view.query, now=now)
    if counted is not None:
        counted[key] = figures
    state, _ = AlertState.objects.get_or_create(view=view)
    wanted = AlertState.State.FIRING if condition_holds(view, figures) else AlertState.State.OK
    seen = {"count": figures.count, "oldest_wait_seconds": figures.oldest_wait_seconds}
    if wanted == state.state:
        AlertState.objects.filter(pk=view.pk, state=state.state).update(evaluated=now, **seen)
        return None
    with transaction.atomic():
        if not _still_ours(held):
            log.warning("alerts: the lease moved on; %s left to the new evaluator", view.name)
            return None
        moved = AlertState.objects.filter(pk=view.pk, state=state.state).update(
            state=wanted, since=now, evaluated=now, token=held.token, **seen
        )
        if not moved:
            return None  # someone else moved it meanwhile
        message = "firing" if wanted == AlertState.State.FIRING else "resolved"
        if view.alert_webhook:
            AlertDelivery.objects.create(
                view=view,
                view_name=view.name,
                workspace_sid=view.workspace_sid,
                state=message,
                webhook=view.alert_webhook,
                payload=payload(view, message, figures),
                token=held.token,
                next_attempt=now,
                created=now,
            )
    log.info("alerts: %s is %s (%d tasks)", view.name, message, figures.count)
    return message


def _still_ours(held: Held) -> bool:
    """Inside the transaction: the lease is this holder's, with this token, and has not
    lapsed. A write, so a successor taking the lease over waits for this transaction (and
    this one, once the successor has it, finds a newer token)."""
    return bool(
        Lease.objects.filter(
            name=held.name, holder=held.holder, token=held.token, expires__gt=timezone.now()
        ).update(token=F("token"))
    )


def view_url(view: SavedView) -> str:
    """The deep link to the view: the table with its query (absolute with
    TASKDECK_PUBLIC_URL)."""
    try:
        path = reverse("task_list", kwargs={"workspace": view.workspace_name or view.workspace_sid})
    except NoReverseMatch:
        path = reverse("task_list", kwargs={"workspace": view.workspace_sid})
    query = view.query or ""
    separator = "&" if query else ""
    return f"{settings.TASKDECK_PUBLIC_URL}{path}?{query}{separator}view={view.pk}"


def payload(view: SavedView, state: str, figures: counting.Figures) -> dict:
    url = view_url(view)
    workspace = view.workspace_name or view.workspace_sid
    wait = figures.oldest_wait_text
    if state == "firing":
        limits = []
        if view.alert_count_above is not None:
            limits.append(f"more than {view.alert_count_above} tasks")
        if view.alert_wait_above_seconds is not None:
            limits.append(f"a wait over {counting.wait_text(view.alert_wait_above_seconds)}")
        text = (
            f":rotating_light: {view.name} ({workspace}) is firing: {figures.count} tasks, "
            f"oldest waiting {wait} (alert on {' or '.join(limits)}). <{url}|Open the view>"
        )
    else:
        text = (
            f":white_check_mark: {view.name} ({workspace}) is resolved: {figures.count} "
            f"tasks, oldest waiting {wait}. <{url}|Open the view>"
        )
    return {
        "view": view.name,
        "workspace": workspace,
        "state": state,
        "count": figures.count,
        "oldest_wait_seconds": figures.oldest_wait_seconds,
        "url": url,
        "text": text,
    }


# --- Delivery ------------------------------------------------------------------------------


def signature(body: bytes, timestamp: str, secret: str) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` with the secret."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: the base, doubling each time, capped."""
    base = float(settings.TASKDECK_ALERT_RETRY_SECONDS)
    return min(base * 2 ** max(0, attempts - 1), LONGEST_BACKOFF_SECONDS)


def deliver_due(held: Held) -> int:
    """Send every due message of the outbox, oldest first, one view's in order."""
    sent = 0
    blocked: set[int | None] = set()  # views with an earlier message still waiting
    pending = AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING).order_by("pk")
    now = timezone.now()
    for delivery in pending:
        key = delivery.view_id if delivery.view_id is not None else -delivery.pk
        if key in blocked:
            continue
        if delivery.next_attempt > now:
            blocked.add(key)
            continue
        if not held.still_held():
            break
        if not deliver(delivery, held):
            blocked.add(key)
        else:
            sent += 1
    return sent


def deliver(delivery: AlertDelivery, held: Held) -> bool:
    """One attempt at ``delivery``; True once it is delivered (or has given up)."""
    number = delivery.attempts + 1
    # Claim the attempt: only the holder whose token is current moves the count on.
    claimed = AlertDelivery.objects.filter(
        pk=delivery.pk, status=AlertDelivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=number)
    if not claimed or not held.still_held():
        return False
    started = time.monotonic()
    status, error = None, ""
    refusal = webhook_refusal(delivery.webhook)
    if refusal:
        error = refusal
    else:
        body = json.dumps(delivery.payload, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Taskdeck-Alerts",
            DELIVERY_HEADER: str(delivery.pk),
            TIMESTAMP_HEADER: timestamp,
        }
        secret = settings.TASKDECK_ALERT_SIGNING_SECRET
        if secret:
            headers[SIGNATURE_HEADER] = signature(body, timestamp, secret)
        try:
            response = requests.post(
                delivery.webhook,
                data=body,
                headers=headers,
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,  # a redirect could lead to a host not allowed
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:200]}"
        except requests.RequestException as problem:
            error = f"{type(problem).__name__}: {problem}"[:500]
    ok = not error
    now = timezone.now()
    DeliveryAttempt.objects.create(
        delivery=delivery,
        at=now,
        number=number,
        http_status=status,
        ok=ok,
        error=error,
        milliseconds=int((time.monotonic() - started) * 1000),
        holder=held.holder,
    )
    if ok:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.DELIVERED, finished=now
        )
        return True
    if refusal or number >= settings.TASKDECK_ALERT_MAX_ATTEMPTS:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED, finished=now
        )
        log.warning("alerts: gave up sending %s of %s: %s", delivery.state, delivery.view_name,
                    error)  # fmt: skip
        return True
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt=now + timedelta(seconds=backoff(number))
    )
    return False


def forget_old_deliveries() -> int:
    """Messages finished more than KEEP_DELIVERIES ago leave the log (with their attempts)."""
    old = timezone.now() - KEEP_DELIVERIES
    deleted, _ = AlertDelivery.objects.filter(finished__lt=old).delete()
    return deleted


def firing_views(view_ids: list[int]) -> dict[int, AlertState]:
    """The alert states of these views that fire now (for the pages)."""
    if not view_ids:  # most people have no view here: no query to build at all
        return {}
    return {
        state.view_id: state
        for state in AlertState.objects.filter(view_id__in=view_ids, state=AlertState.State.FIRING)
    }
