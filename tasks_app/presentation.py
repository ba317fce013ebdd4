"""How task values read on a page and in an export. Plain functions: the table renders
thousands of cells with them, so no template is involved per value."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone

STATUS_LABELS = {
    "pending": "Pending",
    "reserved": "Reserved",
    "assigned": "Assigned",
    "wrapping": "Wrapping",
    "completed": "Completed",
    "canceled": "Canceled",
}


def human_duration(seconds: int | float | None) -> str:
    """``725`` -> ``12 min``; coarse on purpose, the exact value goes in a tooltip."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def local_moment(value: datetime | None, zone: tzinfo | None = None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(zone or timezone.get_current_timezone())


def short_moment(value: datetime | None, zone: tzinfo | None = None) -> str:
    moment = local_moment(value, zone)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def full_moment(value: datetime | None, zone: tzinfo | None = None) -> str:
    moment = local_moment(value, zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else ""


def attribute_text(value: Any) -> str:
    """An attribute value in a cell: strings as they are, everything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
