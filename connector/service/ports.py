"""What the service layer needs from the outside, as narrow interfaces.

`FinessePort` is the part of Finesse's REST API the agent use cases call
(`connector.finesse.rest.FinesseRest` is it); the notification transport's port is
`connector.finesse.notifications`; event sinks are `connector.stream.EventSink`; the state
store is `StatePort` (adapters in `connector/store/`). Tests and
new adapters implement these, not the whole connector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from connector.finesse.models import (
    Dialog,
    DialogRequest,
    MobileAgent,
    ReasonCode,
    User,
    WrapUpReason,
)
from connector.finesse.rest import Credentials
from connector.stream import EventSink, EventStream


class FinessePort(Protocol):
    async def get_user(self, creds: Credentials) -> User: ...

    async def get_dialogs(self, creds: Credentials) -> list[Dialog]: ...

    async def put_user(
        self,
        creds: Credentials,
        *,
        state: str,
        extension: str = "",
        reason_code_id: str = "",
        mobile_agent: MobileAgent | None = None,
        request_id: str | None = None,
    ) -> str: ...

    async def make_call(
        self,
        creds: Credentials,
        *,
        from_address: str,
        to_address: str,
        call_variables: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> str: ...

    async def dialog_action(
        self,
        creds: Credentials,
        dialog_id: str,
        request: DialogRequest,
        request_id: str | None = None,
    ) -> str: ...

    async def reason_codes(self, creds: Credentials, category: str) -> list[ReasonCode]: ...

    async def wrap_up_reasons(self, creds: Credentials) -> list[WrapUpReason]: ...


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A signed-in agent as the state store keeps it, to take it up again after a restart
    or in another process: how it signed in, its credentials (kept encrypted by a store
    that leaves the process), Finesse's User and Dialogs as last seen, and the newest
    frames of its event stream with their `seq`."""

    agent_id: str
    password: str = field(repr=False)
    extension: str
    mobile_mode: str  # "" for a state-only session
    dial_number: str
    user: User | None = None
    dialogs: tuple[Dialog, ...] = ()
    seq: int = 0  # the last seq the store holds
    frames: tuple[tuple[int, float, str], ...] = ()  # (seq, ts, text), oldest first


class StatePort(Protocol):
    """Where the connector keeps what must outlive one process: tokens (as hashes), the
    signed-in sessions, each agent's snapshot and event frames. `connector/store/` holds the
    adapters: in memory (nothing outlives the process) and Redis."""

    durable: bool  # True: sessions outlive the process and are taken up at start

    async def start(self) -> None: ...

    async def close(self) -> None:
        """Write what is queued (if the store answers), then let go."""

    def unavailable(self) -> str | None:
        """Why the store cannot take a new session now (None: it can)."""

    async def issue_token(self, agent_id: str) -> str: ...

    async def lookup_token(self, token: str) -> tuple[str | None, bool]:
        """(agent, False) for a live token; (None, True) the first time an expired one is
        presented; (None, False) for one never issued or revoked."""

    async def revoke_tokens(self, agent_id: str) -> None: ...

    async def save_session(self, session: StoredSession, live: LiveSession) -> None:
        """Keep a new session (durably, before its token is issued); `live` is read for
        the snapshot whenever the agent's frames are written."""

    async def save_sessions(self, sessions: list[tuple[StoredSession, LiveSession]]) -> None:
        """`save_session` of several at once (a take-up)."""

    def drop_session(self, agent_id: str) -> None:
        """The session is over: its tokens, session and snapshot go (after the frames
        already published are written); its stream stays a little while, for late readers."""

    async def stored_sessions(self) -> list[StoredSession]: ...

    def sink(self) -> EventSink | None:
        """The event sink that writes each agent's frames (None: nothing to write)."""

    # Several processes: each agent's notification session is held by one of them (a
    # lease); any of them serves any agent's requests.

    async def claim(self, agent_id: str) -> int | None:
        """Hold the agent here (a new sign-in), unless another process does (None); the
        seq its new stream goes on from (past a previous session's still readable frames)."""

    async def claim_stored(self) -> list[StoredSession]:
        """At start: the stored sessions this process may take up now (its own before a
        restart, and those nobody holds)."""

    def watch(
        self,
        on_lost: Callable[[str], None],
        on_orphans: Callable[[list[StoredSession]], None],
    ) -> None:
        """`on_lost(agent)`: another process holds the agent now: let it go here.
        `on_orphans(stored)`: sessions of a process that went, claimed here: take them up."""

    async def holds(self, agent_id: str) -> bool:
        """Whether this process still holds the agent, asked of the store now (before a
        notification session reconnects); one it lost is let go (`on_lost`) first."""

    async def load_session(self, agent_id: str) -> StoredSession | None:
        """A session held by another process, to serve a request for it."""

    async def follow(self, agent_id: str, mirror: EventStream) -> EventStream:
        """The agent's event stream as another process writes it, relayed into `mirror`
        (or the mirror already following it) while readers are attached."""


class LiveSession(Protocol):
    """What a store reads of a live agent session for its snapshot."""

    user: User | None
    dialogs: dict[str, Dialog]
