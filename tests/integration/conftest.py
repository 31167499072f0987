"""The connector's integration suite runs twice: with its state in memory (the default) and
in a real Redis (`--state redis://...`), so the shared-state path is tested as much as the
embedded one. Its XMPP client, flows, push, WebSocket frames and exhaustion tests (a
stalled peer reset, no garbage cycles left by WebSocket churn) also run on uvloop, the event
loop `mobagent connector` runs on by default, as well as on asyncio's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping

import pytest
import uvloop

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

# The modules whose every test runs on both event loops.
BOTH_LOOPS = {
    "test_connector_xmpp",
    "test_connector_flows",
    "test_connector_push",
    "test_websocket_frames",
    "test_connector_exhaustion",
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.module is None or item.module.__name__.rsplit(".", 1)[-1] not in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop}  # one factory: the test ids stay as they are
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


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
