"""Forwarding `/api/` to the Generic Connector, so the app is same-origin without a reverse
proxy (development, or the Mobile App Server on its own machine in the LAN).

HTTP bodies stream both ways; the event WebSocket is joined frame by frame, with nothing
buffered beyond the frame in hand, and its close code (4001 session ended, 4002 replaced)
and reason passed on so the app decides about reconnecting, and says why, as it would facing
the connector itself.

Pings and pongs are relayed too, not answered here: the connector's heartbeat must reach the
phone. Answered by this server, it would show the connector a live WebSocket for a phone
that lost its network, and a call would then not be pushed to it (push goes to agents
without a live stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiohttp import WSMsgType, web

log = logging.getLogger("mobile_app.proxy")

# Hop-by-hop headers (RFC 9110 7.6.1) and those aiohttp sets itself on each leg.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
WS_HANDSHAKE = {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
    "sec-websocket-accept",
}
# Codes that say a connection ended without a close frame: never sent in one (RFC 6455 7.4.1).
RESERVED_CLOSE_CODES = {1005, 1006, 1015}
MAX_BODY = 64 * 1024  # the mobile API's requests are small; the connector has its own limit


def _error(status: int, kind: str, message: str) -> web.Response:
    """In the mobile API's error shape, so the app shows it like any refusal."""
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


class ConnectorProxy:
    def __init__(self, connector_url: str, http: aiohttp.ClientSession) -> None:
        self.base = connector_url.rstrip("/")
        self.http = http

    def _forwarded(self, request: web.Request) -> dict[str, str]:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in WS_HANDSHAKE
        }
        # The connector names the client by X-Forwarded-For only when it trusts this server
        # (its `trusted_proxies`); the chain is extended, never replaced.
        peer = request.remote or ""
        chain = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{chain}, {peer}" if chain else peer
        headers["X-Forwarded-Proto"] = request.scheme
        return headers

    async def http_request(self, request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _error(413, "body_too_large", f"request bodies are limited to {MAX_BODY} bytes")
        try:
            upstream = await self.http.request(
                request.method,
                self.base + request.rel_url.path_qs,
                headers=self._forwarded(request),
                data=body or None,
                allow_redirects=False,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("connector unreachable: %s", exc)
            return _error(502, "connector_unreachable", "the connector cannot be reached")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Connect upstream first: a refusal (401, 426) reaches the browser as the connector
        said it, before any upgrade; then accept with the subprotocol the connector chose."""
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        url = self.base + request.rel_url.path_qs
        try:
            upstream = await self.http.ws_connect(
                url,
                protocols=protocols,
                headers=self._forwarded(request),
                autoping=False,  # the phone answers the connector's pings (see above)
                heartbeat=None,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as exc:
            return _error(exc.status or 502, "upstream_refused", exc.message or "refused")
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("connector unreachable: %s", exc)
            return _error(502, "connector_unreachable", "the connector cannot be reached")
        downstream = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), autoping=False
        )
        await downstream.prepare(request)
        reason = b""
        try:
            reason = await _join(downstream, upstream)
        finally:
            await upstream.close()
            if not downstream.closed:
                await downstream.close(
                    code=passable(upstream.close_code), message=reason or _failure(upstream)
                )
        return downstream


def passable(code: int | None) -> int:
    """The close code to pass on: the other leg's own, or 1001 (going away) when that leg
    just broke (no code, or one that says so: 1005, 1006 and 1015 are never sent)."""
    if code is None or code in RESERVED_CLOSE_CODES:
        return aiohttp.WSCloseCode.GOING_AWAY
    return code


def _failure(ws: aiohttp.ClientWebSocketResponse) -> bytes:
    """Why the upstream leg failed, when it did not close with a reason of its own."""
    exc = ws.exception()
    return _close_reason(str(exc)) if exc else b""


def _close_reason(text: str) -> bytes:
    """At most the 123 bytes a close frame holds, cut between characters (a browser fails
    the connection on a reason that is not UTF-8)."""
    return text.encode()[:123].decode("utf-8", "ignore").encode()


WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _pump(source: WebSocket, sink: WebSocket) -> bytes:
    """Frames from `source` to `sink` until `source` closes; the reason of its close frame
    (b"" when it sent none or just went away). Not `async for`: it hides the close frame."""
    while True:
        msg = await source.receive()
        if msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.PING:
            await sink.ping(msg.data)
        elif msg.type == WSMsgType.PONG:
            await sink.pong(msg.data)
        elif msg.type == WSMsgType.CLOSE:
            return _close_reason(msg.extra or "")
        else:  # CLOSING, CLOSED, ERROR
            return b""


async def _join(
    downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> bytes:
    """Frames both ways until one side closes; its close code and reason go to the other
    side. Returns the connector's close reason (b"" if the app closed first)."""
    to_app = asyncio.ensure_future(_pump(upstream, downstream))
    to_connector = asyncio.ensure_future(_pump(downstream, upstream))
    try:
        done, _ = await asyncio.wait({to_app, to_connector}, return_when=asyncio.FIRST_COMPLETED)
        if to_connector in done and not upstream.closed:
            await upstream.close(
                code=passable(downstream.close_code),
                message=to_connector.result() if not to_connector.exception() else b"",
            )
        if to_app in done and not to_app.exception():
            return to_app.result()
        return b""
    finally:
        for task in (to_app, to_connector):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
