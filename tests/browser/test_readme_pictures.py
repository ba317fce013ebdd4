"""The README's pictures stay honest: the views ``make screenshots`` takes are set up and
checked the same way here, in every ``make test``, so a control the pictures and the
README show cannot disappear from the first screen unnoticed; and the pictures on disk
are the size they are taken at."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.browser import screenshots

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", ["table.png", "conflict.png"])
def test_the_readme_shows_each_picture_at_the_size_it_is_taken(name: str):
    assert f"(docs/screenshots/{name})" in README.read_text()
    header = (screenshots.SCREENSHOTS / name).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (screenshots.VIEWPORT["width"], screenshots.VIEWPORT["height"])


def test_the_controls_the_table_picture_shows_are_on_its_first_screen(
    new_context: Callable[..., BrowserContext], browser_problems
):
    screenshots.table_view(screenshots.guarded(new_context, browser_problems))
    alt = re.search(r"!\[([^\]]*)\]\(docs/screenshots/table\.png\)", README.read_text()).group(1)
    for named in ("search box", "Columns", "waiting", "live updates"):
        assert named in alt, f"the README's description of the picture should name {named}"


def test_the_conflict_picture_shows_what_a_conflict_offers(
    new_context: Callable[..., BrowserContext], browser_problems
):
    browser_problems.expect_console_error(r"status of 409 \(")
    screenshots.conflict_view(screenshots.guarded(new_context, browser_problems))
