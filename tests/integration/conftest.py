"""The connector's integration suite runs twice: with its state in memory (the default) and
in a real Redis (`--state redis://...`), so the shared-state path is tested as much as the
embedded one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.store.sealing import generate_key
from scenarios.stack.connector_lab import ConnectorLab
from scenarios.stack.redis_lab import redis_server

# The modules whose every test runs on both kinds of state.
BOTH_STATES = {
    "test_connector_flows",
    "test_connector_api_answers",
    "test_connector_api_edges",
    "test_connector_security",
    "test_connector_exhaustion",
    "test_mobile_sim_app",
    "test_connector_push",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_STATES:
        metafunc.parametrize("connector_state", ["memory", "redis"], indirect=True)


@pytest.fixture(autouse=True)  # autouse: set up before the test's labs are built
def connector_state(request: pytest.FixtureRequest) -> Iterator[str]:
    """The labs of this test keep their state in memory or in a redis-server of its own."""
    if getattr(request, "param", "memory") == "memory":
        yield "memory"
        return
    with redis_server() as server:
        ConnectorLab.defaults = {"state": server.url, "state_key": generate_key()}
        try:
            yield server.url
        finally:
            ConnectorLab.defaults = {}
