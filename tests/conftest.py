"""Fixtures every kind of test may use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scenarios.stack.redis_lab import RedisServer, redis_server


@pytest.fixture
def redis_lab() -> Iterator[RedisServer]:
    """A real redis-server of its own on a free loopback port, stopped after the test."""
    with redis_server() as server:
        yield server


@pytest.fixture
def persistent_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server that keeps its data over a restart (an append-only file in tmp_path,
    fsynced at every write), as a production Redis should (docs/deploy-cluster.md)."""
    with redis_server(data_dir=str(tmp_path)) as server:
        yield server
