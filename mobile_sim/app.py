"""The phone app, simulated: everything the connector's mobile API offers, over HTTP and the
event WebSocket, plus awaitable waits for events.

It knows the connector only by its public contract (DESIGN.md, "Mobile API"), so it works
against a connector anywhere. The event stream resumes by itself after a drop
(`?since=` the last seq seen); a `session.resync` snapshot refreshes the local mirror.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger("mobile_sim.app")
Event = dict[str, Any]
Match = Callable[[dict[str, Any]], bool]


class AppError(Exception):
    """The connector refused a request: HTTP status and its `{"error": {...}}` body."""

    def __init__(self, status: int, type_: str, message: str, field: str | None = None):
        super().__init__(f"{status} {type_}: {message}")
        self.status, self.type, self.message, self.field = status, type_, message, field


class WaitTimeout(AssertionError):
    """An awaited event did not arrive; the message says what was expected and what came."""


@dataclass(frozen=True)
class Mobile:
    mode: str  # CALL_BY_CALL | NAILED_CONNECTION
    dial_number: str


def describe_event(event: Event) -> str:
    data = event.get("data") or {}
    bits = [str(event.get("type"))]
    for key in ("state", "id", "callType", "status", "notifications"):
        if data.get(key):
            bits.append(f"{key}={data[key]}")
    if event.get("type") == "error":
        bits += [e.get("type", "") for e in data.get("errors", [])]
    return " ".join(bits)


class AppClient:
    """One agent's app. Use as `async with AppClient(url) as app:` or call `close()`."""

    def __init__(
        self,
        base_url: str,
        *,
        http: aiohttp.ClientSession | None = None,
        history: int = 200,
        pending: int = 1000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if self.base_url.endswith("/api/v1"):
            self.base_url = self.base_url[: -len("/api/v1")]
        self._own_http = http is None
        self.http = http or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.token = ""
        self.agent_id = ""
        self.capabilities: dict[str, Any] = {}
        self.last_seq = 0
        self.history: list[Event] = []  # every event, newest last (bounded)
        self._history_size = history
        self._pending_size = pending
        self._pending: list[Event] = []  # not yet consumed by a wait
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.resumes = 0
        self.agent: dict[str, Any] = {}
        self.dialogs: dict[str, dict[str, Any]] = {}
        self.system: dict[str, Any] = {}

    async def __aenter__(self) -> AppClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    async def request(self, method: str, path: str, payload: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, f"{self.base_url}/api/v1{path}", json=payload, headers=headers
        ) as r:
            try:
                body = await r.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                body = {"error": {"type": "bad_response", "message": (await r.text())[:200]}}
            if r.status >= 400:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise AppError(
                    r.status,
                    error.get("type", "error"),
                    error.get("message", ""),
                    error.get("field"),
                )
            return body

    # -- session ------------------------------------------------------------------------------

    async def login(
        self,
        agent_id: str,
        password: str,
        extension: str,
        mobile: Mobile | None = None,
        *,
        listen: bool = True,
    ) -> dict[str, Any]:
        """POST /sessions; with `listen`, the event stream is opened at once."""
        payload: dict[str, Any] = {
            "agentId": agent_id,
            "password": password,
            "extension": extension,
        }
        if mobile is not None:
            payload["mobile"] = {"mode": mobile.mode, "dialNumber": mobile.dial_number}
        body = await self.request("POST", "/sessions", payload)
        self.token = body["token"]
        self.agent_id = agent_id
        self.capabilities = body.get("capabilities", {})
        self.agent = body.get("agent", {})
        if listen:
            await self.listen()
        return body

    async def logout(self, reason_code_id: int | str | None = None) -> None:
        payload = {} if reason_code_id is None else {"reasonCodeId": reason_code_id}
        await self.request("DELETE", "/sessions/current", payload)
        await self.stop_listening()
        self.token = ""

    async def get_agent(self) -> dict[str, Any]:
        return await self.request("GET", "/agent")

    async def set_state(self, state: str, reason_code_id: int | str | None = None) -> str:
        payload: dict[str, Any] = {"state": state}
        if reason_code_id is not None:
            payload["reasonCodeId"] = reason_code_id
        return (await self.request("PUT", "/agent/state", payload))["requestId"]

    async def ready(self) -> str:
        return await self.set_state("READY")

    async def not_ready(self, reason_code_id: int | str | None = None) -> str:
        return await self.set_state("NOT_READY", reason_code_id)

    async def reason_codes(self, category: str = "NOT_READY") -> list[dict[str, Any]]:
        return (await self.request("GET", f"/reason-codes?category={category}"))["reasonCodes"]

    async def wrap_up_reasons(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/wrapup-reasons"))["wrapUpReasons"]

    # -- dialogs ------------------------------------------------------------------------------

    async def get_dialogs(self) -> list[dict[str, Any]]:
        return (await self.request("GET", "/dialogs"))["dialogs"]

    async def make_call(self, to_address: str) -> str:
        return (await self.request("POST", "/dialogs", {"toAddress": to_address}))["requestId"]

    async def action(self, dialog_id: str, action: str, **params: Any) -> str:
        body = await self.request(
            "POST", f"/dialogs/{dialog_id}/actions", {"action": action, **params}
        )
        return body["requestId"]

    async def answer(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "ANSWER")

    async def hold(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "HOLD")

    async def retrieve(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "RETRIEVE")

    async def drop(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "DROP")

    async def consult(self, dialog_id: str, to_address: str) -> str:
        return await self.action(dialog_id, "CONSULT_CALL", toAddress=to_address)

    async def transfer(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "TRANSFER")

    async def conference(self, dialog_id: str) -> str:
        return await self.action(dialog_id, "CONFERENCE")

    async def single_step_transfer(self, dialog_id: str, to_address: str) -> str:
        return await self.action(dialog_id, "TRANSFER_SST", toAddress=to_address)

    async def send_dtmf(self, dialog_id: str, digits: str) -> str:
        return await self.action(dialog_id, "SEND_DTMF", dtmf=digits)

    async def update_call_data(
        self,
        dialog_id: str,
        wrap_up_reason: str = "",
        call_variables: dict[str, str] | None = None,
    ) -> str:
        params: dict[str, Any] = {}
        if wrap_up_reason:
            params["wrapUpReason"] = wrap_up_reason
        if call_variables:
            params["callVariables"] = call_variables
        return await self.action(dialog_id, "UPDATE_CALL_DATA", **params)

    # -- the event stream ---------------------------------------------------------------------

    async def listen(self) -> None:
        """Open the event stream (resumes by itself after a drop)."""
        if self._reader is None or self._reader.done():
            connected = asyncio.get_running_loop().create_future()
            self._reader = asyncio.ensure_future(self._read_forever(connected))
            await asyncio.wait_for(connected, 10)

    async def stop_listening(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def drop_stream(self) -> None:
        """Close the WebSocket as a backgrounded app would; the reader resumes by itself."""
        if self._ws is not None:
            await self._ws.close()

    async def _read_forever(self, connected: asyncio.Future[None]) -> None:
        delay = 0.05
        first = True
        while True:
            since = None if first else self.last_seq
            query = "" if since is None else f"?since={since}"
            try:
                self._ws = await self.http.ws_connect(
                    f"{self.base_url}/api/v1/events{query}",
                    headers={"Authorization": f"Bearer {self.token}"},
                    heartbeat=30,
                )
            except (aiohttp.ClientError, OSError) as exc:
                if first and not connected.done():
                    connected.set_exception(exc)
                    return
                await asyncio.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 2, 2.0)
                continue
            if not first:
                self.resumes += 1
            first, delay = False, 0.05
            if not connected.done():
                connected.set_result(None)
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._receive(json.loads(message.data))
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
            if not self.token:
                return

    def _receive(self, event: Event) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        self._mirror(event)
        self.history.append(event)
        del self.history[: -self._history_size]
        self._pending.append(event)
        # Events no wait asks for must not pile up for a whole shift.
        del self._pending[: -self._pending_size]
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _mirror(self, event: Event) -> None:
        kind, data = event.get("type"), event.get("data") or {}
        if kind == "session.resync":
            self.agent = data.get("agent") or self.agent
            self.dialogs = {d["id"]: d for d in data.get("dialogs", [])}
            self.system = data.get("system") or self.system
        elif kind == "agent.state":
            self.agent = data
        elif kind in ("dialog.created", "dialog.updated"):
            self.dialogs[data["id"]] = data
        elif kind == "dialog.ended":
            self.dialogs.pop(data.get("id", ""), None)
        elif kind == "system.status":
            self.system = {**self.system, **data}

    async def wait_for(
        self, type_: str, where: Match | None = None, timeout: float = 5.0, what: str = ""
    ) -> dict[str, Any]:
        """The oldest event of `type_` (matching `where`) not yet consumed by a wait. Only
        the match is consumed: events may arrive in another order than they are awaited
        (an agent.state and its dialog.updated, say). `forget()` drops everything
        unconsumed, so a later wait sees only what comes after."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, event in enumerate(self._pending):
                if event.get("type") == type_ and (where is None or where(event["data"])):
                    del self._pending[i]
                    return event["data"]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(self.explain(type_, what, timeout))
            changed = self._changed
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the wait completes (CPython gh-86296).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await changed.wait()

    async def next_event(self, timeout: float = 5.0) -> Event | None:
        """The oldest unconsumed event of any type (None on timeout): for a client that
        reacts to whatever comes, instead of waiting for one kind."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await changed.wait()
        return self._pending.pop(0)

    def forget(self) -> None:
        self._pending.clear()

    def explain(self, type_: str, what: str, timeout: float, last: int = 8) -> str:
        seen = "; ".join(describe_event(e) for e in self.history[-last:]) or "nothing"
        wanted = f"{type_} ({what})" if what else type_
        return f"agent {self.agent_id}: expected {wanted} within {timeout:g}s; last events: {seen}"

    async def wait_for_state(self, state: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_for(
            "agent.state", lambda d: d.get("state") == state, timeout, f"state {state}"
        )

    async def close(self) -> None:
        await self.stop_listening()
        if self._own_http:
            await self.http.close()
