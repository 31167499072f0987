"""One client cannot exhaust the connector (docs/security.md): WebSockets per agent are
capped, a WebSocket that stops reading is reset, WebSocket churn leaves no garbage behind;
each attack reproduced against the real stack on loopback."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import sys

import pytest

from connector.session.events import MobileEvent
from mobile_sim.api import bearer
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration

PAD = "x" * 8192  # an event of 8 KiB: a few hundred fill any socket buffer


async def metric(lab: ConnectorLab, line: str) -> bool:
    return line in (await lab.api("GET", "/metrics")).body.splitlines()


async def test_websockets_per_agent_are_capped_and_the_oldest_is_replaced():
    async with ConnectorLab(max_websockets_per_agent=2) as lab:
        app, _ = await lab.sign_in("1001")  # the app listens: the agent's oldest WebSocket
        assert lab.http is not None
        url, headers = lab.url("/api/v1/events"), bearer(app.token)
        newest = []
        for _ in range(2):  # the same token on two more connections: a reconnecting phone
            ws = await lab.http.ws_connect(url, headers=headers)
            assert (await ws.receive_json(timeout=5))["type"] == "session.resync"
            newest.append(ws)
        # The app's WebSocket closed with 4002, and the app does not take its place back.
        assert await app.stream_ended() and app.close_code == 4002
        # Counted out before the close frame went: no need to wait.
        assert lab.connector.agents.links["1001"].stream.readers == 2
        assert lab.connector.websockets == 2
        assert await metric(lab, "connector_websockets_replaced_total 1")
        await app.ready()  # the two newest get every event
        for ws in newest:
            assert (await ws.receive_json(timeout=5))["type"] == "agent.state"
            await ws.close()


async def open_unread_websocket(
    lab: ConnectorLab, token: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket whose client never reads: asyncio stops taking from the socket once its
    own buffer is full, then the kernel's buffers fill, then the connector's. (The writer
    must be kept: a StreamWriter closes its connection when it is collected.)"""
    reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer


async def flood_until_aborted(lab: ConnectorLab, reason: str, timeout: float = 20) -> None:
    """Publish large events to agent 1001 until the connector has reset a WebSocket for
    `reason` and let it go."""
    connector = lab.connector
    link = connector.agents.links["1001"]

    def check() -> bool:
        return connector.metrics.websockets_aborted[reason] == 1 and connector.websockets == 0

    async with asyncio.timeout(timeout):
        while not check():
            link.publish(MobileEvent("agent.state", {"state": "READY", "pad": PAD}))
            await asyncio.sleep(0)  # the sender writes what it can


async def read_until_reset(reader: asyncio.StreamReader) -> None:
    """Read what the client still can: the connection ends in a reset, not a close."""
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(10):
            while await reader.read(1 << 16):
                pass


async def test_a_websocket_that_stops_reading_is_reset_after_the_send_timeout():
    async with ConnectorLab(ws_send_timeout=0.3, event_buffer=10) as lab:
        app, _ = await lab.sign_in("1001", listen=False)
        stalled, _writer = await open_unread_websocket(lab, app.token)
        await flood_until_aborted(lab, "send_timeout")
        assert lab.connector.agents.links["1001"].stream.readers == 0
        await read_until_reset(stalled)
        assert await metric(lab, 'connector_websockets_aborted_total{reason="send_timeout"} 1')
        # The agent's other clients are untouched: a new WebSocket is served as usual.
        await app.listen()
        await app.ready()
        await app.wait_for_state("READY")


async def test_a_websocket_whose_heartbeat_fails_with_data_unsent_is_reset():
    """The heartbeat gives up on a client that does not answer pings; aiohttp then closes
    the transport, which waits for the unsent data to drain: for ever. It is reset. (The
    first ping goes after 2 s: by then the flood has filled every buffer.)"""
    async with ConnectorLab(ws_send_timeout=60, ws_heartbeat=2, event_buffer=10) as lab:
        app, _ = await lab.sign_in("1001", listen=False)
        stalled, _writer = await open_unread_websocket(lab, app.token)
        await flood_until_aborted(lab, "unresponsive")
        await read_until_reset(stalled)
        assert await metric(lab, 'connector_websockets_aborted_total{reason="unresponsive"} 1')
        assert not await metric(lab, 'connector_websockets_aborted_total{reason="send_timeout"} 1')


CHURN = """
import asyncio, sys
import aiohttp

async def churn(url: str, token: str, times: int) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(times):
            async with http.ws_connect(url, headers={"Authorization": "Bearer " + token}) as ws:
                await ws.receive()

asyncio.run(churn(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def churn(lab: ConnectorLab, token: str, times: int) -> None:
    """`times` WebSockets opened and closed one after the other on one token, by a client
    in another process (so that only the connector's objects are counted here)."""
    url = lab.url("/api/v1/events")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CHURN, url, token, str(times))
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    # Each was counted out before its close frame went, so before the client finished.
    assert lab.connector.websockets == 0


def tracked_objects() -> int:
    """Every object the collector tracks, frozen ones included."""
    return len(gc.get_objects()) + gc.get_freeze_count()


async def test_websocket_churn_on_one_token_leaves_no_garbage_cycles():
    """Sign-ins settled, the GC policy freezes young objects every 0.1 s: a garbage cycle
    would survive until the full collection, every 10 minutes. 2,000 connections made and
    closed must leave (nearly) nothing behind; before their cycles were broken they left
    ~38 objects each."""
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001", listen=False)
        policy = lab.connector.gc_policy
        policy.settle = 0.05
        policy.changed()
        await asyncio.wait_for(policy.frozen.wait(), 5)
        await churn(lab, app.token, 100)  # warm-up: first-time caches, the logs' handlers
        gc.collect(1)
        before = tracked_objects()
        await churn(lab, app.token, 2000)
        gc.collect(1)  # a young collection; what was frozen stays
        grown = tracked_objects() - before
        assert policy.full_collections == 0
        assert grown < 2000, f"{grown} objects left behind by 2,000 WebSockets"
