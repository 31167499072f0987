"""The embedded default: state in this process only (a laptop, `make demo`, one process).

Tokens live in a `Tokens` table; sessions, snapshots and frames are the live objects
themselves, so there is nothing to write and nothing to take up at start.
"""

from __future__ import annotations

from connector.service.ports import LiveSession, StoredSession
from connector.service.tokens import Tokens
from connector.stream import EventSink


class MemoryState:
    durable = False

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

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

    def drop_session(self, agent_id: str) -> None:
        self.tokens.revoke_agent(agent_id)

    async def stored_sessions(self) -> list[StoredSession]:
        return []

    def sink(self) -> EventSink | None:
        return None

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
