"""Whether an agent's app is watching its events: the fact that decides a push.

The app watches while it has a live event WebSocket and has not said it went to the
background (`PUT /app-state {"visible": false}`). With one process, the agent's event
stream knows both (its readers, its `visible` flag) and decides at publish time: the push
notifier is then an `unattended_only` sink. With several processes the app's WebSocket and
its requests may reach any of them, while the push is decided by the one holding the
agent's notification session: the facts are kept in the shared store (`shared`), every
process reports its readers there, and the notifier asks it before each push
(`connector/store/redis_push.py`).
"""

from __future__ import annotations

from typing import Protocol


class Attention(Protocol):
    shared: bool  # True: the facts live in a shared store; the notifier asks `attended`

    def readers_changed(self, agent_id: str, delta: int) -> None:
        """A WebSocket of the agent's stream opened (+1) or closed (-1) in this process.
        Called on the event loop at attach and detach; must not block."""

    async def set_visible(self, agent_id: str, visible: bool) -> None:
        """The app is on screen or in the background (said to any process)."""

    async def attended(self, agent_id: str) -> bool:
        """Whether the app watches now: a live WebSocket in any process, and on screen."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalAttention:
    """One process: the agent's event stream holds the facts and makes the decision (the
    notifier only hears of frames nobody watches)."""

    shared = False

    def readers_changed(self, agent_id: str, delta: int) -> None:
        pass

    async def set_visible(self, agent_id: str, visible: bool) -> None:
        pass

    async def attended(self, agent_id: str) -> bool:
        return False  # the stream told the notifier only of unattended frames

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
