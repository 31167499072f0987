"""The connector in front of the simulated Finesse, and a mobile app client, for tests.

`ConnectorLab` runs the simulator and the connector in this process on free loopback ports;
`App` is what a phone app does: JSON over HTTP with a bearer token, and the event WebSocket.
Every wait is for an event, with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from connector.api.app import make_app
from connector.config import ConnectorConfig
from connector.runtime import Connector
from tests.support.finesse_lab import FinesseLab

TIMEOUT = 5.0


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error_type(self) -> str:
        return self.body["error"]["type"]


@dataclass
class App:
    """One phone app: a session token and the event stream it reads."""

    lab: ConnectorLab
    agent_id: str
    token: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def call(self, method: str, path: str, payload: Any = None) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.lab.api(method, path, payload, headers)

    async def login(
        self,
        extension: str | None = None,
        mobile: tuple[str, str] | None = None,
        password: str = "password",
        listen: bool = True,
    ) -> Reply:
        payload: dict[str, Any] = {
            "agentId": self.agent_id,
            "password": password,
            "extension": extension or f"{int(self.agent_id) + 4000}",
        }
        if mobile:
            payload["mobile"] = {"mode": mobile[0], "dialNumber": mobile[1]}
        reply = await self.lab.api("POST", "/api/v1/sessions", payload)
        if reply.status == 201:
            self.token = reply.body["token"]
            if listen:
                await self.listen()
        return reply

    async def listen(self, since: int | None = None) -> None:
        assert self.lab.http is not None
        query = f"?since={since}" if since is not None else ""
        self.ws = await self.lab.http.ws_connect(
            self.lab.url(f"/api/v1/events{query}"),
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self._reader = asyncio.ensure_future(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                event = json.loads(message.data)
                self.events.append(event)
                self.last_seq = max(self.last_seq, event["seq"])
                self._changed.set()

    async def close_stream(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self.ws = self._reader = None

    async def wait_for(
        self,
        type_: str,
        where: Callable[[dict[str, Any]], bool] = lambda d: True,
        timeout: float = TIMEOUT,
    ) -> dict[str, Any]:
        """The first event of `type_` whose data matches; consumed, others are kept."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event["type"] == type_ and where(event["data"]):
                    del self.events[i]
                    return event["data"]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"agent {self.agent_id}: no {type_} within {timeout}s; got "
                    f"{[(e['type'], e['data'].get('state')) for e in self.events]}"
                )
            self._changed.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the wait completes (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    async def state(self, state: str, **kw: Any) -> dict[str, Any]:
        return await self.wait_for("agent.state", lambda d: d["state"] == state, **kw)

    async def action(self, dialog_id: str, action: str, **params: Any) -> Reply:
        return await self.call(
            "POST", f"/api/v1/dialogs/{dialog_id}/actions", {"action": action, **params}
        )


class ConnectorLab:
    def __init__(self, *, finesse: FinesseLab | None = None, **config: Any) -> None:
        self.finesse = finesse or FinesseLab()
        self._config = config
        self.connector: Connector | None = None
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.http: aiohttp.ClientSession | None = None
        self.apps: list[App] = []

    async def start(self) -> ConnectorLab:
        await self.finesse.start()
        side = self.finesse.sim.sides[0]
        settings: dict[str, Any] = {
            "finesse": f"http://127.0.0.1:{side.rest_port}",
            "listen": "127.0.0.1:0",
            "login_timeout": 5.0,
        }
        if len(self.finesse.sim.sides) > 1:
            settings["finesse_secondary"] = (
                f"http://{self.finesse.sim.sides[1].host}:{self.finesse.sim.sides[1].rest_port}"
            )
        settings.update(self._config)
        self.connector = Connector(ConnectorConfig(**settings).validate())
        self.runner = web.AppRunner(make_app(self.connector), access_log=None)
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
            await app.close_stream()
        if self.http is not None:
            await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.finesse.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def api(
        self, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        assert self.http is not None
        async with self.http.request(method, self.url(path), json=payload, headers=headers) as r:
            try:
                data = await r.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                data = await r.text()
            return Reply(r.status, data)

    def app(self, agent_id: str) -> App:
        app = App(self, agent_id)
        self.apps.append(app)
        return app

    async def sim(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        return await self.finesse.control(method, path, payload)
