"""The phone app, simulated: everything the connector's mobile API offers, over HTTP and the
event WebSocket, awaitable waits for events, and the app's view of the agent and its dialogs.

It knows the connector only by its public contract (`mobile_sim.api`), so it works against a
connector anywhere. The event stream resumes by itself after a drop (`?since=` the last seq
seen); a `session.resync` snapshot refreshes the local mirror that the view reads.

With a push subscription (`subscribe_push`, at the simulated push service), the app can go
to the background as a phone's does (`background()`: it tells the connector, closes its
WebSocket), and a push wakes it (`wake_on_push`): it comes back to the foreground and
resumes its stream with `since`, as the agent tapping the notification would. The pushes
themselves are kept apart (`pushes`, `wait_for_push`): what the app shows comes from the
stream, as in the browser app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any, TypeVar

import aiohttp

from mobile_sim import view
from mobile_sim.api import (
    API_PREFIX,
    CLOSE_REPLACED,
    AppError,
    Event,
    Mobile,
    Reply,
    bearer,
    events_url,
    login_body,
    parse_event,
    send,
    service_root,
    state_body,
)
from mobile_sim.inbox import Inbox, WaitTimeout
from mobile_sim.push_service import PushMessage, SimPushService, SimSubscription
from mobile_sim.view import describe_event

__all__ = ["AppClient", "AppError", "Event", "Mobile", "Reply", "WaitTimeout", "describe_event"]

log = logging.getLogger("mobile_sim.app")
Match = Callable[[dict[str, Any]], bool]
T = TypeVar("T")


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
        self.base_url = service_root(base_url)
        self._own_http = http is None
        self.http = http or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.token = ""
        self.agent_id = ""
        self.me: frozenset[str] = frozenset()  # the agent's addresses: extension, dial number
        self.capabilities: dict[str, Any] = {}
        self.last_seq = 0
        self.inbox: Inbox[Event] = Inbox(history=history, pending=pending)
        self._reader: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self.resumes = 0
        self.agent: dict[str, Any] = {}
        self.dialogs: dict[str, dict[str, Any]] = {}
        self.system: dict[str, Any] = {}
        self.ended: dict[str, Any] = {}  # the `session.ended` data, once the session is over
        self.close_code: int | None = None  # of the event WebSocket's last close
        self.pushes: Inbox[PushMessage] = Inbox(history=history, pending=pending)
        self.push_subscription: SimSubscription | None = None
        self.push_id = ""  # the connector's id of the subscription
        self.in_background = False
        self.wake_on_push = True  # a push brings the app back (the agent taps it)
        self.wakes = 0
        self._waking: asyncio.Task[None] | None = None

    @property
    def history(self) -> list[Event]:
        """Every event received, newest last (bounded)."""
        return self.inbox.history

    async def __aenter__(self) -> AppClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    async def call(self, method: str, path: str, payload: Any = None) -> Reply:
        """`path` under /api/v1 with the session's token; a refusal is a Reply too."""
        url = f"{self.base_url}{API_PREFIX}{path}"
        return await send(self.http, method, url, payload, bearer(self.token))

    async def request(self, method: str, path: str, payload: Any = None) -> Any:
        """Like `call`, but the body of an accepted request, or AppError."""
        return (await self.call(method, path, payload)).accepted_body()

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
        body = await self.request(
            "POST", "/sessions", login_body(agent_id, password, extension, mobile)
        )
        self.token = body["token"]
        self.agent_id = agent_id
        self.ended = {}
        self.me = frozenset({extension, mobile.dial_number if mobile else ""} - {""})
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
        body = await self.request("PUT", "/agent/state", state_body(state, reason_code_id))
        return body["requestId"]

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

    async def open_stream(
        self, since: int | None = None, *, heartbeat: float | None = 30.0
    ) -> aiohttp.ClientWebSocketResponse:
        """The event WebSocket, bare: a fresh `session.resync` snapshot first, or with
        `since` the events after that seq. `listen()` reads it for the app."""
        return await self.http.ws_connect(
            events_url(self.base_url, since), headers=bearer(self.token), heartbeat=heartbeat
        )

    async def listen(self, since: int | None = None) -> None:
        """Open the event stream (from a snapshot, or after `since`) and keep reading it: it
        resumes by itself after a drop."""
        if self._reader is None or self._reader.done():
            connected = asyncio.get_running_loop().create_future()
            self._reader = asyncio.ensure_future(self._read_forever(connected, since))
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

    async def stream_ended(self, timeout: float = 5.0) -> bool:
        """Wait until the event stream's reader stops for good (the session ended): True
        if it did within `timeout`."""
        reader = self._reader
        if reader is None:
            return True
        done, _ = await asyncio.wait({reader}, timeout=timeout)
        return bool(done)

    @property
    def stream_open(self) -> bool:
        """Whether the event WebSocket is open now (False while a dropped one resumes)."""
        return self._ws is not None and not self._ws.closed

    async def drop_stream(self) -> None:
        """Close the WebSocket as a backgrounded app would; the reader resumes by itself."""
        if self._ws is not None:
            await self._ws.close()

    async def _read_forever(self, connected: asyncio.Future[None], since: int | None) -> None:
        delay = 0.05
        first = True
        while True:
            try:
                self._ws = await self.open_stream(since if first else self.last_seq)
            except (aiohttp.ClientError, OSError) as exc:
                if first and not connected.done():
                    connected.set_exception(exc)
                    return
                # Back off with jitter, as a phone would: not a wait for an event.
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
                    self._receive(parse_event(message.data))
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
            self.close_code = self._ws.close_code
            if not self.token or self.close_code == CLOSE_REPLACED:
                return

    def _receive(self, event: Event) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq", 0)))
        self._mirror(event)
        self.inbox.put(event)

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
        elif kind == "session.ended":
            # The connector ended the session (signed out, logged out in Finesse, ...):
            # the token is revoked, and the stream closes (code 4001) without resuming.
            self.ended = data
            self.token = ""

    # -- push and the background --------------------------------------------------------------

    async def subscribe_push(self, service: SimPushService) -> str:
        """Subscribe at the push service with the connector's VAPID key, as the browser app
        does after sign-in, and give the connector the subscription; its id."""
        key = (await self.request("GET", "/push/vapid-public-key"))["publicKey"]
        subscription = service.subscribe(key, self._on_push)
        body = await self.request("POST", "/push-subscriptions", subscription.to_json())
        self.push_subscription, self.push_id = subscription, body["id"]
        return self.push_id

    async def unsubscribe_push(self) -> None:
        if self.push_id:
            await self.request("DELETE", f"/push-subscriptions/{self.push_id}")
            self.push_id = ""

    async def background(self, *, close_stream: bool = True) -> None:
        """The app leaves the screen: it says so (`visibilitychange`), then the phone closes
        its WebSocket (unless `close_stream` is False: some keep it open a while)."""
        self.in_background = True
        await self.request("PUT", "/app-state", {"visible": False})
        if close_stream:
            await self.stop_listening()

    async def foreground(self) -> None:
        """Back on screen: the stream resumes after the last event seen, and the connector
        is told the app is visible again."""
        self.in_background = False
        if not self.token:
            return
        if self._reader is None or self._reader.done():
            await self.listen(since=self.last_seq)
        await self.request("PUT", "/app-state", {"visible": True})

    def _on_push(self, message: PushMessage) -> None:
        """The service worker's part: a push arrived (the app may be in the background)."""
        self.pushes.put(message)
        frame = message.payload
        if frame.get("type") == "session.ended":
            # Signed out by someone else: nothing to resume; the app shows it as it would
            # from the stream (the stream itself is closed).
            self._receive(frame)
        elif self.wake_on_push and self.in_background and self._waking is None:
            self._waking = asyncio.ensure_future(self._wake())

    async def _wake(self) -> None:
        try:
            self.wakes += 1
            await self.foreground()
        except (AppError, aiohttp.ClientError, OSError) as exc:
            log.warning("agent %s: waking on a push failed: %r", self.agent_id, exc)
        finally:
            self._waking = None

    async def woken(self, timeout: float = 5.0) -> bool:
        """Wait until a wake in progress is over: True if the app is in the foreground."""
        waking = self._waking
        if waking is not None:
            await asyncio.wait({waking}, timeout=timeout)
        return not self.in_background

    async def wait_for_push(
        self, type_: str, where: Match | None = None, timeout: float = 5.0
    ) -> PushMessage:
        """The oldest unconsumed push of a frame of `type_` (matching `where` on its data)."""

        def match(message: PushMessage) -> bool:
            frame = message.payload
            return frame.get("type") == type_ and (where is None or where(frame.get("data", {})))

        message = await self.pushes.take(match, timeout)
        if message is None:
            got = [m.payload.get("type") for m in self.pushes.history[-8:]]
            raise WaitTimeout(
                f"agent {self.agent_id}: expected a push of {type_} within {timeout:g}s; "
                f"pushes: {got or 'none'}"
            )
        return message

    def next_change(self) -> asyncio.Event:
        """Set when the next event arrives (see `Inbox.next_change`)."""
        return self.inbox.next_change()

    async def wait_for(
        self, type_: str, where: Match | None = None, timeout: float = 5.0, what: str = ""
    ) -> dict[str, Any]:
        """The data of the oldest unconsumed event of `type_` (matching `where`); only the
        match is consumed (`mobile_sim.inbox`). WaitTimeout says what came instead."""

        def match(event: Event) -> bool:
            return event.get("type") == type_ and (where is None or where(event["data"]))

        event = await self.inbox.take(match, timeout)
        if event is None:
            raise WaitTimeout(self.explain(type_, what, timeout))
        return event["data"]

    async def next_event(self, timeout: float = 5.0) -> Event | None:
        """The oldest unconsumed event of any type (None on timeout): for a client that
        reacts to whatever comes, instead of waiting for one kind."""
        return await self.inbox.take(lambda _event: True, timeout)

    async def wait_until(self, check: Callable[[], T], timeout: float = 5.0) -> T | None:
        """`check()`'s first truthy value, re-checked at every event received (it reads the
        view, which the events keep current); None when `timeout` passes first."""
        return await self.inbox.until(check, timeout)

    def forget(self) -> None:
        """Drop every unconsumed event: a later wait sees only what comes after."""
        self.inbox.forget()

    def explain(self, type_: str, what: str, timeout: float, last: int = 8) -> str:
        wanted = f"{type_} ({what})" if what else type_
        return (
            f"agent {self.agent_id}: expected {wanted} within {timeout:g}s; "
            f"last events: {self.recent_events(last)}"
        )

    def recent_events(self, count: int = 8) -> str:
        return "; ".join(describe_event(e) for e in self.history[-count:]) or "nothing"

    async def wait_for_state(self, state: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_for(
            "agent.state", lambda d: d.get("state") == state, timeout, f"state {state}"
        )

    # -- the app's view (`mobile_sim.view`), as the events left it ------------------------------

    @property
    def agent_state(self) -> str:
        return view.agent_state(self.agent)

    def dialog(self, dialog_id: str) -> dict[str, Any]:
        """The dialog as shown, {} once it is gone."""
        return self.dialogs.get(dialog_id) or {}

    def my_state(self, dialog_id: str) -> str:
        """The agent's own participant's state on the dialog; "" when it is not on it."""
        return view.my_state(self.dialog(dialog_id), self.me)

    def my_dialogs(self, *states: str) -> list[dict[str, Any]]:
        """The dialogs on which the agent's own participant is in one of `states`."""
        return view.dialogs_where_i_am(self.dialogs.values(), self.me, *states)

    def offers(self, dialog_id: str, action: str) -> bool:
        return view.offers(self.dialog(dialog_id), action)

    def describe(self) -> str:
        """What the app shows now, in one line (for failure messages)."""
        return view.describe_view(self.agent, self.dialogs.values())

    async def close(self) -> None:
        if self._waking is not None:
            self._waking.cancel()
        await self.stop_listening()
        if self._own_http:
            await self.http.close()
