"""Reading writes nothing: no GET of any address in the URL conf adds or changes a row of
any table (a viewer's curl in a loop must not grow the sessions table)."""

from __future__ import annotations

import itertools
import secrets

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLPattern

from tasks_app.urls import urlpatterns
from tests.identities import IDENTITIES

pytestmark = pytest.mark.django_db

SECTIONS = ("fields", "status", "attributes", "actions", "start", "delete")


def every_get_address(workspace: str, sid: str) -> list[str]:
    """One address per pattern of the URL conf (several for the task page's sections),
    with real values where the pattern takes one: a new pattern is covered by itself."""
    values = {
        "workspace": [workspace],
        "sid": [sid],
        "token": [secrets.token_urlsafe(16)],
        "section": list(SECTIONS),
        "pk": ["1"],  # a saved view's number
    }
    addresses = []
    for pattern in urlpatterns:
        assert isinstance(pattern, URLPattern)
        names = list(pattern.pattern.converters)
        for combination in itertools.product(*(values[name] for name in names)):
            route = str(pattern.pattern)
            for name, value in zip(names, combination, strict=True):
                route = route.replace(f"<str:{name}>", value).replace(f"<int:{name}>", value)
            addresses.append("/" + route)
    return addresses


def rows_in_every_table() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - names from the schema
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_fifty_gets_across_every_address_write_no_row_anywhere(sandbox, role):
    addresses = every_get_address("Support", sandbox.task_sid("pending"))
    assert any("/bulk/" in address for address in addresses)
    # The first request of a person creates their account (documented); after that,
    # reading must leave every table as it was.
    assert Client(headers=IDENTITIES[role]).get("/w/Support/tasks/").status_code == 200
    before = rows_in_every_table()
    statuses = set()
    for address in itertools.islice(itertools.cycle(addresses), 50):
        # A new browser each time, as curl in a loop is: no cookie to reuse.
        response = Client(headers=IDENTITIES[role]).get(address)
        statuses.add(response.status_code)
    assert 500 not in statuses
    assert rows_in_every_table() == before
