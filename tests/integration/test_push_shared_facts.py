"""Web Push's facts in a real Redis, as two connector processes see them (two stores on one
redis-server, in this process): the subscriptions and their per-agent limit are shared,
the app's visibility said to one is seen by the other, and a process's WebSocket counts
stop counting once it is gone (closed at once; killed when its key expires)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from connector.push import Subscription
from connector.service.ports import StoredSession
from connector.session.agent_session import AgentSession
from connector.store.redis_push import RedisAttention, RedisSubscriptions
from connector.store.redis_state import RedisState
from connector.store.sealing import Sealer, generate_key
from scenarios.stack.redis_lab import RedisServer

pytestmark = pytest.mark.integration
LEASE = 1.0  # s: a killed process's counts expire this long after its last renewal


@pytest.fixture
async def stores(redis_lab: RedisServer) -> AsyncIterator[tuple[RedisState, RedisState]]:
    """Two processes' state stores, agent 1001 signed in through the first."""
    sealer = Sealer(generate_key())
    pair = tuple(
        RedisState(redis_lab.url, sealer, token_ttl=3600, depth=10, lease_ttl=LEASE)
        for _ in range(2)
    )
    for state in pair:
        await state.start()
    session = StoredSession("1001", "secret", "1001", "CALL_BY_CALL", "+15551230001")
    await pair[0].claim("1001")
    await pair[0].save_session(session, AgentSession("1001", "1001", call_control=True))
    try:
        yield pair
    finally:
        for state in pair:
            await state.close()


def sub(id_: str, endpoint: str = "", agent: str = "1001") -> Subscription:
    key = b"\x04" + bytes(range(64))
    return Subscription(id_, agent, endpoint or f"https://p/{id_}", "https://p", key, b"a" * 16)


async def test_subscriptions_are_shared_capped_oldest_first_and_dropped_with_the_session(stores):
    one, two = RedisSubscriptions(stores[0]), RedisSubscriptions(stores[1])
    await one.add(sub("s0"), limit=2)
    await two.add(sub("s1"), limit=2)
    await one.add(sub("s2"), limit=2)  # past the limit, whichever process took the others
    assert [s.id for s in await two.for_agent("1001")] == ["s1", "s2"]
    again = await two.add(sub("new", endpoint="https://p/s1"), limit=2)
    assert again.id == "s1"
    assert [s.id for s in await one.for_agent("1001")] == ["s2", "s1"]  # renewed: newest
    kept = (await one.for_agent("1001"))[1]
    assert kept == sub("s1")  # endpoint, origin and the browser's keys as they came
    assert not await one.remove("1002", "s2")  # another agent's
    assert await two.remove("1001", "s2")
    assert [s.id for s in await one.for_agent("1001")] == ["s1"]
    assert await one.count() == 1
    assert await two.drop_agent("1001") == 1
    assert await one.for_agent("1001") == [] and await two.count() == 0


async def test_visibility_said_to_one_process_is_seen_by_the_other(stores):
    here, there = RedisAttention(stores[0]), RedisAttention(stores[1])
    for attention in (here, there):
        await attention.start()
    try:
        assert not await here.attended("1001")  # no WebSocket anywhere
        there.readers_changed("1001", +1)
        await wait_for(lambda: here.attended("1001"), True)
        await there.set_visible("1001", False)  # the app says so through the other one
        assert not await here.attended("1001")
        await here.set_visible("1001", True)
        assert await there.attended("1001")
        there.readers_changed("1001", -1)
        await wait_for(lambda: here.attended("1001"), False)
        await here.set_visible("1002", False)  # not signed in: no record made for it
        assert not await stores[0].redis.exists("mobagent:session:1002")
    finally:
        for attention in (here, there):
            await attention.close()


async def test_a_gone_process_websockets_stop_counting(stores):
    holder, closed, killed = (RedisAttention(stores[i % 2]) for i in range(3))
    for attention in (holder, closed, killed):
        await attention.start()
    try:
        closed.readers_changed("1001", +1)
        await wait_for(lambda: holder.attended("1001"), True)
        await closed.close()  # an orderly stop: at once
        assert not await holder.attended("1001")

        killed.readers_changed("1001", +1)
        await wait_for(lambda: holder.attended("1001"), True)
        await killed.stop()  # kill -9: nothing more renewed, nothing deleted
        assert await holder.attended("1001")  # its key lives until it expires
        await wait_for(lambda: holder.attended("1001"), False, timeout=LEASE * 3)
        counts = await stores[0].redis.hgetall("mobagent:watching:1001")
        assert killed.process not in counts  # and its count is cleared
    finally:
        for attention in (holder, closed):
            await attention.close()


async def wait_for(check, expected: bool, timeout: float = 5.0) -> None:
    """Poll Redis (written by another task's pipeline) until `check()` gives `expected`."""
    async with asyncio.timeout(timeout):
        while await check() != expected:  # noqa: ASYNC110 (a store's view: no event)
            await asyncio.sleep(0.02)
