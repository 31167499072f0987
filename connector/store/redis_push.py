"""Web Push's facts in Redis, for several connector processes (`--state redis://...`).

An app's requests and its event WebSocket may reach any process, while the push is decided
by the one holding the agent's notification session (its lease). So what the decision
needs is shared, under the agent's keys (redis_state.py lists the others):

- `push:<agent>`, hash: subscription id -> JSON (`endpoint`, `origin`, `p256dh`, `auth`:
  what the browser's `PushSubscription` already is; no secret of ours), and
  `pushorder:<agent>`, list: their ids, oldest first (the per-agent limit drops the
  oldest, in one script, whichever process subscribes). They go when the session ends
  (the holder drops them), and expire with the token lifetime should that be missed;
- `hidden` in `session:<agent>`: the app said it went to the background (it goes with the
  session's record);
- `watching:<agent>`, hash: process -> how many of the agent's event WebSockets it has open,
  and `process:<id>`, renewed every third of `lease_ttl` while the process lives: the
  counts of a process that died or stalled stop counting once its key expires.

`RedisSubscriptions` is the notifier's `Subscriptions`; `RedisAttention` its `Attention`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import secrets

from redis.exceptions import RedisError

from connector.push.subscriptions import Subscription
from connector.store.redis_scripts import ATTENDED, SUBSCRIBE, SUBSCRIPTIONS, VISIBILITY
from connector.store.redis_state import RETRY_MAX, RETRY_MIN, RedisState, key_of

log = logging.getLogger("connector.store")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RedisSubscriptions:
    """The browsers' push subscriptions of every agent, shared by the processes."""

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self._redis = state.redis
        self._subscribe = self._redis.register_script(SUBSCRIBE)
        self._count = self._redis.register_script(SUBSCRIPTIONS)

    @property
    def _lifetime(self) -> int:
        return int(self._state.token_ttl) + 1

    async def add(self, subscription: Subscription, limit: int) -> Subscription:
        agent = subscription.agent_id
        text = json.dumps(
            {
                "endpoint": subscription.endpoint,
                "origin": subscription.origin,
                "p256dh": _b64(subscription.p256dh),
                "auth": _b64(subscription.auth),
            }
        )
        args = [subscription.id, subscription.endpoint, text, limit, self._lifetime]
        try:
            kept = await self._subscribe(keys=_keys(agent), args=args)
        except RedisError as exc:
            raise self._state.refused(exc) from exc
        return Subscription(kept, agent, *_fields(text))

    async def remove(self, agent_id: str, subscription_id: str) -> bool:
        table, order = _keys(agent_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(table, subscription_id)
                pipe.lrem(order, 0, subscription_id)
                removed, _ = await pipe.execute()
        except RedisError as exc:
            raise self._state.refused(exc) from exc
        return bool(removed)

    async def for_agent(self, agent_id: str) -> list[Subscription]:
        table, order = _keys(agent_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lrange(order, 0, -1)
                pipe.hgetall(table)
                ids, texts = await pipe.execute()
        except RedisError as exc:
            raise self._state.refused(exc) from exc
        return [Subscription(i, agent_id, *_fields(texts[i])) for i in ids if i in texts]

    async def drop_agent(self, agent_id: str) -> int:
        table, order = _keys(agent_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hlen(table)
                pipe.delete(table, order)
                dropped, _ = await pipe.execute()
        except RedisError as exc:
            raise self._state.refused(exc) from exc
        return int(dropped)

    async def count(self) -> int:
        try:
            return int(await self._count())
        except RedisError as exc:
            raise self._state.refused(exc) from exc


def _keys(agent_id: str) -> list[str]:
    return [key_of("push", agent_id), key_of("pushorder", agent_id)]


def _fields(text: str) -> tuple[str, str, bytes, bytes]:
    """endpoint, origin, p256dh, auth of a stored subscription."""
    stored = json.loads(text)
    return stored["endpoint"], stored["origin"], _raw(stored["p256dh"]), _raw(stored["auth"])


class RedisAttention:
    """Whether each agent's app watches, from what every process reports."""

    shared = True

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self._redis = state.redis
        self.process = secrets.token_hex(6)  # this life of this process, in the counts
        self._open: dict[str, int] = {}  # agent -> WebSockets open here
        self._dirty: set[str] = set()  # agents whose count Redis has not seen yet
        self._wake = asyncio.Event()
        self._attended = self._redis.register_script(ATTENDED)
        self._visibility = self._redis.register_script(VISIBILITY)
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @property
    def _alive_key(self) -> str:
        return key_of("process", self.process)

    async def start(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self._alive()),
            asyncio.ensure_future(self._writer()),
        ]

    async def stop(self) -> None:
        """Stop renewing and writing (all a killed process does; `close` says so too)."""
        # The loops also stop at this flag: a cancellation that lands as a Redis command's
        # timeout expires can be taken for that timeout (Python 3.11), and a loop go on.
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)

    async def close(self) -> None:
        await self.stop()
        # Its WebSockets are closing with it: they stop counting at once, not at the expiry.
        with contextlib.suppress(RedisError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._redis.delete(self._alive_key)

    def readers_changed(self, agent_id: str, delta: int) -> None:
        self._open[agent_id] = self._open.get(agent_id, 0) + delta
        self._dirty.add(agent_id)
        self._wake.set()

    async def set_visible(self, agent_id: str, visible: bool) -> None:
        try:
            await self._visibility(keys=[key_of("session", agent_id)], args=[int(not visible)])
        except RedisError as exc:
            raise self._state.refused(exc) from exc

    async def attended(self, agent_id: str) -> bool:
        keys = [key_of("watching", agent_id), key_of("session", agent_id)]
        try:
            return bool(await self._attended(keys=keys))
        except RedisError as exc:
            raise self._state.refused(exc) from exc

    async def _alive(self) -> None:
        """This process's key, renewed like its leases: its counts count while it lives."""
        ttl = self._state.lease_ttl
        while not self._closed:
            with contextlib.suppress(RedisError):
                await self._redis.set(self._alive_key, "1", px=int(ttl * 1000))
            await asyncio.sleep(ttl / 3)

    async def _writer(self) -> None:
        """One task writes the counts (the latest of each agent's, in order); while Redis
        does not answer they wait here and are written when it is back."""
        delay = RETRY_MIN
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            agents, self._dirty = self._dirty, set()
            try:
                await self._write(agents)
            except RedisError as exc:
                self._dirty |= agents
                log.warning("WebSocket counts not written (%s); trying again", exc)
                await asyncio.sleep(delay)  # back-off while Redis does not answer
                delay = min(delay * 2, RETRY_MAX)
                self._wake.set()
                continue
            delay = RETRY_MIN

    async def _write(self, agents: set[str]) -> None:
        lifetime = int(self._state.token_ttl) + 1
        async with self._redis.pipeline(transaction=False) as pipe:
            for agent in agents:
                key = key_of("watching", agent)
                n = self._open.get(agent, 0)
                if n > 0:
                    pipe.hset(key, self.process, n)
                    pipe.expire(key, lifetime)
                else:
                    self._open.pop(agent, None)
                    pipe.hdel(key, self.process)
            await pipe.execute()
