"""`mobagent.event_loop`: which loop a long-running process runs on, and a clear error for
a choice that cannot be had."""

from __future__ import annotations

import importlib.util

import pytest

from connector.config import ConfigError, ConnectorConfig
from mobagent import event_loop


async def which() -> str:
    return event_loop.running()


def test_auto_is_uvloop_where_installed_and_asyncio_stays_selectable():
    assert event_loop.resolve("auto") == "uvloop"
    assert event_loop.run(which()) == "uvloop"
    assert event_loop.run(which(), "uvloop") == "uvloop"
    assert event_loop.run(which(), "asyncio") == "asyncio"


def test_auto_falls_back_to_asyncio_where_uvloop_is_missing_but_asking_for_it_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert event_loop.resolve("auto") == "asyncio"
    with pytest.raises(event_loop.EventLoopError, match="uvloop is not installed"):
        event_loop.resolve("uvloop")


def test_an_unknown_loop_is_a_configuration_error():
    with pytest.raises(ConfigError, match="event_loop must be one of auto, uvloop, asyncio"):
        ConnectorConfig(event_loop="trio").validate()
    assert ConnectorConfig(event_loop="asyncio").validate().event_loop == "asyncio"
