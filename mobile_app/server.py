"""The Mobile App Server: hosts the agent's app and forwards `/api/` to the connector.

An aiohttp app factory (`make_app`) and `serve`, which `mobagent app` and the lab use. In
the field a reverse proxy in the DMZ terminates TLS in front of it (deploy/nginx/).
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from mobile_app import files
from mobile_app.proxy import ConnectorProxy

PROXY = web.AppKey("proxy", ConnectorProxy)
HTTP = web.AppKey("http", aiohttp.ClientSession)


def make_app(connector_url: str) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)

    async def on_startup(app: web.Application) -> None:
        # No pool limit: each open event WebSocket holds one upstream connection.
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, connect=5, sock_read=None),
            auto_decompress=False,
        )
        app[HTTP] = http
        app[PROXY] = ConnectorProxy(connector_url, http)

    async def on_shutdown(app: web.Application) -> None:
        await app[HTTP].close()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)

    async def api(request: web.Request) -> web.StreamResponse:
        proxy = request.app[PROXY]
        if request.path == "/api/v1/events" and request.headers.get("Upgrade", "").lower() == (
            "websocket"
        ):
            return await proxy.websocket(request)
        return await proxy.http_request(request)

    app.router.add_route("*", "/api/{tail:.*}", api)
    files.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", files.not_found)
    return app
