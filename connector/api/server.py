"""The mobile API's HTTP connections: aiohttp's protocol with what a service on the public
internet needs and aiohttp does not do. Serve the API with `ApiRunner` (the CLI and the
test labs do).

* A request aiohttp's parser refuses (a control character in a header, a header line too
  long) answers the API's JSON error: 401 when the parser names the Authorization header,
  else 400 `malformed_request`. aiohttp would log the offending line and echo it back as
  text: for a bearer token, a credential in the log. The log here names the client and the
  kind of error, never the request's bytes.
* A WebSocket's peer that stops taking what we send is aborted (`guard_writes`): once the
  connection's write buffer has been over its high-water mark (the transport paused
  writing) for `timeout` seconds, the socket is reset, which frees the kernel's buffers at
  once (a graceful close would wait for the peer to read them first: forever). The timer
  runs only while writing is paused, so it costs nothing per event.
* A closed connection leaves no garbage cycle. aiohttp keeps the WebSocket's data callback
  (a bound method of the `WebSocketResponse`, which holds the request, which holds this
  protocol) and asyncio before Python 3.12 keeps the transport's own read callback bound
  to itself: each connection would be ~40 objects that only the full collection frees, and
  the GC policy (connector/gc_policy.py) runs that once every 10 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from connector.api.errors import refused
from connector.errors import Refusal

log = logging.getLogger("connector.api")


def reset(transport: asyncio.BaseTransport) -> None:
    """Close at once with a TCP reset: the kernel drops whatever the peer never took."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing left to drop
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


class ApiProtocol(RequestHandler):
    """One HTTP connection of the mobile API (see the module's docstring)."""

    __slots__ = ("_on_stalled", "_stall", "_stall_timeout")

    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._stall_timeout = 0.0  # 0: writes are not guarded (plain HTTP)
        self._on_stalled: Callable[[], None] = lambda: None
        self._stall: asyncio.TimerHandle | None = None

    def guard_writes(self, timeout: float, on_stalled: Callable[[], None]) -> None:
        """Reset the connection when writing stays paused for `timeout` seconds (then
        `on_stalled()`, to count it)."""
        self._stall_timeout = timeout
        self._on_stalled = on_stalled
        if self.writing_paused:
            self._start_stall_timer()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timeout:
            self._start_stall_timer()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_stall_timer()

    def _start_stall_timer(self) -> None:
        if self._stall is None:
            self._stall = self._loop.call_later(self._stall_timeout, self._stalled)

    def _cancel_stall_timer(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        if self.transport is not None:
            log.info("peer %s took nothing for %g s: reset", self._peer(), self._stall_timeout)
            self._on_stalled()
            reset(self.transport)

    def _peer(self) -> str:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        return str(peer[0]) if peer else "?"

    def connection_lost(self, exc: BaseException | None) -> None:
        transport = self.transport
        self._cancel_stall_timer()
        super().connection_lost(exc)
        # The two self-references (see the module's docstring): dropped now, the connection
        # is freed by reference counting.
        self._data_received_cb = None
        if transport is not None and hasattr(transport, "_read_ready_cb"):
            transport._read_ready_cb = None  # type: ignore[attr-defined]

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        # Never the parser's message: it quotes the offending bytes.
        log.info("malformed request from %s: %s", request.remote, type(exc).__name__)
        if "authorization" in (exc.message or "").lower():
            response = refused(Refusal.UNAUTHORIZED, "a valid session token is required")
        else:
            response = refused(Refusal.MALFORMED_REQUEST, "the request is not valid HTTP")
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return ApiProtocol(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` whose connections are `ApiProtocol`s."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same server, building our protocol per connection
        return server
