"""Where a change of attributes sends a task, and which change sends it to a queue
(taskrouter/routing.py): the rule Taskdeck's previews use and the sandbox routes by."""

from __future__ import annotations

import json

from tasks_app.taskrouter import routing
from tasks_app.taskrouter.expressions import parse_expression

GENERAL, VIP, SPANISH, MESSAGING, BILLING, LATER = ("WQ" + c * 32 for c in "123456")

SUPPORT = json.dumps(
    {
        "task_routing": {
            "filters": [
                {
                    "filter_friendly_name": "Preferred agent",
                    "expression": 'preferred_agent != ""',
                    "targets": [{"queue": GENERAL, "timeout": 60}, {"queue": LATER}],
                },
                {
                    "filter_friendly_name": "VIP customers",
                    "expression": "vip == true",
                    "targets": [{"queue": VIP, "priority": 100}],
                },
                {
                    "filter_friendly_name": "Spanish speakers",
                    "expression": 'language == "es"',
                    "targets": [{"queue": SPANISH}],
                },
                {
                    "filter_friendly_name": "Chat and SMS",
                    "expression": 'channel IN ["chat", "sms"]',
                    "targets": [{"queue": MESSAGING}],
                },
                {
                    "filter_friendly_name": "Gold billing",
                    "expression": '"billing" == type AND customer.tier == "gold"',
                    "targets": [{"queue": BILLING, "priority": 10}],
                },
            ],
            "default_filter": {"queue": GENERAL},
        }
    }
)


def ways(attributes: dict) -> dict[str, routing.QueueWay]:
    return {way.task_queue_sid: way for way in routing.ways_to_queues(SUPPORT, attributes)}


# --- Where a task goes ---------------------------------------------------------------------


def test_a_route_names_the_matching_filter_and_its_expression_as_written():
    found = routing.route(SUPPORT, {"language": "es"})
    assert found == routing.Route(SPANISH, None, "Spanish speakers")
    assert found.filter_expression == 'language == "es"'
    default = routing.route(SUPPORT, {"language": "en"})
    assert (default.task_queue_sid, default.filter_friendly_name) == (GENERAL, None)
    assert default.filter_expression is None  # no filter matched: default_filter


def test_a_pending_task_is_routed_again_and_takes_its_new_targets_priority():
    after = routing.reroute(
        SUPPORT, {"vip": True}, status="pending", task_queue_sid=GENERAL, priority=3
    )
    assert after.rerouted
    assert (after.task_queue_sid, after.priority) == (VIP, 100)
    assert after.moves(GENERAL)


def test_a_target_without_priority_leaves_the_tasks_own():
    after = routing.reroute(
        SUPPORT, {"language": "es"}, status="pending", task_queue_sid=GENERAL, priority=3
    )
    assert (after.task_queue_sid, after.priority) == (SPANISH, 3)


def test_a_task_that_is_not_pending_stays_where_it_is_whatever_its_attributes_say():
    for status in ("reserved", "assigned", "wrapping"):
        after = routing.reroute(
            SUPPORT, {"vip": True}, status=status, task_queue_sid=GENERAL, priority=3
        )
        assert not after.rerouted
        assert (after.task_queue_sid, after.priority) == (GENERAL, 3)
        assert after.route.task_queue_sid == VIP  # where a new task would go
        assert not after.moves(GENERAL)


def test_attributes_routed_to_the_queue_the_task_is_in_stay():
    after = routing.reroute(
        SUPPORT, {"language": "es", "n": 2}, status="pending", task_queue_sid=SPANISH, priority=1
    )
    assert after.rerouted and not after.moves(SPANISH)


def test_a_broken_workflow_routes_nothing_and_the_task_stays():
    after = routing.reroute(
        "{not json", {"vip": True}, status="pending", task_queue_sid=GENERAL, priority=1
    )
    assert not after.rerouted
    assert after.task_queue_sid == GENERAL
    assert after.route == routing.NO_ROUTE


def test_the_priority_a_target_sets_wins_over_the_one_asked_for():
    assert routing.priority_after(100, 5) == 100
    assert routing.priority_after(None, 5) == 5
    assert routing.priority_after(None, None) is None


# --- Which change reaches a queue ---------------------------------------------------------


def test_plain_conjunctions_of_equalities_give_the_values_they_ask_for():
    assert routing.simple_equalities(parse_expression('language == "es"')) == (
        (("language",), "es"),
    )
    both = parse_expression('"billing" == type AND customer.tier == "gold" AND 1 == 1')
    assert routing.simple_equalities(both) == (
        (("type",), "billing"),
        (("customer", "tier"), "gold"),
    )


def test_anything_but_a_plain_conjunction_of_equalities_has_no_simple_change():
    for text in (
        'language == "es" OR language == "fr"',
        'channel IN ["chat", "sms"]',
        'language != "en"',
        "skills[0] == 1",
        "a == b",
        'a == "x" AND a == "y"',
        'a == "x" AND a.b == "y"',
        "1 == 2",
        'tags == ["a"]',
    ):
        assert routing.simple_equalities(parse_expression(text)) is None, text


def test_setting_attributes_makes_nested_objects_and_leaves_the_original_alone():
    original = {"customer": {"name": "Ana"}, "vip": False}
    changed = routing.set_attributes(original, [(("customer", "tier"), "gold"), (("vip",), True)])
    assert changed == {"customer": {"name": "Ana", "tier": "gold"}, "vip": True}
    assert original == {"customer": {"name": "Ana"}, "vip": False}
    assert routing.set_attributes({"customer": "Ana"}, [(("customer", "tier"), "gold")]) is None


def test_the_change_that_sends_a_task_to_a_queue_is_the_filters_equalities():
    found = ways({"language": "en", "customer": {"name": "Ana"}})
    spanish = found[SPANISH]
    assert spanish.changes == ((("language",), "es"),)
    assert spanish.filter_friendly_name == "Spanish speakers"
    assert spanish.filter_expression == 'language == "es"'
    assert found[VIP].changes == ((("vip",), True),) and found[VIP].priority == 100
    billing = found[BILLING]
    assert billing.changes == ((("type",), "billing"), (("customer", "tier"), "gold"))
    routed = routing.set_attributes({"language": "en"}, billing.changes)
    assert routing.route(SUPPORT, routed).task_queue_sid == BILLING


def test_the_queue_a_task_is_routed_to_needs_no_change():
    general = ways({"language": "en"})[GENERAL]
    assert general.already and general.changes == ()


def test_a_queue_behind_an_earlier_matching_filter_has_no_simple_change_and_says_why():
    spanish = ways({"vip": True})[SPANISH]
    assert spanish.changes is None
    assert spanish.reason == (
        'Setting language = "es" for “Spanish speakers” is not enough: “VIP customers” '
        "(vip == true) comes first and still matches."
    )


def test_a_filter_that_is_not_a_conjunction_of_equalities_is_named_with_its_text():
    messaging = ways({})[MESSAGING]
    assert messaging.changes is None
    assert messaging.reason.startswith('“Chat and SMS” (channel IN ["chat", "sms"]) is not a plain')


def test_queues_reached_only_by_default_or_after_a_timeout_say_so():
    found = ways({"vip": True})
    assert found[GENERAL].changes is None
    assert "default sends a task there only when no filter matches" in found[GENERAL].reason
    assert found[LATER].changes is None
    assert found[LATER].reason == "A task reaches it only when an earlier target times out."


def test_every_queue_the_workflow_reaches_is_offered_once_in_its_order():
    assert [w.task_queue_sid for w in routing.ways_to_queues(SUPPORT, {})] == [
        GENERAL,
        LATER,
        VIP,
        SPANISH,
        MESSAGING,
        BILLING,
    ]
    assert routing.ways_to_queues("{}", {}) == []
