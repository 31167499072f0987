"""The private parts of aiohttp and asyncio that connector/api/server.py relies on (aiohttp
is pinned for this). If an upgrade moves them, these fail by name, before the garbage or
the stalled sockets come back quietly."""

from __future__ import annotations

import asyncio
import inspect
import socket
import sys

import aiohttp
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from connector.api.server import ApiRunner


def test_aiohttp_is_the_pinned_minor_version():
    assert aiohttp.__version__.startswith("3.14."), aiohttp.__version__


def test_app_runner_builds_its_server_in_make_server():
    assert inspect.iscoroutinefunction(web.AppRunner._make_server)
    assert "_make_server" in vars(ApiRunner)


async def test_the_server_keeps_its_handler_kwargs_and_the_handler_its_data_callback():
    runner = ApiRunner(web.Application())
    await runner.setup()
    try:
        server = runner.server
        assert server is not None and isinstance(server._kwargs, dict)
        handler = server()
        assert isinstance(handler, RequestHandler)
        assert hasattr(handler, "_data_received_cb")
    finally:
        await runner.cleanup()


async def test_the_selector_transport_keeps_its_read_callback():
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, left)
    try:
        # Python 3.11 binds it to the transport: the cycle connection_lost breaks.
        if sys.version_info < (3, 12):
            assert transport._read_ready_cb.__self__ is transport
    finally:
        transport.close()
        right.close()
