"""`GET /api/v1/events`: an agent's event stream over a WebSocket (`?since=SEQ` resumes).

The WebSocket is a reader of the agent's `EventStream`: attached while it is open, so the
stream knows the app is watching. When the session ends, the last frame is `session.ended`
and the socket closes with code 4001 and the reason.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import WSMsgType, web

from connector.api import requests
from connector.api.handlers import CONNECTOR, caller
from connector.metrics import Histogram
from connector.stream import Reader

log = logging.getLogger("connector.api")
WS_MAX_MESSAGE = 4096  # the app sends nothing but pings and close frames
# Close codes of our own (RFC 6455 leaves 4000-4999 to applications): the app must not
# reconnect with the same token after these.
CLOSE_SESSION_ENDED = 4001  # the session is over (`session.ended` was the last event)


async def events(request: web.Request) -> web.WebSocketResponse:
    link = caller(request)
    since = requests.since(request)
    protocols = ("bearer",) if "bearer" in request.headers.get("Sec-WebSocket-Protocol", "") else ()
    ws = web.WebSocketResponse(
        heartbeat=30, compress=False, max_msg_size=WS_MAX_MESSAGE, protocols=protocols
    )
    await ws.prepare(request)
    connector = request.app[CONNECTOR]
    connector.websockets += 1
    reader = link.stream.reader(since)
    # Two tasks for the connection's lifetime, none per event: one sends the stream, the
    # other reads what the app sends (close frames, pings). Either ending ends both.
    sender = asyncio.ensure_future(_send_events(ws, reader, connector.metrics.latency))
    receiver = asyncio.ensure_future(_drain_client(ws))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sender.cancel()
        receiver.cancel()
        reader.close()
        connector.websockets -= 1
        reason = link.stream.end_reason
        if reason and reader.ended:
            await ws.close(code=CLOSE_SESSION_ENDED, message=reason.encode())
        else:
            await ws.close()
    for task in (sender, receiver):  # retrieved: a failure is logged once, here
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("event stream of %s ended: %r", link.agent_id, task.exception())
    return ws


async def _send_events(ws: web.WebSocketResponse, reader: Reader, latency: Histogram) -> None:
    """Send the stream until the session ends (an empty batch) or the app goes away."""
    try:
        while not ws.closed:
            batch = reader.take()
            if not batch:
                if reader.ended:
                    return
                await reader.wait()
                continue
            now = time.time()
            for frame in batch:
                latency.observe(max(0.0, now - frame.ts))
                await ws.send_str(frame.text)
            del batch, frame  # not kept alive while waiting for the next event
    except ConnectionResetError:
        pass


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the app sends, so close frames and pings are handled."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break
