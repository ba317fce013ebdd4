"""Fixtures for the sandbox's own tests: each test gets its own SQLite file and its own port.

The sandbox is exercised the way clients use it: over a real loopback socket with requests
(``api``), or in-process through the transport adapter (``inproc``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    FaultPlan,
    SandboxApp,
    SandboxServer,
    SandboxStore,
    in_process_adapter,
)
from tests.sandbox.helpers import (
    AUTH,
    IN_PROCESS_URL,
    Api,
    Clock,
    SeededTemplate,
    clocked,
    run_folder,
    seeded_at,
)


@pytest.fixture(scope="session")
def seeded_templates(tmp_path_factory: pytest.TempPathFactory) -> SeededTemplate:
    return SeededTemplate(
        tmp_path_factory.mktemp("sandbox-seeded"),
        shared=run_folder(tmp_path_factory, "seeded-sandboxes"),
    )


@pytest.fixture
def seeded_template(seeded_templates: SeededTemplate) -> Path:
    """A seeded file, seeded at most a minute ago; every test works on its own copy."""
    return seeded_templates.path()


@pytest.fixture
def store(tmp_path: Path, seeded_template: Path) -> Iterator[SandboxStore]:
    path = tmp_path / "own-sandbox.sqlite3"
    shutil.copyfile(seeded_template, path)
    own = SandboxStore(path)
    yield own
    own.close()


@pytest.fixture
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def app(store: SandboxStore, faults: FaultPlan) -> SandboxApp:
    return SandboxApp(store, credentials=DEVELOPMENT_CREDENTIALS, faults=faults)


@pytest.fixture
def server(app: SandboxApp) -> Iterator[SandboxServer]:
    with SandboxServer(app) as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Iterator[Api]:
    client = Api(server.url)
    client.session.auth = AUTH
    yield client
    client.session.close()


@pytest.fixture
def inproc(app: SandboxApp) -> Iterator[Api]:
    client = Api(IN_PROCESS_URL)
    client.session.auth = AUTH
    client.session.mount(IN_PROCESS_URL, in_process_adapter(app))
    yield client
    client.session.close()


@pytest.fixture
def clock(store: SandboxStore) -> Clock:
    """An injected clock, half a minute after seeding (after all of the seed's history, and
    minutes before housekeeping has anything to do), on a whole second."""
    return Clock(seeded_at(store).replace(microsecond=0) + timedelta(seconds=30))


@pytest.fixture
def tr(store: SandboxStore, clock: Clock) -> Api:
    """TaskRouter on ``clock``: an in-process client of an app with that clock."""
    return clocked(store, clock)
