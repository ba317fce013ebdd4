"""The fleet's duties: one holder at a time, taken over when the holder lapses or leaves."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks_app.fleet import leases
from tasks_app.fleet.duties import Duty, DutyRunner
from tasks_app.fleet.models import Lease
from tests.conftest import unless_locked, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class Rounds:
    """A duty that records which runner did each round, per key."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: list[tuple[str | None, str]] = []

    def __call__(self, key: str | None, held: leases.Held) -> None:
        with self.lock:
            self.done.append((key, held.holder))

    def holders(self, key: str | None = None) -> list[str]:
        with self.lock:
            return [holder for k, holder in self.done if k == key]


def runner(duty: Duty, name: str, *, seconds: float = 2.0) -> DutyRunner:
    return DutyRunner([duty], holder=name, seconds=seconds, tick=0.05)


@pytest.fixture
def running():
    started: list[DutyRunner] = []

    def start(*runners: DutyRunner) -> None:
        for each in runners:
            each.start()
            started.append(each)

    yield start
    for each in started:
        each.stop()


def test_two_workers_never_do_one_duty_at_the_same_time(running):
    rounds = Rounds()
    duty = Duty(name="tick", run=rounds, every=lambda: 0.02)
    running(runner(duty, "worker-a"), runner(duty, "worker-b"))

    wait_until(lambda: len(rounds.holders()) >= 20, timeout=30)

    assert len(set(rounds.holders())) == 1


def test_a_lease_whose_holder_stopped_renewing_is_taken_over(running):
    rounds = Rounds()
    duty = Duty(name="tick", run=rounds, every=lambda: 0.02)
    dead = leases.acquire("tick", holder="worker-killed", seconds=1.0)
    assert dead is not None

    running(runner(duty, "worker-b"))

    wait_until(lambda: rounds.holders(), timeout=30)
    lease = wait_until(unless_locked(lambda: Lease.objects.get(name="tick")), timeout=30)
    assert lease.holder == "worker-b"
    assert lease.token > dead.token  # the old holder's token no longer renews anything
    assert not leases.renew(dead, seconds=1.0)
    assert dead.lost


def test_a_worker_that_stops_hands_its_duties_over_at_once(running):
    rounds = Rounds()
    duty = Duty(name="tick", run=rounds, every=lambda: 0.02)
    first = runner(duty, "worker-a", seconds=600)  # a lapse would take ten minutes
    running(first)
    wait_until(lambda: rounds.holders(), timeout=30)
    first.stop()

    running(runner(duty, "worker-b", seconds=600))

    wait_until(lambda: "worker-b" in rounds.holders(), timeout=30)


def test_each_key_of_a_duty_has_exactly_one_holder(running):
    rounds = Rounds()
    keys = ["WSa", "WSb", "WSc", "WSd"]
    duty = Duty(name="follow", run=rounds, every=lambda: 0.02, keys=lambda: keys)
    running(runner(duty, "worker-a"), runner(duty, "worker-b"))

    wait_until(lambda: all(len(rounds.holders(key)) >= 5 for key in keys), timeout=30)

    for key in keys:
        assert len(set(rounds.holders(key))) == 1, key
    held = wait_until(
        unless_locked(
            lambda: dict(
                Lease.objects.filter(expires__gt=timezone.now()).values_list("name", "holder")
            )
        ),
        timeout=30,
    )
    assert set(held) == {f"follow:{key}" for key in keys}


def test_a_round_that_fails_is_tried_again_without_losing_the_lease(running):
    calls = Counter()

    def flaky(key, held):
        calls["rounds"] += 1
        if calls["rounds"] < 3:
            raise RuntimeError("TaskRouter said no")

    duty = Duty(name="flaky", run=flaky, every=lambda: 0.02)
    only = runner(duty, "worker-a")
    running(only)

    wait_until(lambda: calls["rounds"] >= 5, timeout=30)
    assert only.holding() == ["flaky"]


def test_only_one_of_two_racing_acquisitions_gets_a_lease():
    first = leases.acquire("race", holder="a", seconds=60)
    second = leases.acquire("race", holder="b", seconds=60)

    assert first is not None
    assert second is None
    assert leases.holder_of("race") == "a"


def test_a_lapsed_lease_goes_to_the_next_asker_with_a_new_token():
    old = leases.acquire("race", holder="a", seconds=60)
    Lease.objects.filter(name="race").update(expires=timezone.now() - timedelta(seconds=1))

    new = leases.acquire("race", holder="b", seconds=60)

    assert new is not None
    assert new.token == old.token + 1
    assert not leases.renew(old, seconds=60)


def test_a_held_lease_is_not_still_held_after_its_time(monkeypatch):
    held = leases.acquire("clock", holder="a", seconds=30)
    later = timezone.now() + timedelta(seconds=31)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert not held.still_held()


def test_rounds_stop_when_the_lease_is_taken_away(running):
    rounds = Rounds()
    duty = Duty(name="tick", run=rounds, every=lambda: 0.02)
    only = runner(duty, "worker-a", seconds=0.6)
    running(only)
    wait_until(lambda: rounds.holders(), timeout=30)

    # Another holder took the lease (the first was paused past its lease, say).
    Lease.objects.filter(name="tick").update(
        holder="worker-z", token=999, expires=timezone.now() + timedelta(seconds=600)
    )
    wait_until(lambda: not only.holding(), timeout=30)
    after_loss = len(rounds.holders())
    steps = only.steps
    wait_until(lambda: only.steps >= steps + 20, timeout=30)

    assert len(rounds.holders()) <= after_loss + 1  # at most the round in flight
    assert leases.holder_of("tick") == "worker-z"
