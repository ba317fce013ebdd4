"""Bring Taskdeck's index up to date inside a test, as the worker's follower would.

In production the follower runs in the workers (a fleet duty); tests that need the index
call `follow_now()` after changing TaskRouter, instead of waiting for a worker.

A test's first round on an empty index is the follower's first round over the whole seed
(600 tasks, their events and workers: some 5 to 10 s of bulk updates on two busy cores),
the same work for every test that copies the same seeded file. So it is done once per
seeded file, on an untouched copy of that file, into the index of the first test that
needs it, and kept (`_FirstRounds`): a later test's first `follow_now()` loads the index
that round left. Either way a real round follows, which applies everything the test
changed since its copy was made from the cursor on, as a worker's follower does after its
own first round. Tests of the first round itself (tests/test_index.py) call the follower
directly and never get a kept index.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tasks_app.fleet.leases import Held
from tasks_app.index import follower
from tasks_app.index.models import (
    FollowCursor,
    IndexedActivity,
    IndexedTask,
    IndexedWorker,
    TaskEvent,
)
from tasks_app.taskrouter import client
from tests.shared_connection import LOCK

INDEX_MODELS = (FollowCursor, TaskEvent, IndexedTask, IndexedActivity, IndexedWorker)


class _FirstRounds:
    """The index a first round leaves over one seeded file, kept for the tests copying it.

    ``seed`` is the seeded file the running test's sandbox was copied from (the ``sandbox``
    fixture in tests/conftest.py sets it, and clears it after the test), ``copied_ms`` when
    the test's copy was made (before anything the test does)."""

    def __init__(self) -> None:
        self.seed: Path | None = None
        self.copied_ms = 0
        self._kept: tuple[Path, list[tuple[type, list[dict]]]] | None = None

    def applies(self) -> bool:
        """Only for a test on its own in-process sandbox, whose index is still empty."""
        return (
            self.seed is not None
            and settings.TASKROUTER_BASE_URL == settings.EMBEDDED_SANDBOX_URL
            and not FollowCursor.objects.exists()
        )

    def prepare(self) -> None:
        """Bring a still empty index to where a first round over the untouched seed leaves
        it: from the kept rows, or (none kept for this seed yet) by that first round, in
        place, kept for the next tests. An index holding rows of the test's own writes (a
        save records the events it caused) and none kept: the test's own first round."""
        if not self.applies():
            return
        assert self.seed is not None
        if self._kept is not None and self._kept[0] == self.seed:
            for model, rows in self._kept[1]:
                # The test's own rows keep their place, as they would beside a first round.
                model.objects.bulk_create([model(**row) for row in rows], ignore_conflicts=True)
        elif not any(model.objects.exists() for model in INDEX_MODELS):
            self._first_round_over(self.seed)
            self._kept = (
                self.seed,
                [(model, list(model.objects.values(*_columns(model)))) for model in INDEX_MODELS],
            )

    def _first_round_over(self, seed: Path) -> None:
        """A real first round over an untouched copy of ``seed``, into the test's index.

        It runs when the test first asks (after the test's own changes to its copy), but
        it reads what the copy held when it was made: its list read is dated then, and
        its cursor goes no further. Dated when it ran, the read was newer than the
        test's own changes, and the round after it, reading them from the test's copy,
        took them for old news (``as_of_ms``): a task the test canceled and TaskRouter
        then purged stayed pending in the index, only its deletion applied."""
        untouched = seed.with_name(f"{seed.stem}-first-round.sqlite3")
        shutil.copyfile(seed, untouched)
        own = settings.SANDBOX_DB_PATH
        settings.SANDBOX_DB_PATH = untouched
        client.reset_sessions()
        copied_ms = self.copied_ms
        read_at = follower._now_ms
        follower._now_ms = lambda: copied_ms
        try:
            _round(full_read=False)
        finally:
            follower._now_ms = read_at
            settings.SANDBOX_DB_PATH = own
            client.reset_sessions()
        FollowCursor.objects.filter(start_ms__gt=copied_ms).update(start_ms=copied_ms)


def _columns(model: type) -> list[str]:
    """Every column but a generated id (the test's database numbers its own rows)."""
    pk = model._meta.pk
    return [
        f.attname
        for f in model._meta.concrete_fields
        if not (f is pk and f.get_internal_type() in ("AutoField", "BigAutoField"))
    ]


FIRST_ROUNDS = _FirstRounds()


def _round(*, full_read: bool) -> None:
    held = Held(name="follow", holder="tests", token=0, expires=timezone.now() + timedelta(hours=1))
    for workspace_sid in follower.workspace_keys():
        if full_read:
            FollowCursor.objects.filter(pk=workspace_sid).update(reconciled_at=None)
        follower.follow_round(workspace_sid, held)


def follow_now(*, full_read: bool = False) -> None:
    """One follow round of every workspace (``full_read``: with a full task-list read)."""
    with LOCK:  # a page the browser has open may be asking at the same time
        FIRST_ROUNDS.prepare()
        _round(full_read=full_read)
