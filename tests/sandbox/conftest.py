"""Fixtures for the sandbox's own tests: each test gets its own SQLite file and its own port.

The sandbox is exercised the way clients use it: over a real loopback socket with requests
(``api``), or in-process through the transport adapter (``inproc``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks_app.sandbox import (
    DEVELOPMENT_CREDENTIALS,
    FaultPlan,
    SandboxApp,
    SandboxServer,
    SandboxStore,
    ensure_seeded,
    in_process_adapter,
)
from tests.sandbox.helpers import AUTH, IN_PROCESS_URL, SEED, SEED_TASKS, Api, Clock


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded file per test process; every test works on its own copy."""
    path = tmp_path_factory.mktemp("sandbox-seeded") / "sandbox.sqlite3"
    template = SandboxStore(path)
    ensure_seeded(template, tasks=SEED_TASKS, seed=SEED)
    template.close()
    return path


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
def clock() -> Clock:
    """The sandbox's clock, moved by the test (``clocked`` runs on it)."""
    return Clock()


@pytest.fixture
def clocked(store: SandboxStore, clock: Clock) -> Iterator[Api]:
    """The test's sandbox in-process, on the test's ``clock``."""
    app = SandboxApp(store, credentials=DEVELOPMENT_CREDENTIALS, clock=clock)
    client = Api(IN_PROCESS_URL)
    client.session.auth = AUTH
    client.session.mount(IN_PROCESS_URL, in_process_adapter(app))
    yield client
    client.session.close()
