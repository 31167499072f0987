"""The browsers' push subscriptions, per agent: behind `Subscriptions`, so that a shared
store (Redis: connector/store/redis_push.py) can hold them when the connector runs as
several processes.

The interface is asynchronous for that reason. A store need not keep the order of calls
made at once (a pool of connections): the notifier itself drops an agent's subscriptions
only after the reads under way (the forced-logout push is read before they go).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    agent_id: str
    endpoint: str
    origin: str  # the push service's origin: the VAPID audience
    p256dh: bytes  # the browser's public key, uncompressed P-256 (65 bytes)
    auth: bytes  # the browser's auth secret (16 bytes)


def new_id() -> str:
    return secrets.token_urlsafe(12)


class Subscriptions(Protocol):
    async def add(self, subscription: Subscription, limit: int) -> Subscription:
        """Keep `subscription`; the same endpoint again replaces the old one and keeps its
        id (the answer says which). Past `limit` for the agent, the oldest goes."""
        ...

    async def remove(self, agent_id: str, subscription_id: str) -> bool: ...

    async def for_agent(self, agent_id: str) -> list[Subscription]: ...

    async def drop_agent(self, agent_id: str) -> int: ...

    async def count(self) -> int: ...


class MemorySubscriptions:
    """In this process: an agent's subscriptions in the order they came (oldest first)."""

    def __init__(self) -> None:
        self._by_agent: dict[str, dict[str, Subscription]] = {}
        self._total = 0

    async def add(self, subscription: Subscription, limit: int) -> Subscription:
        mine = self._by_agent.setdefault(subscription.agent_id, {})
        for old in list(mine.values()):
            if old.endpoint == subscription.endpoint:
                del mine[old.id]
                self._total -= 1
                subscription = dataclasses.replace(subscription, id=old.id)
        while len(mine) >= limit:
            del mine[next(iter(mine))]
            self._total -= 1
        mine[subscription.id] = subscription
        self._total += 1
        return subscription

    async def remove(self, agent_id: str, subscription_id: str) -> bool:
        mine = self._by_agent.get(agent_id, {})
        if mine.pop(subscription_id, None) is None:
            return False
        self._total -= 1
        if not mine:
            del self._by_agent[agent_id]
        return True

    async def for_agent(self, agent_id: str) -> list[Subscription]:
        return list(self._by_agent.get(agent_id, {}).values())

    async def drop_agent(self, agent_id: str) -> int:
        dropped = len(self._by_agent.pop(agent_id, {}))
        self._total -= dropped
        return dropped

    async def count(self) -> int:
        return self._total
