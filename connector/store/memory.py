"""The embedded default: state in this process only (a laptop, `make demo`, one process).

Tokens live in a `Tokens` table; sessions, snapshots and frames are the live objects
themselves, so there is nothing to write and nothing to take up at start.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.service.ports import LiveSession, StoredSession
from connector.service.tokens import Tokens
from connector.stream import EventSink, EventStream


class MemoryState:
    durable = False

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    @property
    def token_ttl(self) -> float:
        return self.tokens.ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.tokens.ttl = seconds

    def unavailable(self) -> str | None:
        return None

    async def issue_token(self, agent_id: str) -> str:
        return self.tokens.issue(agent_id)

    async def lookup_token(self, token: str) -> tuple[str | None, bool]:
        return self.tokens.lookup(token)

    async def revoke_tokens(self, agent_id: str) -> None:
        self.tokens.revoke_agent(agent_id)

    async def save_session(self, session: StoredSession, live: LiveSession) -> None:
        pass

    async def save_sessions(self, sessions: list[tuple[StoredSession, LiveSession]]) -> None:
        pass

    def drop_session(self, agent_id: str) -> None:
        self.tokens.revoke_agent(agent_id)

    async def stored_sessions(self) -> list[StoredSession]:
        return []

    def sink(self) -> EventSink | None:
        return None

    # One process holds every agent: nothing to claim from anyone.

    async def claim(self, agent_id: str) -> int | None:
        return 0

    async def claim_stored(self) -> list[StoredSession]:
        return []

    def watch(
        self,
        on_lost: Callable[[str], None],
        on_orphans: Callable[[list[StoredSession]], None],
    ) -> None:
        pass

    async def holds(self, agent_id: str) -> bool:
        return True

    async def load_session(self, agent_id: str) -> StoredSession | None:
        return None

    async def follow(self, agent_id: str, mirror: EventStream) -> EventStream:
        return mirror

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
