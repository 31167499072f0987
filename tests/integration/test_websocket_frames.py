"""The event stream's own text frames (written at publish time, `connector.api.websocket`)
are what an RFC 6455 client reads: each of the three length encodings, over a real
WebSocket on loopback, read by aiohttp's client."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from connector.api.websocket import _text_frame
from scenarios.stack.connector_lab import ConnectorLab

TEXTS = ["", "é" * 62, "x" * 126, "y" * 65535, "z" * 65536]  # 0, 124 bytes, 126, 2^16-1, 2^16


async def test_text_frames_of_every_length_encoding_read_back_as_their_text():
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        for text in TEXTS:
            request.transport.write(_text_frame(text.encode()))
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await client.ws_connect("/ws")
        got = []
        for _ in TEXTS:
            message = await ws.receive(timeout=5)
            assert message.type is WSMsgType.TEXT
            got.append(message.data)
        assert got == TEXTS
        await ws.close()


def change(state: str) -> dict[str, object]:
    return {"state": state, "reasonCodeId": 1} if state == "NOT_READY" else {"state": state}


async def test_a_caught_up_event_websocket_is_written_at_publish_time():
    """Once the app has caught up, its event WebSocket is written to as frames are
    published (`Reader.attend`), on either event loop: events still arrive in order, and
    the app's reader is the stream's attending one."""
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001")
        stream = lab.connector.agents.links["1001"].stream
        for state in ("READY", "NOT_READY", "READY"):
            assert (await app.call("PUT", "/agent/state", change(state))).status == 202
            await app.wait_for_state(state)
        async with asyncio.timeout(5):  # the sender hands over right after its last write
            while not stream._attending:  # noqa: ASYNC110 (no event for it: a list)
                await asyncio.sleep(0.01)
        assert stream._attending == stream._readers
        assert (await app.call("PUT", "/agent/state", change("NOT_READY"))).status == 202
        await app.wait_for_state("NOT_READY")  # written by the attending reader's push
        assert stream._attending == stream._readers
        states = [e["data"]["state"] for e in app.history if e["type"] == "agent.state"]
        assert states[-4:] == ["READY", "NOT_READY", "READY", "NOT_READY"]
