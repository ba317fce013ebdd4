"""Hostile input, generated: every form field and query parameter gets huge and random
strings, unicode with control characters and lone surrogates, markup and SQL, malformed
SIDs and page tokens, deep and huge JSON, NaN and out-of-range numbers, broken
expressions. Whatever comes in: no 500, nothing sent to TaskRouter when the input was
refused, and nothing rendered unescaped."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('taskdeck')</script>"
PAYLOADS = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1; DROP TABLE tasks_app_bulkjob; --",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1",
    "2147483648",
    "9" * 400,
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": 1e400}',
    '{"a": ' * 1200 + "1" + "}" * 1200,
    "[" * 3000 + "]" * 3000,
    '{"x": "' + "y" * 5000 + '"}',
    "\x00\x01\x02\x1b[31m",
    "\u202eevil\u202c",
    "WT" + "0" * 31,
    "WTzz" + "0" * 30,
    "PAWT" + "f" * 32,
    'language == "es" AND (',
    "vip ==",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z" * 20,
    "2999-01-01T00:00:00",
    "1800-01-01T00:00:00",
    "not-a-date",
    "",
    " ",
]
# A lone surrogate cannot be UTF-8; browsers send its CESU-8 bytes, percent-encoded.
LONE_SURROGATE = "%ED%A0%80"

hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=300),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=4000, max_size=6000),
)
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _encode(fields: dict[str, str]) -> str:
    """A form body as a browser sends it, a lone surrogate included where asked for."""
    return "&".join(
        f"{quote(k)}={LONE_SURROGATE if v == LONE_SURROGATE else quote(v, safe='')}"
        for k, v in fields.items()
    )


def _token(html: str, section: str) -> str:
    found = re.search(rf'name="editor-{section}" value="([^"]+)" id="editor-{section}"', html)
    return found.group(1) if found else ""


def _check(response, writes: list, before: int) -> None:
    body = response.content.decode(errors="replace")
    assert response.status_code != 500, body[:300]
    assert response.status_code < 500 or "TaskRouter" in body
    if response.status_code in (400, 422):
        assert len(writes) == before, "refused input still reached TaskRouter"
    assert SCRIPT not in body
    assert "onerror=alert(1)>" not in body


SECTION_FIELDS = {
    "priority": ["priority"],
    "status": ["assignment_status", "reason", "attributes"],
    "channel": ["task_channel"],
    "start": ["virtual_start_time"],
    "attributes": ["attributes"],
}


@pytest.mark.parametrize(
    ("section", "field"),
    [(section, field) for section, fields in SECTION_FIELDS.items() for field in fields],
)
def test_every_task_page_field_refuses_hostile_input_cleanly(
    client, sandbox, writes, section, field
):
    sid = sandbox.task_sid("assigned")
    url = f"/w/Support/tasks/{sid}/"

    @SETTINGS
    @given(value=st.one_of(hostile_text, st.just(LONE_SURROGATE)))
    def attempt(value: str) -> None:
        token = _token(client.get(url).content.decode(), section)
        before = len(writes)
        body = _encode(
            {f"editor-{section}": token, f"{section}-{field}": value, f"{section}-reason": "x"}
        )
        response = client.post(
            f"{url}edit/{section}/",
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET=f"edit-{section}",
        )
        _check(response, writes, before)

    attempt()


@pytest.mark.parametrize("field", ["priority", "assignment_status", "reason"])
def test_the_row_editor_refuses_hostile_input_cleanly(client, sandbox, writes, field):
    sid = sandbox.task_sid("assigned")
    url = f"/w/Support/tasks/{sid}/row/edit/"

    @SETTINGS
    @given(value=st.one_of(hostile_text, st.just(LONE_SURROGATE)))
    def attempt(value: str) -> None:
        html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        token = re.search(r'name="editor-row" value="([^"]+)"', html).group(1)
        before = len(writes)
        body = _encode({"editor-row": token, f"row-{field}": value})
        response = client.post(
            url, body, content_type="application/x-www-form-urlencoded", HTTP_HX_REQUEST="true"
        )
        _check(response, writes, before)

    attempt()


@pytest.mark.parametrize(
    "field", ["attributes", "priority", "timeout", "task_channel", "workflow", "virtual_start_time"]
)
def test_the_create_form_refuses_hostile_input_cleanly(client, sandbox, writes, field):
    @SETTINGS
    @given(value=st.one_of(hostile_text, st.just(LONE_SURROGATE)))
    def attempt(value: str) -> None:
        before = len(writes)
        response = client.post(
            "/w/Support/tasks/new/",
            _encode({field: value}),
            content_type="application/x-www-form-urlencoded",
        )
        _check(response, writes, before)

    attempt()


TABLE_PARAMETERS = ["status", "priority", "queue", "workflow", "where", "addons", "sort", "size"]
TABLE_PARAMETERS += ["page", "cols", "format"]


@pytest.mark.parametrize("parameter", TABLE_PARAMETERS)
def test_every_table_parameter_answers_hostile_input_without_a_500(client, parameter):
    @SETTINGS
    @given(value=st.one_of(hostile_text, st.just(LONE_SURROGATE)))
    def attempt(value: str) -> None:
        if parameter == "format" and value == "csv":
            return
        query = f"{parameter}={LONE_SURROGATE if value == LONE_SURROGATE else quote(value)}"
        response = client.get(f"/w/Support/tasks/?{query}")
        body = response.content.decode(errors="replace")
        assert response.status_code != 500, body[:300]
        assert SCRIPT not in body

    attempt()
