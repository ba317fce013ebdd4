"""Twilio's own Python SDK reads the sandbox's Events with every filter, across pages, and
every answer it gets validates against Twilio's OpenAPI spec."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tests.conftest import wait_until
from tests.sandbox.helpers import SALES, record_reservation
from tests.sandbox.test_schema import check_item, check_list

LIST_PATH = "/v1/Workspaces/{WorkspaceSid}/Events"


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, keeping every answer for the schema check."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[tuple[str, int, str]] = []

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        self.answers.append((url, response.status_code, response.text))
        return response


@pytest.fixture
def http() -> RecordingHttpClient:
    return RecordingHttpClient()


@pytest.fixture
def sales(server, http):
    client = Client(
        DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token, http_client=http
    )
    client.taskrouter.base_url = server.url  # the SDK's TaskRouter domain, on loopback
    return client.taskrouter.v1.workspaces(SALES)


def _next_second() -> datetime:
    """Wait for the wall clock's next whole second (the SDK sends dates in whole seconds)."""
    second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) >= second, timeout=5, interval=0.01)
    return second


@pytest.fixture
def activity(api, store):
    """A few tasks of our own over two seconds, one canceled, and a reservation's event (the
    mechanism the sandbox's workforce will use): every filter has something to find. All of
    it happens after ``since``, and the seed's own history before it."""
    since = _next_second()
    created = []
    for attributes, channel in (
        ({"customer": {"tier": "enterprise"}}, "chat"),
        ({"language": "de"}, "voice"),
        ({"type": "renewal"}, "sms"),
    ):
        if len(created) == 2:
            second = _next_second()
        task = api.post(
            f"/Workspaces/{SALES}/Tasks",
            {"Attributes": json.dumps(attributes), "TaskChannel": channel},
        ).json()
        created.append(task)
    api.post(created[1]["url"], {"AssignmentStatus": "canceled", "Reason": "duplicate"})
    reservation, worker = "WR" + "3" * 32, "WK" + "4" * 32
    now = int(datetime.now(UTC).timestamp() * 1_000_000)
    record_reservation(store, created[0], reservation=reservation, worker=worker, now=now)
    return {
        "tasks": created,
        "reservation": reservation,
        "worker": worker,
        "since": since,
        "second": second,
    }


def _sids(found) -> list[str]:
    return [event.sid for event in found]


def _check_answers(http: RecordingHttpClient) -> None:
    assert http.answers
    for url, status, text in http.answers:
        assert status == 200, text
        body = json.loads(text)
        if urlsplit(url).path.rstrip("/").endswith("/Events"):
            check_list(body, LIST_PATH)
        else:
            check_item(body, "taskrouter.v1.workspace.event")


def test_the_sdk_lists_with_every_filter_across_pages(sales, activity, http):
    since = activity["since"]
    every = sales.events.list(start_date=since, page_size=1000)
    assert len(every) == 4 * 3 + 1 + 1  # created, canceled, reserved
    vip, german, renewal = activity["tasks"]

    def expected(belongs) -> list[str]:
        return [e.sid for e in every if belongs(e)]

    cases = {
        "event_type": ("task-queue.entered", lambda e: e.event_type == "task-queue.entered"),
        "task_sid": (vip["sid"], lambda e: e.event_data["task_sid"] == vip["sid"]),
        "task_queue_sid": (
            german["task_queue_sid"],
            lambda e: e.event_data.get("task_queue_sid") == german["task_queue_sid"],
        ),
        "workflow_sid": (vip["workflow_sid"], lambda e: "workflow_sid" in e.event_data),
        "task_channel": (
            "chat",
            lambda e: e.event_data.get("task_channel_sid") == vip["task_channel_sid"],
        ),
        "worker_sid": (
            activity["worker"],
            lambda e: e.event_data.get("worker_sid") == activity["worker"],
        ),
        "reservation_sid": (
            activity["reservation"],
            lambda e: e.resource_sid == activity["reservation"],
        ),
        "sid": (every[-3].sid, lambda e: e.sid == every[-3].sid),
    }
    for name, (value, belongs) in cases.items():
        found = sales.events.list(start_date=since, page_size=2, **{name: value})
        assert found, name
        assert _sids(found) == expected(belongs), name
    by_channel_sid = sales.events.list(start_date=since, task_channel=vip["task_channel_sid"])
    assert _sids(by_channel_sid) == _sids(sales.events.list(start_date=since, task_channel="chat"))
    # Minutes counts back from now; without any date, the last 15 minutes.
    mine = _sids(sales.events.list(start_date=since, task_sid=renewal["sid"]))
    assert _sids(sales.events.list(minutes=5, task_sid=renewal["sid"], page_size=1)) == mine
    assert _sids(sales.events.list(task_sid=renewal["sid"], page_size=1)) == mine
    # Both ends are included: the third task came at the second given, the rest before it.
    second = activity["second"]
    before = sales.events.list(start_date=since, end_date=second, page_size=3)
    assert _sids(before) == [e.sid for e in every if e.event_date < second]
    assert renewal["sid"] not in {e.event_data["task_sid"] for e in before}
    after = sales.events.list(start_date=second, page_size=3)
    assert _sids(after) == [e.sid for e in every if e.event_date >= second]
    assert renewal["sid"] in {e.event_data["task_sid"] for e in after}
    _check_answers(http)


def test_the_sdk_streams_page_by_page_and_fetches_one_event(sales, activity, http):
    since = activity["since"]
    listed = sales.events.list(start_date=since, page_size=1000)
    streamed = list(sales.events.stream(start_date=since, page_size=1))
    assert _sids(streamed) == _sids(listed)
    assert len({e.sid for e in streamed}) == len(streamed)
    limited = list(sales.events.stream(start_date=since, page_size=5, limit=7))
    assert _sids(limited) == _sids(listed)[:7]
    page = sales.events.page(start_date=since, page_size=4)
    following = page.next_page()
    assert _sids(following) == _sids(listed)[4:8]
    event = listed[-1]
    fetched = sales.events(event.sid).fetch()
    assert (fetched.sid, fetched.event_type, fetched.event_date_ms) == (
        event.sid,
        event.event_type,
        event.event_date_ms,
    )
    assert fetched.event_data == event.event_data
    assert fetched.actor_type in ("account", "workspace")
    assert fetched.resource_url.startswith("http://127.0.0.1:")
    _check_answers(http)


def test_the_sdk_gets_twilios_400_for_a_window_beyond_30_days(sales, http):
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        sales.events.list(start_date=datetime.now(UTC) - timedelta(days=31))
    ((_, status, text),) = http.answers
    assert status == 400
    assert json.loads(text)["code"] == 20001
    assert "30 days" in json.loads(text)["message"]
