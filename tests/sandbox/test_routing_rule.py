"""TaskRouter's routing rule (taskrouter/routing.py), pure: where a task stands in its
workflow as it ages, which workers a target accepts, and in which order."""

from __future__ import annotations

import json

import pytest

from tasks_app.taskrouter import routing
from tasks_app.taskrouter.errors import InvalidParameter

Q1, Q2, Q3, DEFAULT = ("WQ" + c * 32 for c in "1234")


def configuration(*filters: dict, default: str | None = DEFAULT) -> routing.WorkflowConfiguration:
    document: dict = {"task_routing": {"filters": list(filters)}}
    if default:
        document["task_routing"]["default_filter"] = {"queue": default}
    return routing.parse_configuration(json.dumps(document))


ESCALATION = configuration(
    {
        "filter_friendly_name": "Escalating",
        "expression": "1 == 1",
        "targets": [
            {"queue": Q1, "timeout": 10},
            {"queue": Q2, "timeout": 10, "priority": 5},
            {"timeout": 10},  # inherits Q2
        ],
    },
    {"filter_friendly_name": "Later", "expression": "late == true", "targets": [{"queue": Q3}]},
)


def worker(sid="WK" + "a" * 32, **attributes):
    return routing.worker_view(
        attributes, sid=sid, friendly_name=sid[-4:], activity_sid=None, activity_name="Available"
    )


def test_targets_time_out_by_the_tasks_age_not_by_target():
    # Targets of 10 s each end at ages 10, 20 and 30 [TOEval].
    def where(age, **attributes):
        position, _ = routing.position_at_age(ESCALATION, attributes, age)
        return position

    assert where(0) == routing.Position(0, 0)
    assert where(9.9) == routing.Position(0, 0)
    assert where(10) == routing.Position(0, 1)
    assert where(19) == routing.Position(0, 1)
    assert where(25) == routing.Position(0, 2)
    assert routing.target_at(ESCALATION, where(25)).queue == Q2  # inherited
    # The last target times out: the first later filter that matches, else out.
    assert where(30, late=True) == routing.Position(1, 0)
    assert where(30) is None
    assert routing.target_deadline(ESCALATION, routing.Position(0, 1)) == 20


def test_the_default_filter_follows_a_skip_of_the_last_target_but_never_a_timeout():
    last = routing.Position(0, 2)
    assert routing.next_step(ESCALATION, {}, last, skipped=False) == routing.Step(None, "timeout")
    assert routing.next_step(ESCALATION, {}, last, skipped=True) == routing.Step(
        routing.Position(routing.DEFAULT_FILTER), "default"
    )
    assert routing.next_step(ESCALATION, {"late": True}, last, skipped=True).position == (
        routing.Position(1, 0)
    )
    plain = configuration({"expression": "1 == 1", "targets": [{"queue": Q1}]}, default=None)
    assert routing.next_step(plain, {}, routing.Position(0), skipped=True) == routing.Step(
        None, "skipped"
    )


def test_route_gives_the_first_target_and_its_priority():
    text = json.dumps(
        {
            "task_routing": {
                "filters": [
                    {
                        "filter_friendly_name": "VIP",
                        "expression": "vip == true",
                        "targets": [{"queue": Q1, "priority": 100, "timeout": 30}, {"queue": Q2}],
                    }
                ],
                "default_filter": {"queue": DEFAULT},
            }
        }
    )
    assert routing.route(text, {"vip": True}) == routing.Route(Q1, 100, "VIP")
    assert routing.route(text, {}) == routing.Route(DEFAULT, None, None)


def test_a_target_expression_compares_worker_fields_with_task_attributes():
    target = (
        configuration(
            {
                "expression": "1 == 1",
                "targets": [{"queue": Q1, "expression": "task.language IN worker.languages"}],
            }
        )
        .filters[0]
        .targets[0]
    )
    spanish = worker(languages=["en", "es"])
    assert routing.target_accepts(target, {"language": "es"}, spanish)
    assert not routing.target_accepts(target, {"language": "fr"}, spanish)
    # Without a prefix, a reference names the worker, as in target_workers.
    bare = (
        configuration(
            {"expression": "1 == 1", "targets": [{"queue": Q1, "expression": "level >= 3"}]}
        )
        .filters[0]
        .targets[0]
    )
    assert routing.target_accepts(bare, {}, worker(level=4))
    assert not routing.target_accepts(bare, {}, worker(level=2))


def test_queue_membership_reads_attributes_and_built_in_fields():
    view = worker(skills=["billing"])
    assert routing.queue_accepts('skills HAS "billing"', view)
    assert routing.queue_accepts('activity_name == "Available"', view)
    assert routing.queue_accepts("worker.skills HAS 'billing'", view)
    assert not routing.queue_accepts('skills HAS "technical"', view)
    assert not routing.queue_accepts("", view)  # an empty target_workers has nobody
    assert not routing.queue_accepts("skills HAS", view)  # nor a broken one


def test_order_by_ranks_integer_attributes_then_longest_idle():
    target = (
        configuration(
            {
                "expression": "1 == 1",
                "targets": [{"queue": Q1, "order_by": "worker.level DESC, worker.years ASC"}],
            }
        )
        .filters[0]
        .targets[0]
    )
    people = [
        ("low", worker(level=1, years=9), 10),
        ("high-new", worker(level=5, years=1), 30),
        ("high-old", worker(level=5, years=8), 20),
        ("unrated", worker(years=1), 1),
        ("high-new-idle", worker(level=5, years=1), 5),
    ]
    ordered = routing.order_workers(target, people, view=lambda p: p[1], idle_since=lambda p: p[2])
    assert [p[0] for p in ordered] == ["high-new-idle", "high-new", "high-old", "low", "unrated"]
    # A value that is not an integer makes the whole order_by ignored: longest idle first.
    people.append(("text", worker(level="senior", years=1), 2))
    ordered = routing.order_workers(target, people, view=lambda p: p[1], idle_since=lambda p: p[2])
    assert [p[0] for p in ordered][:3] == ["unrated", "text", "high-new-idle"]


def test_a_known_worker_comes_from_a_task_attribute():
    target = (
        configuration(
            {"expression": "1 == 1", "targets": [{"queue": Q1, "known_worker_sid": "task.agent"}]}
        )
        .filters[0]
        .targets[0]
    )
    assert routing.known_worker(target, {"agent": "WK" + "b" * 32}) == ("sid", "WK" + "b" * 32)
    assert routing.known_worker(target, {}) == ("none", "")
    named = (
        configuration(
            {
                "expression": "1 == 1",
                "targets": [{"queue": Q1, "known_worker_friendly_name": "task.owner.name"}],
            }
        )
        .filters[0]
        .targets[0]
    )
    assert routing.known_worker(named, {"owner": {"name": "Alice"}}) == ("friendly_name", "Alice")
    plain = configuration({"expression": "1 == 1", "targets": [{"queue": Q1}]})
    assert routing.known_worker(plain.filters[0].targets[0], {"agent": "x"}) is None


def test_skip_if_reads_the_workers_the_target_would_consider():
    target = (
        configuration(
            {
                "expression": "1 == 1",
                "targets": [{"queue": Q1, "skip_if": "workers.available == 0"}],
            }
        )
        .filters[0]
        .targets[0]
    )
    assert routing.should_skip(target, {"available": 0, "unavailable": 3})
    assert not routing.should_skip(target, {"available": 1, "unavailable": 3})


@pytest.mark.parametrize(
    "target",
    [
        {"timeout": 10},  # a first target needs a queue
        {"queue": Q1, "timeout": 0},
        {"queue": Q1, "timeout": "soon"},
        {"queue": Q1, "expression": "level >="},
        {"queue": Q1, "skip_if": "workers.available =="},
        {"queue": Q1, "order_by": "worker.level SIDEWAYS"},
        {"queue": Q1, "known_worker_sid": "task.a", "known_worker_friendly_name": "task.b"},
    ],
)
def test_a_target_taskrouter_would_refuse_makes_the_configuration_invalid(target):
    text = json.dumps({"task_routing": {"filters": [{"expression": "1==1", "targets": [target]}]}})
    with pytest.raises(InvalidParameter) as raised:
        routing.parse_configuration(text)
    assert raised.value.param == "Configuration"
    assert routing.route(text, {}) == routing.NO_ROUTE
