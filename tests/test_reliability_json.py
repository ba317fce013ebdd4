"""Attributes that are not JSON, or JSON Python chokes on, never take a page down.

Refused where they are typed (every form that takes attributes uses the same rule), refused
by the sandbox as TaskRouter refuses invalid Attributes (400), and a task that already
holds them (a real TaskRouter once stored them) still renders everywhere, shown as sent.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import requests
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tasks_app import presentation
from tasks_app.sandbox import DEVELOPMENT_CREDENTIALS
from tasks_app.taskrouter import expressions, rules
from tasks_app.taskrouter import service as taskrouter
from tasks_app.taskrouter.resources import Task

pytestmark = pytest.mark.django_db

DEEP = '{"a":' * 1000 + "1" + "}" * 1000  # 1,000 levels in 6,001 characters
DEEP_ARRAY = "[" * 960 + "]" * 960  # within 4,096 characters
NOT_JSON = {
    "NaN": '{"a": NaN}',
    "Infinity": '{"a": Infinity}',
    "-Infinity": '{"a": -Infinity}',
    "1e400": '{"a": 1e400}',
    "-1e400": '{"a": {"b": [-1e400]}}',
}
ODD = {
    **NOT_JSON,
    "deep object": DEEP,
    "deep array inside an object": '{"a": ' + DEEP_ARRAY + "}",
    "lone surrogate": '{"a": "\\ud800"}',
    "lone surrogate key": '{"\\udfff": 1}',
}


# --- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_the_attributes_rule_refuses_non_json_numbers_deep_nesting_and_lone_surrogates(text):
    with pytest.raises(rules.InvalidParameter) as caught:
        rules.load_attributes(text)
    assert caught.value.param == "Attributes"
    assert caught.value.user_message.startswith("Attributes ")


def test_the_attributes_rule_still_takes_ordinary_json_with_brackets_inside_strings():
    text = '{"note": "[[[{{{", "n": 1.5e3, "big": 123456789012345678901234567890, "x": [[1]]}'
    assert rules.load_attributes(text)["note"] == "[[[{{{"


_JSON_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # including integers far beyond 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | _JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_JSON_TEXT, _JSON_VALUES, max_size=5))
def test_attributes_read_exactly_as_the_standard_library_reads_them(value):
    # Whichever parser reads them: an integer stays an integer of every digit, a float
    # the same double (dumps tells 1 from 1.0).
    text = json.dumps(value, ensure_ascii=False)
    assume(rules.json_depth(text) <= rules.ATTRIBUTES_MAX_DEPTH)
    assert json.dumps(rules.load_attributes(text)) == json.dumps(json.loads(text))


def test_nesting_up_to_the_limit_is_accepted_and_one_more_level_is_refused():
    depth = rules.ATTRIBUTES_MAX_DEPTH
    assert rules.load_attributes('{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}")
    with pytest.raises(rules.InvalidParameter, match="levels deep"):
        rules.load_attributes('{"a":' + "[" * depth + "]" * depth + "}")


def test_a_dict_holding_nan_is_never_sent_as_the_word_nan():
    with pytest.raises(rules.InvalidParameter):
        rules.validate_attributes({"a": float("nan")})
    with pytest.raises(rules.InvalidParameter):
        taskrouter.create_task(
            actor="a@example.com",
            workspace_sid="WS" + "0" * 32,
            attributes={"a": float("inf")},
        )


# --- the sandbox answers 400, as TaskRouter would -------------------------------------------


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_the_sandbox_refuses_odd_attributes_with_taskrouters_400(loopback_sandbox, sandbox, text):
    ws = sandbox.workspace_sid()
    sid = sandbox.task_sid("pending")
    auth = (DEVELOPMENT_CREDENTIALS.account_sid, DEVELOPMENT_CREDENTIALS.auth_token)
    for path in (f"/v1/Workspaces/{ws}/Tasks", f"/v1/Workspaces/{ws}/Tasks/{sid}"):
        response = requests.post(
            loopback_sandbox.url + path, data={"Attributes": text}, auth=auth, timeout=10
        )
        assert response.status_code == 400
        body = response.json()
        assert body["status"] == 400 and isinstance(body["code"], int)
        assert body["message"].startswith("Attributes ")


# --- forms: a message at the field, nothing sent ----------------------------------------------


def _editor_token(html: str, name: str) -> str:
    section = re.search(rf'<section class="task-actions edit-{name}".*?</section>', html, re.S)
    return re.search(rf'name="editor-{name}" value="([^"]+)"', section.group(0)).group(1)


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_the_attributes_editor_refuses_odd_json_at_the_field(client, sandbox, writes, text):
    sid = sandbox.task_sid("pending")
    html = client.get(f"/w/Support/tasks/{sid}/").content.decode()
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/attributes/",
        {"editor-attributes": _editor_token(html, "attributes"), "attributes-attributes": text},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="edit-attributes",
    )
    assert response.status_code == 422
    assert "Attributes " in response.content.decode()
    assert writes == []


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_the_status_form_refuses_odd_json_in_its_attributes_at_the_field(
    client, sandbox, writes, text
):
    sid = sandbox.task_sid("pending")
    html = client.get(f"/w/Support/tasks/{sid}/").content.decode()
    response = client.post(
        f"/w/Support/tasks/{sid}/edit/status/",
        {
            "editor-status": _editor_token(html, "status"),
            "status-assignment_status": "canceled",
            "status-reason": "duplicate",
            "status-attributes": text,
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="edit-status",
    )
    assert response.status_code == 422
    assert "Attributes " in response.content.decode()
    assert writes == []


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_the_create_form_refuses_odd_json_at_the_field(client, writes, text):
    response = client.post(
        "/w/Support/tasks/new/", {"attributes": text, "priority": "1", "timeout": "60"}
    )
    assert response.status_code == 422
    assert "Attributes " in response.content.decode()
    assert writes == []


# --- a task already holding them renders everywhere -------------------------------------------

STORED = {
    "NaN": '{"language": "es", "a": NaN}',
    "1e400": '{"a": 1e400}',
    "deep": DEEP,
    "lone surrogate": '{"a": "\\ud800"}',
    "not JSON at all": "{<script>alert(1)</script>",
    "huge": json.dumps({"notes": "x" * 200_000}),
}


def poison(sandbox, text: str) -> str:
    """A task holding ``text`` as attributes, stored behind TaskRouter's back."""
    sid = sandbox.task_sid("pending")
    with sandbox.store.write() as conn:
        conn.execute("UPDATE tasks SET attributes = ? WHERE sid = ?", (text, sid))
    return sid


@pytest.mark.parametrize("text", STORED.values(), ids=STORED.keys())
def test_a_task_with_odd_stored_attributes_renders_its_page_with_them_shown_raw(
    client, sandbox, text
):
    sid = poison(sandbox, text)
    response = client.get(f"/w/Support/tasks/{sid}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert sid in body
    assert "<script>alert(1)</script>" not in body
    if text is not STORED["huge"]:
        assert "Taskdeck cannot read these attributes" in body


@pytest.mark.parametrize("text", STORED.values(), ids=STORED.keys())
def test_a_task_with_odd_stored_attributes_renders_in_the_table_with_attribute_columns(
    client, sandbox, text
):
    sid = poison(sandbox, text)
    response = client.get("/w/Support/tasks/?status=pending&size=1000&cols=a,language")
    body = response.content.decode()
    assert response.status_code == 200
    assert sid in body
    assert "<script>alert(1)</script>" not in body
    if text is not STORED["huge"]:
        assert presentation.UNREADABLE_ATTRIBUTES in body


@pytest.mark.parametrize("text", STORED.values(), ids=STORED.keys())
def test_a_csv_with_attribute_columns_lists_a_poisoned_task_and_ends_complete(
    client, sandbox, text
):
    sid = poison(sandbox, text)
    response = client.get("/w/Support/tasks/?status=pending&cols=a,language&format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows if sid in r)
    if text is not STORED["huge"]:
        assert presentation.UNREADABLE_ATTRIBUTES in row
    assert not any(r and r[0].startswith("# Export incomplete") for r in rows)


def test_a_csv_whose_row_fails_to_render_still_ends_with_its_status_line(
    client, sandbox, monkeypatch
):
    def broken(task):
        raise RuntimeError("a cell that cannot be written")

    monkeypatch.setattr(presentation, "attribute_text", broken)
    response = client.get("/w/Support/tasks/?status=pending&cols=language&format=csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[-1][0].startswith("# Export incomplete after 0 tasks")


@pytest.mark.parametrize("text", STORED.values(), ids=STORED.keys())
def test_task_building_and_display_helpers_never_raise_on_odd_attributes(text):
    task = Task.from_api(
        {"sid": "WT" + "1" * 32, "assignment_status": "pending", "attributes": text}
    )
    assert isinstance(task.attributes, dict)
    assert isinstance(presentation.attributes_block(task), str)
    reference = expressions.parse_reference("a.b[0]")
    assert expressions.resolve(reference, task.attributes) is None
    presentation.attributes_block(task).encode("utf-8")


def test_display_helpers_survive_values_json_cannot_write():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    for value in (float("nan"), "\ud800", {"k": "\udfff"}, deep):
        presentation.pretty_json(value).encode("utf-8")
        presentation.attribute_text(value).encode("utf-8")
    assert expressions.resolve(expressions.parse_reference("a"), "not a mapping") is None


@pytest.mark.parametrize("text", STORED.values(), ids=STORED.keys())
def test_a_task_with_odd_stored_attributes_renders_its_row_its_row_editor_and_live_refresh(
    client, sandbox, text
):
    sid = poison(sandbox, text)
    hx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": f"row-{sid}"}
    row = client.get(f"/w/Support/tasks/{sid}/row/?cols=a,language", **hx)
    editor = client.get(f"/w/Support/tasks/{sid}/row/edit/?cols=a", **hx)
    refresh = client.get(
        "/w/Support/tasks/?status=pending&size=1000&cols=a",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="task-rows",
    )
    for response in (row, editor, refresh):
        assert response.status_code == 200
        body = response.content.decode()
        assert sid in body
        assert "<script>alert(1)</script>" not in body
    if text is not STORED["huge"]:
        assert presentation.UNREADABLE_ATTRIBUTES in row.content.decode()
