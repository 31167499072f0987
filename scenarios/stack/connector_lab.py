"""The Generic Connector in front of the simulated Finesse, in this process on free loopback
ports, with phone apps (`mobile_sim.app.AppClient`) signed in through it.

Tests and the Gherkin steps start the stack with it; `build_connector` is the one place that
knows how the connector is put together. With `push=True` the simulated push service runs
too, on the connector's push allowlist. The connector's state (its VAPID key pair) is kept
in a temporary directory of the lab's unless `state_dir` is given.
"""

from __future__ import annotations

import tempfile
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from connector.api.server import ApiRunner
from connector.config import ConnectorConfig
from mobile_sim.api import Mobile, Reply, send
from mobile_sim.app import AppClient
from mobile_sim.push_service import SimPushService
from scenarios.stack.finesse_lab import FinesseLab

PASSWORD = "password"  # every agent's in the default roster


def build_connector(config: ConnectorConfig) -> tuple[Any, web.Application]:
    """The connector and its aiohttp application, as `mobagent connector` builds them."""
    from connector.api.app import make_app
    from connector.runtime import Connector

    connector = Connector(config)
    return connector, make_app(connector)


def default_extension(agent_id: str) -> str:
    return str(int(agent_id) + 4000)  # agent 1001 on 5001 in the default roster


def default_dial_number(agent_id: str) -> str:
    return f"+1555123{int(agent_id) - 1000:04d}"  # agent 1001 on +15551230001


class ConnectorLab:
    # Settings every lab of this process starts with, under each lab's own: the test suite
    # sets a Redis `state` here to run every connector test on the shared-state path too.
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, *, finesse: FinesseLab | None = None, push: bool = False, **config: Any
    ) -> None:
        self.finesse = finesse or FinesseLab()
        self.push = SimPushService() if push else None
        self._state = tempfile.TemporaryDirectory(prefix="mobagent-state-")
        self._config = config
        self.connector: Any = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.http: aiohttp.ClientSession | None = None
        self.apps: list[AppClient] = []

    async def start(self) -> ConnectorLab:
        await self.finesse.start()
        side = self.finesse.sim.sides[0]
        settings: dict[str, Any] = {
            "finesse": f"http://127.0.0.1:{side.rest_port}",
            "listen": "127.0.0.1:0",
            "login_timeout": 5.0,
            # Every simulated phone signs in from 127.0.0.1: no per-address limit here
            # (the tests of that limit set it).
            "signin_rate": 0.0,
            # Off unless a test asks (`agents.reconcile_every`): its re-reads race the
            # notifications a test waits for.
            "reconcile_interval": 0.0,
            "state_dir": self._state.name,
        }
        if self.push is not None:
            await self.push.start()
            settings["push_allow"] = (self.push.origin,)
        if len(self.finesse.sim.sides) > 1:
            settings["finesse_secondary"] = (
                f"http://{self.finesse.sim.sides[1].host}:{self.finesse.sim.sides[1].rest_port}"
            )
        settings.update(self.defaults)
        settings.update(self._config)
        self.connector, application = build_connector(ConnectorConfig(**settings).validate())
        self.runner = ApiRunner(application, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aenter__(self) -> ConnectorLab:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        for app in self.apps:
            await app.close()
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.push is not None:
            await self.push.stop()
        await self.finesse.stop()
        self._state.cleanup()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def api(self, method: str, path: str, payload: Any = None) -> Reply:
        """A request with no session token (health, metrics, a login body as sent)."""
        assert self.http is not None
        return await send(self.http, method, self.url(path), payload)

    def app(self) -> AppClient:
        """A phone app on this connector, closed with the lab."""
        app = AppClient(self.url("/api/v1"), http=self.http)
        self.apps.append(app)
        return app

    async def sign_in(
        self,
        agent_id: str,
        mobile: Mobile | None = None,
        *,
        extension: str = "",
        password: str = PASSWORD,
        listen: bool = True,
        push: bool = False,
    ) -> tuple[AppClient, dict[str, Any]]:
        """A new app signed in as the agent (on its default extension unless told): the app
        and the login's reply. A refusal raises AppError. `push`: subscribed to push too."""
        app = self.app()
        body = await app.login(
            agent_id, password, extension or default_extension(agent_id), mobile, listen=listen
        )
        if push:
            assert self.push is not None, "ConnectorLab(push=True) runs the push service"
            await app.subscribe_push(self.push)
        return app, body

    async def sim(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        return await self.finesse.control(method, path, payload)
