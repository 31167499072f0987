"""A running simulator and Finesse clients built from stock libraries, for integration tests.

Clients use what a real Finesse client would: aiohttp for REST with Basic auth and a stock
slixmpp ClientXMPP for notifications. Every wait is for an event, with a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slixmpp import ClientXMPP

from connector.finesse import codec
from connector.finesse.models import DialogRequest, Update, User
from finesse_sim.config import SimConfig, default_config
from finesse_sim.runtime import Listen, Simulator

TIMEOUT = 5.0
_SHARED_SSL = ssl.create_default_context()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Response:
    status: int
    text: str

    def errors(self):
        return codec.parse_api_errors(self.text)


class Notifications:
    """A stock slixmpp client that turns pubsub events into parsed Updates."""

    def __init__(self, jid: str, password: str, ssl_context: ssl.SSLContext = _SHARED_SSL):
        self.xmpp = ClientXMPP(
            jid,
            password,
            ssl_context=ssl_context,
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
        )
        self.xmpp.register_plugin("xep_0060")
        self.xmpp.register_plugin("xep_0199")
        self.xmpp.enable_direct_tls = False
        self.updates: list[tuple[str, Update]] = []
        self._changed = asyncio.Event()
        self._session = asyncio.get_running_loop().create_future()
        self.disconnected = asyncio.Event()
        self.xmpp.add_event_handler("pubsub_publish", self._on_publish)
        self.xmpp.add_event_handler("session_start", self._on_session)
        self.xmpp.add_event_handler("failed_auth", self._on_failed)
        self.xmpp.add_event_handler("disconnected", lambda _e: self.disconnected.set())
        self.presences: list[tuple[str, str]] = []  # (bare jid, "available"|"unavailable")
        self.xmpp.add_event_handler("presence_available", self._on_presence)
        self.xmpp.add_event_handler("presence_unavailable", self._on_presence)

    def _on_presence(self, presence: Any) -> None:
        kind = "unavailable" if presence["type"] == "unavailable" else "available"
        self.presences.append((presence["from"].bare, kind))
        self._changed.set()

    async def presence_of(self, bare_jid: str, kind: str, timeout: float = TIMEOUT) -> None:
        """Wait until `bare_jid`'s latest presence seen is `kind`."""
        async with asyncio.timeout(timeout):
            while True:
                seen = [k for j, k in self.presences if j == bare_jid]
                if seen and seen[-1] == kind:
                    return
                self._changed.clear()
                await self._changed.wait()

    def _on_session(self, _event: Any) -> None:
        self.xmpp.send_presence(ppriority=0)
        if not self._session.done():
            self._session.set_result(True)

    def _on_failed(self, _event: Any) -> None:
        if not self._session.done():
            self._session.set_result(False)

    def _on_publish(self, msg: Any) -> None:
        node = msg["pubsub_event"]["items"]["node"]
        notification = msg.xml.find(".//{http://jabber.org/protocol/pubsub}notification")
        self.updates.append((node, codec.parse_update(notification)))
        self._changed.set()

    async def connect(self, host: str, port: int) -> bool:
        self.xmpp.connect(host, port)
        return await asyncio.wait_for(self._session, TIMEOUT)

    async def wait_for(
        self, pred: Callable[[str, Update], bool], what: str, timeout: float = TIMEOUT
    ) -> Update:
        """The first update (in arrival order) that matches `pred`; it is consumed, the
        others stay for later waits."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, (node, update) in enumerate(self.updates):
                if pred(node, update):
                    del self.updates[i]
                    return update
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [(n, u.event, type(u.data).__name__) for n, u in self.updates]
                raise AssertionError(f"no {what} within {timeout}s; got {seen}")
            self._changed.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the wait completes (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    async def user_state(self, state: str, **kw: Any) -> User:
        update = await self.wait_for(
            lambda n, u: isinstance(u.data, User) and u.data.state == state,
            f"User notification with state {state}",
            **kw,
        )
        return update.data

    async def dialog_event(self, event: str, pred: Callable[[Any], bool] = lambda d: True):
        def match(node: str, u: Update) -> bool:
            if not node.endswith("/Dialogs") or u.event != event:
                return False
            data = u.data[0] if isinstance(u.data, list) and u.data else u.data
            return data is not None and not isinstance(data, list) and pred(data)

        update = await self.wait_for(match, f"Dialogs {event}")
        return update.data[0] if isinstance(update.data, list) else update.data

    def close(self) -> None:
        self.xmpp.abort()
        # slixmpp 1.17 cancels its send-queue task only in __del__, which never runs.
        send_loop = getattr(self.xmpp, "_run_out_filters", None)
        if send_loop is not None:
            send_loop.cancel()


@dataclass
class FinesseAgent:
    """One agent's view: REST as that agent, and its notification session."""

    lab: FinesseLab
    id: str
    password: str = "password"
    extension: str = ""
    notes: Notifications | None = None
    _n: int = field(default=0)

    @property
    def auth(self) -> str:
        return basic(self.id, self.password)

    async def request(
        self, method: str, path: str, body: str | None = None, request_id: str | None = None
    ) -> Response:
        headers = {"Authorization": self.auth, "Content-Type": "application/xml"}
        if request_id:
            headers["requestId"] = request_id
        return await self.lab.rest(method, path, body, headers)

    def next_request_id(self) -> str:
        self._n += 1
        return f"{self.id}-{self._n}"

    async def put_user(self, request_id: str | None = None, **fields: Any) -> Response:
        body = codec.user_request_to_xml(User(**fields))
        return await self.request("PUT", f"/finesse/api/User/{self.id}", body, request_id)

    async def dialog_action(self, dialog_id: str, action: str, **kw: Any) -> Response:
        req = DialogRequest(requested_action=action, target_media_address=self.extension, **kw)
        return await self.request(
            "PUT", f"/finesse/api/Dialog/{dialog_id}", codec.dialog_request_to_xml(req)
        )

    async def get_user(self) -> User:
        res = await self.request("GET", f"/finesse/api/User/{self.id}")
        assert res.status == 200, res.text
        return codec.parse_user(res.text)

    async def get_dialogs(self):
        res = await self.request("GET", f"/finesse/api/User/{self.id}/Dialogs")
        assert res.status == 200, res.text
        return codec.parse_dialogs(res.text)

    async def connect_xmpp(self, side: int = 0) -> Notifications:
        sim_side = self.lab.sim.sides[side]
        self.notes = Notifications(f"{self.id}@{sim_side.domain}/mobileagent", self.password)
        self.lab.clients.append(self.notes)
        assert await self.notes.connect("127.0.0.1", sim_side.xmpp_port)
        # Subscribed nodes are live once the server saw our presence.
        await self.lab.sim.wait_until(lambda: self.id in sim_side.xmpp.available_users())
        return self.notes

    async def login(self, extension: str | None = None, mobile: tuple[str, str] | None = None):
        """Connect notifications, PUT LOGIN, wait for the outcome notification."""
        from connector.finesse.models import MobileAgent

        self.extension = extension or f"{int(self.id) + 4000}"
        if self.notes is None:
            await self.connect_xmpp()
        rid = self.next_request_id()
        res = await self.put_user(
            rid,
            state="LOGIN",
            extension=self.extension,
            mobile_agent=MobileAgent(*mobile) if mobile else None,
        )
        assert res.status == 202, res.text
        return res, rid

    async def ready(self) -> None:
        res = await self.put_user(state="READY")
        assert res.status == 202, res.text
        await self.notes.user_state("READY")


class FinesseLab:
    def __init__(self, config: SimConfig | None = None, *, speed: float = 1.0, **listen: Any):
        self.sim = Simulator(
            config or default_config(),
            Listen(rest_port=0, xmpp_port=0, **listen),
            speed=speed,
        )
        self.clients: list[Notifications] = []
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> FinesseLab:
        await self.sim.start()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self

    async def __aenter__(self) -> FinesseLab:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.http:
            await self.http.close()
        await self.sim.stop()

    def url(self, path: str, side: int = 0) -> str:
        s = self.sim.sides[side]
        return f"http://{s.host}:{s.rest_port}{path}"

    async def rest(
        self,
        method: str,
        path: str,
        body: str | None = None,
        headers: dict | None = None,
        side: int = 0,
    ) -> Response:
        assert self.http is not None
        async with self.http.request(method, self.url(path, side), data=body, headers=headers) as r:
            return Response(r.status, await r.text())

    async def control(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(method, self.url(f"/sim/v1{path}"), json=json) as r:
            return r.status, await r.json()

    def agent(self, agent_id: str) -> FinesseAgent:
        return FinesseAgent(self, agent_id)
