"""The simulator's control API (`/sim/v1`) and the handsets it drives, by their public
contract: customers' calls, phones (ring, answer, reject, hang up), faults, clock, reset."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from mobile_sim.api import AppError, send
from mobile_sim.inbox import Inbox, WaitTimeout


class SimControl:
    def __init__(self, base_url: str, *, http: aiohttp.ClientSession | None = None) -> None:
        base = base_url.rstrip("/")
        for suffix in ("/sim/v1", "/finesse/api"):
            base = base.removesuffix(suffix)
        self.base_url = base
        self._own_http = http is None
        self.http = http or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def request(self, method: str, path: str, payload: Any = None) -> Any:
        """The body of an accepted request; AppError for a refusal (the same error shape as
        the mobile API's)."""
        return (
            await send(self.http, method, f"{self.base_url}/sim/v1{path}", payload)
        ).accepted_body()

    async def place_call(
        self, dn: str, caller: str = "+15550100", call_variables: dict[str, str] | None = None
    ) -> str:
        body = await self.request(
            "POST", "/calls", {"dn": dn, "from": caller, "callVariables": call_variables or {}}
        )
        return body["callId"]

    async def hang_up_call(self, call_id: str) -> None:
        await self.request("POST", f"/calls/{call_id}/hangup")

    async def queues(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/queues"))["queues"]

    async def fault(self, kind: str, **params: Any) -> None:
        await self.request("POST", "/faults", {"kind": kind, **params})

    async def set_speed(self, speed: float) -> None:
        await self.request("PUT", "/clock", {"speed": speed})

    async def clock(self) -> dict[str, Any]:
        return await self.request("GET", "/clock")

    async def reset(self) -> None:
        await self.request("POST", "/reset")

    def phone(self, number: str) -> Phone:
        return Phone(self, number)

    async def close(self) -> None:
        if self._own_http:
            await self.http.close()


class Phone:
    """The handset in an agent's (or a customer's) hand, by number."""

    def __init__(self, sim: SimControl, number: str) -> None:
        self.sim = sim
        self.number = number
        # Bounded: a handset rings all shift long.
        self.inbox: Inbox[dict[str, Any]] = Inbox(history=200, pending=200)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every handset event received, newest last (bounded)."""
        return self.inbox.history

    async def open(self) -> Phone:
        """Start listening to the handset (ring, connected, held, dtmf, ended)."""
        self._ws = await self.sim.http.ws_connect(
            f"{self.sim.base_url}/sim/v1/phones/{self.number}/events"
        )
        first = await self._ws.receive_json(timeout=10)
        if first.get("event") != "subscribed":
            raise AppError(502, "bad_response", f"phone {self.number}: {first}")
        self._reader = asyncio.ensure_future(self._read(self._ws))
        return self

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.inbox.put(json.loads(message.data))

    async def wait_for(self, event: str, timeout: float = 5.0) -> dict[str, Any]:
        """The oldest unconsumed handset event of that kind (e.g. "ring")."""
        seen = await self.inbox.take(lambda e: e.get("event") == event, timeout)
        if seen is None:
            got = ", ".join(e.get("event", "?") for e in self.events[-8:]) or "nothing"
            raise WaitTimeout(
                f"phone {self.number}: expected {event} within {timeout:g}s; got {got}"
            )
        return seen

    async def answer(self) -> str:
        return (await self.sim.request("POST", f"/phones/{self.number}/answer"))["callId"]

    async def reject(self) -> str:
        return (await self.sim.request("POST", f"/phones/{self.number}/reject"))["callId"]

    async def hang_up(self) -> list[str]:
        return (await self.sim.request("POST", f"/phones/{self.number}/hangup"))["callIds"]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
