"""What search compares: text folded so that case, accents and a phone number's format do
not matter. One function folds the index's text and the text a person types, so both
sides always agree."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

_NOT_DIGITS = re.compile(r"\D+")
_SPACES = re.compile(r"\s+")
# A value with at least this many digits is also kept as its digits alone, so that
# "+1 (415) 555-0100", "415.555.0100" and "4155550100" all find one another.
MIN_DIGITS = 4


def fold(text: str) -> str:
    """Lower case (Unicode case folding), accents removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", bare.casefold()).strip()


def digits(text: str) -> str:
    return _NOT_DIGITS.sub("", text)


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)
    elif isinstance(value, bool) or value is None:
        return
    else:
        yield str(value)


def searchable_text(attributes: dict, *extra: str) -> str:
    """Every attribute value (nested ones too) folded, one per line, plus the digits of
    each that has enough of them; ``extra`` adds text such as the task's SID."""
    lines: list[str] = []
    for value in [*_values(attributes), *extra]:
        folded = fold(value)
        if folded:
            lines.append(folded)
        number = digits(value)
        if len(number) >= MIN_DIGITS and number != folded:
            lines.append(number)
    return "\n".join(dict.fromkeys(lines))


def parse_attributes(text: str | None) -> dict:
    """Event data carries attributes as JSON text; anything but an object becomes {}."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
