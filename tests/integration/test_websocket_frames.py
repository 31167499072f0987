"""The event stream's own text frames (written at publish time, `connector.api.websocket`)
are what an RFC 6455 client reads: each of the three length encodings, over a real
WebSocket on loopback, read by aiohttp's client."""

from __future__ import annotations

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from connector.api.websocket import _text_frame

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
