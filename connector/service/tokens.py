"""Session tokens: random, expiring, never derived from the password."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Grant:
    agent_id: str
    expires: float


class Tokens:
    def __init__(self, ttl: float = 12 * 3600, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def issue(self, agent_id: str) -> str:
        if len(self._grants) % 1024 == 0:
            self._forget_expired()  # tokens never presented again: bounded, amortised
        token = secrets.token_urlsafe(32)
        self._grants[token] = Grant(agent_id, self._clock() + self.ttl)
        return token

    def agent_of(self, token: str) -> str | None:
        """The agent a live token belongs to; None if it is unknown or expired."""
        agent_id, _ = self.lookup(token)
        return agent_id

    def lookup(self, token: str) -> tuple[str | None, bool]:
        """(the agent, False) for a live token; (None, True) the first time an expired one
        is presented (then it is forgotten); (None, False) for a token never issued or
        revoked."""
        grant = self._grants.get(token)
        if grant is None:
            return None, False
        if self._clock() >= grant.expires:
            del self._grants[token]
            return None, True
        return grant.agent_id, False

    def _forget_expired(self) -> None:
        now = self._clock()
        for token in [t for t, g in self._grants.items() if now >= g.expires]:
            del self._grants[token]

    def revoke_agent(self, agent_id: str) -> int:
        gone = [t for t, g in self._grants.items() if g.agent_id == agent_id]
        for token in gone:
            del self._grants[token]
        return len(gone)

    def __len__(self) -> int:
        return len(self._grants)
