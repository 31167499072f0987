"""The Mobile App Server in this process on a free loopback port, in front of a connector:
the app's origin for browser tests and steps (`scenarios.browser`)."""

from __future__ import annotations

from aiohttp import web

from mobile_app.server import make_app


class AppLab:
    def __init__(self, connector_url: str, port: int = 0) -> None:
        self.connector_url = connector_url
        self.runner: web.AppRunner | None = None
        self.port = port  # 0: a free one; a restart keeps the port it got

    async def start(self) -> AppLab:
        self.runner = web.AppRunner(make_app(self.connector_url), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> AppLab:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"
