"""`GET /api/v1/events`: an agent's event stream over a WebSocket (`?since=SEQ` resumes).

The WebSocket is a reader of the agent's `EventStream`: attached while it is open, so the
stream knows the app is watching. When the session ends, the last frame is `session.ended`
and the socket closes with code 4001 and the reason. An agent has at most
`max_websockets_per_agent` of them: a new one past the cap closes the oldest with 4002. A
peer that stops reading is reset, not closed: see `ApiProtocol.guard_writes`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import cast

from aiohttp import WSCloseCode, WSMsgType, web

from connector.api import requests
from connector.api.handlers import CONNECTOR, caller
from connector.api.server import ApiProtocol, reset
from connector.errors import AgentError, Refusal
from connector.metrics import Histogram, Metrics
from connector.stream import Reader

log = logging.getLogger("connector.api")
WS_MAX_MESSAGE = 4096  # the app sends nothing but pings and close frames
# Close codes of our own (RFC 6455 leaves 4000-4999 to applications): the app must not
# reconnect with the same token after 4001; after 4002 another connection of its agent
# (most likely its own reconnect) has taken this one's place.
CLOSE_SESSION_ENDED = 4001  # the session is over (`session.ended` was the last event)
CLOSE_REPLACED = 4002  # a newer WebSocket of the agent replaced this one (the oldest)


async def events(request: web.Request) -> web.WebSocketResponse:
    link = await caller(request, websocket=True)
    since = requests.since(request)
    connector = request.app[CONNECTOR]
    config, metrics = connector.config, connector.metrics
    protocols = ("bearer",) if "bearer" in request.headers.get("Sec-WebSocket-Protocol", "") else ()
    ws = web.WebSocketResponse(
        heartbeat=config.ws_heartbeat,
        compress=False,
        max_msg_size=WS_MAX_MESSAGE,
        protocols=protocols,
    )
    if not ws.can_prepare(request):  # else aiohttp answers in plain text
        raise AgentError(Refusal.UPGRADE_REQUIRED, "the event stream takes a WebSocket handshake")
    stream = await connector.agents.events(link)  # a refusal (503) before the handshake
    # Attached before the handshake's await: a followed stream (another process holds the
    # agent) that nobody reads is let go by the follower meanwhile.
    reader = stream.reader(since)
    try:
        await ws.prepare(request)
    except BaseException:
        reader.close()
        raise
    _guard_writes(request, config.ws_send_timeout, metrics)
    connector.websockets += 1
    # Two tasks for the connection's lifetime, none per event: one sends the stream, the
    # other reads what the app sends (close frames, pings). Either ending ends both.
    sender = asyncio.ensure_future(_send_events(ws, reader, metrics.latency, request.transport))
    receiver = asyncio.ensure_future(_drain_client(ws))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sender.cancel()
        receiver.cancel()
        reader.close()
        connector.websockets -= 1
        await _close(request, ws, reader, stream.end_reason, metrics)
    for task in (sender, receiver):  # retrieved: a failure is logged once, here
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("event stream of %s ended: %r", link.agent_id, task.exception())
    del sender, receiver  # done tasks: nothing of theirs outlives the connection
    return ws


def _guard_writes(request: web.Request, timeout: float, metrics: Metrics) -> None:
    protocol = request.protocol
    assert isinstance(protocol, ApiProtocol), "serve the API with connector.api.server.ApiRunner"

    def stalled() -> None:
        metrics.websockets_aborted["send_timeout"] += 1

    protocol.guard_writes(timeout, stalled)


async def _close(
    request: web.Request, ws: web.WebSocketResponse, reader: Reader, reason: str, metrics: Metrics
) -> None:
    """Close with the code that says why; reset a peer that did not answer the close (the
    heartbeat gave up, or it never took our close frame): what it left unread in our
    buffers and the kernel's would otherwise wait for it forever."""
    if reader.replaced:
        metrics.websockets_replaced += 1
        await ws.close(code=CLOSE_REPLACED, message=b"replaced by a newer connection")
    elif reason and reader.ended:
        await ws.close(code=CLOSE_SESSION_ENDED, message=reason.encode())
    else:
        await ws.close()
    transport = request.protocol.transport  # None once the connection is gone
    if ws.close_code == WSCloseCode.ABNORMAL_CLOSURE and transport is not None:
        if transport.get_write_buffer_size():  # not a peer that left: one that stopped reading
            metrics.websockets_aborted["unresponsive"] += 1
        reset(transport)


def _text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def _writer(
    ws: web.WebSocketResponse, transport: asyncio.Transport, latency: Histogram
) -> Callable[[tuple[int, float, str]], bool]:
    """Write a frame at publish time if the socket takes it now: open, nothing waiting in
    the transport's buffer (else the sender's awaited send keeps the order and applies
    back-pressure). compress=False, so a frame is its text as is."""

    def write(frame: tuple[int, float, str]) -> bool:
        if ws.closed or transport.is_closing() or transport.get_write_buffer_size():
            return False
        latency.observe(max(0.0, time.time() - frame[1]))
        transport.write(_text_frame(frame[2].encode()))
        return True

    return write


async def _send_events(
    ws: web.WebSocketResponse,
    reader: Reader,
    latency: Histogram,
    transport: asyncio.BaseTransport | None,
) -> None:
    """Send the stream until the session ends (an empty batch), the reader is replaced, or
    the app goes away: the backlog with awaited sends, then, caught up, frame by frame as
    they are published (`Reader.attend`) until a write cannot be made at once."""
    # Not an isinstance check: uvloop's transports are not asyncio.Transport subclasses.
    push = _writer(ws, cast(asyncio.Transport, transport), latency) if transport else None
    try:
        while not ws.closed:
            batch = reader.take()
            if not batch:
                if reader.ended or reader.replaced:
                    return
                await (reader.wait() if push is None else reader.attend(push))
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
