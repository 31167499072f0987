"""The push notifier: an event sink (`deliver`) and the push use cases of the mobile API.

Whether the app watches (an event WebSocket open, and not said to be in the background) is
its `Attention`'s. With one process the event stream knows, and the notifier is an
`unattended_only` sink: it hears of an agent's events only while nobody watches them. With
several (a shared `Attention`) the app's WebSockets may be on other processes: it hears of
every event and asks the shared facts before each push. `PushPolicy` picks the few events
worth waking the phone for, and each of the agent's subscriptions gets them in a task of
its own, so a slow or absent push service never holds up the event loop, nor another
agent's events.

A subscription belongs to the agent's session: it ends with it (`session_ended`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Coroutine
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from connector.errors import AgentError, Refusal
from connector.push.allowlist import Allowlist
from connector.push.attention import Attention, LocalAttention
from connector.push.delivery import Delivery, Sender
from connector.push.message import HIGH, PushMessage, PushPolicy
from connector.push.metrics import PushMetrics
from connector.push.subscriptions import Subscription, Subscriptions, new_id
from connector.push.vapid import VapidKeys
from connector.stream import Frame

log = logging.getLogger("connector.push")
REMEMBERED_DIALOGS = 8  # per agent: pushed calls whose end is pushed too


def _key(value: Any, field: str, length: int) -> bytes:
    """A base64url key of the browser's subscription, decoded, of the length it must have."""
    if not isinstance(value, str) or not value:
        raise AgentError(Refusal.MISSING_FIELD, f"keys.{field} is required", field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length:
        raise AgentError(
            Refusal.INVALID_FIELD, f"keys.{field} must be {length} bytes in base64url", field
        )
    return raw


def browser_keys(keys: Any) -> tuple[bytes, bytes]:
    """`keys: {p256dh, auth}` of a PushSubscription: a P-256 point and a 16-byte secret."""
    if not isinstance(keys, dict):
        raise AgentError(Refusal.MISSING_FIELD, "keys {p256dh, auth} is required", "keys")
    p256dh = _key(keys.get("p256dh"), "p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise AgentError(
            Refusal.INVALID_FIELD, "keys.p256dh is not a P-256 public key", "p256dh"
        ) from None
    return p256dh, _key(keys.get("auth"), "auth", 16)


class PushNotifier:
    def __init__(
        self,
        subscriptions: Subscriptions,
        vapid: VapidKeys,
        allowlist: Allowlist,
        policy: PushPolicy,
        metrics: PushMetrics,
        *,
        max_per_agent: int = 4,
        attention: Attention | None = None,
    ) -> None:
        self.attention = attention or LocalAttention()
        # One process: the event stream decides (only unattended frames reach us).
        self.unattended_only = not self.attention.shared
        self.subscriptions = subscriptions
        self.vapid = vapid
        self.allowlist = allowlist
        self.policy = policy
        self.metrics = metrics
        self.max_per_agent = max_per_agent
        self.sender: Sender | None = None  # set by the runtime once the loop runs
        self._pushed: dict[str, dict[str, None]] = {}  # agent -> dialogs pushed, oldest first
        self._tasks: set[asyncio.Task[Any]] = set()
        # agent -> its pushes still reading their subscriptions: the session's end drops
        # them only after those reads (a forced logout's push goes to them first).
        self._reading: dict[str, set[asyncio.Future[None]]] = {}
        self._unavailable_logged = False
        self._refused: set[str] = set()  # subscriptions whose refusal was logged

    # -- the event sink -----------------------------------------------------------------------

    def deliver(self, agent_id: str, frame: Frame) -> None:
        pushed = self._pushed.get(agent_id, {})
        message = self.policy.message(frame, pushed.keys())
        if message is None or self.sender is None:
            return
        if message.dialog_id and message.urgency != HIGH:
            pushed.pop(message.dialog_id, None)  # its end: nothing more to replace
        read = asyncio.get_running_loop().create_future()
        self._reading.setdefault(agent_id, set()).add(read)
        self._spawn(self._push(agent_id, message, time.monotonic(), read))

    def _remember_ringing(self, agent_id: str, dialog_id: str) -> None:
        pushed = self._pushed.setdefault(agent_id, {})
        pushed[dialog_id] = None
        if len(pushed) > REMEMBERED_DIALOGS:
            del pushed[next(iter(pushed))]

    async def _push(
        self, agent_id: str, message: PushMessage, started: float, read: asyncio.Future[None]
    ) -> None:
        sender = self.sender
        assert sender is not None
        try:
            if await self.attention.attended(agent_id):
                return  # on screen, with a live WebSocket in some process
            subscriptions = await self.subscriptions.for_agent(agent_id)
        except AgentError as exc:  # the shared store does not answer: nothing to push to
            self.metrics.failed[exc.kind.value] += 1
            if not self._unavailable_logged:
                self._unavailable_logged = True
                log.warning("push for agent %s not sent: %s", agent_id, exc)
            return
        finally:
            read.set_result(None)
            reading = self._reading.get(agent_id)
            if reading is not None:
                reading.discard(read)
                if not reading:
                    del self._reading[agent_id]
        if message.urgency == HIGH and message.dialog_id:
            self._remember_ringing(agent_id, message.dialog_id)

        async def one(subscription: Subscription) -> None:  # settled as it ends, each
            try:
                delivery = await sender.send(subscription, message, started)
                await self._settle(subscription, delivery)
            except Exception:  # one subscription's fault: logged, the others go on
                log.exception("push to agent %s's subscription failed", agent_id)

        await asyncio.gather(*map(one, subscriptions))

    async def _settle(self, subscription: Subscription, delivery: Delivery) -> None:
        """Count how the push ended; a subscription the push service forgot goes, and a
        refusal is logged once per subscription."""
        self.metrics.record(delivery)
        if delivery.gone:
            try:
                await self.subscriptions.remove(subscription.agent_id, subscription.id)
            except AgentError as exc:  # the shared store does not answer: it goes later
                log.warning(
                    "push subscription of agent %s not removed: %s", subscription.agent_id, exc
                )
        elif delivery.refused and subscription.id not in self._refused:
            self._refused.add(subscription.id)
            log.warning(
                "push to %s (agent %s) refused with %s; not retried",
                subscription.origin,
                subscription.agent_id,
                delivery.status,
            )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("push failed", exc_info=task.exception())

    # -- the use cases of the mobile API ------------------------------------------------------

    async def subscribe(self, agent_id: str, endpoint: str, keys: Any) -> Subscription:
        """Keep the browser's subscription for the agent (refused unless its push service
        is on the allowlist); the same endpoint again keeps its id."""
        origin = self.allowlist.origin(endpoint)
        p256dh, auth = browser_keys(keys)
        subscription = Subscription(new_id(), agent_id, endpoint, origin, p256dh, auth)
        return await self.subscriptions.add(subscription, self.max_per_agent)

    async def unsubscribe(self, agent_id: str, subscription_id: str) -> None:
        if not await self.subscriptions.remove(agent_id, subscription_id):
            raise AgentError(Refusal.NOT_FOUND, "no such push subscription of this agent")

    def session_ended(self, agent_id: str) -> None:
        """The agent's session is over: its subscriptions go, once the pushes started
        before this (the session's last event) have read them (`_reading`)."""
        self._pushed.pop(agent_id, None)
        self._spawn(self._drop(agent_id))

    async def _drop(self, agent_id: str) -> None:
        reading = self._reading.get(agent_id)
        if reading:
            await asyncio.wait(set(reading))
        await self.subscriptions.drop_agent(agent_id)

    async def settled(self, timeout: float = 5.0) -> bool:
        """Wait until every push under way now is over (sent, given up, or removed): True
        if they all were within `timeout`. For tests and an orderly stop."""
        tasks = set(self._tasks)
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.sender is not None:
            await self.sender.close()
