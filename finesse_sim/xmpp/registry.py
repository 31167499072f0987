"""Who is connected, under which full JID, and who is available for delivery.

All bookkeeping that spans sessions lives here, so that a session only reports its own
changes (`opened`, `bound`, `set_available`, `closed`) and the presence callback fires
exactly on a user's transitions: first available resource -> True, last one gone -> False,
never twice in a row with the same value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .pubsub import PubSub

if TYPE_CHECKING:
    from .session import C2SSession

log = logging.getLogger("finesse_sim.xmpp")


class SessionRegistry:
    def __init__(
        self,
        *,
        pubsub: PubSub,
        on_presence: Callable[[str, bool], None],
        auto_nodes: Callable[[str], Iterable[str]],
    ) -> None:
        self._pubsub = pubsub
        self._on_presence = on_presence
        self._auto_nodes = auto_nodes
        self.connections: set[C2SSession] = set()  # every live session, bound or not
        # ... plus those closing but not yet closed (their transport still has to go away)
        self.alive: set[C2SSession] = set()
        self.by_full_jid: dict[str, C2SSession] = {}
        self.by_user: dict[str, set[C2SSession]] = {}  # bound sessions per user
        # Sessions that receive notifications: available presence with priority >= 0. The
        # fan-out loop reads this directly, so it holds only non-empty sets.
        self.available: dict[str, set[C2SSession]] = {}

    def opened(self, session: C2SSession) -> None:
        self.connections.add(session)
        self.alive.add(session)

    def lost(self, session: C2SSession) -> None:
        """The transport is gone (always after `closed`)."""
        self.alive.discard(session)

    def bind(self, session: C2SSession) -> None:
        """Register a session under its full JID; an older holder of that JID is kicked."""
        old = self.by_full_jid.get(session.full_jid)
        if old is not None and old is not session:
            log.info("%s: resource conflict, closing the older session", session.full_jid)
            old.close_with_error("conflict", "replaced by a new connection")
        self.by_full_jid[session.full_jid] = session
        self.by_user.setdefault(session.user, set()).add(session)
        try:
            nodes = list(self._auto_nodes(session.user))
        except Exception:
            log.warning("auto_nodes(%r) failed", session.user, exc_info=True)
            nodes = []
        self._pubsub.set_auto(session.user, nodes)

    def set_available(self, session: C2SSession, available: bool) -> None:
        user = session.user
        sessions = self.available.get(user)
        was_up = bool(sessions)
        if available:
            if sessions is None:
                sessions = self.available[user] = set()
            sessions.add(session)
        elif sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.available[user]
        is_up = user in self.available
        if is_up != was_up:
            log.debug("user %s %s", user, "available" if is_up else "unavailable")
            try:
                self._on_presence(user, is_up)
            except Exception:
                log.warning("on_presence(%r, %s) failed", user, is_up, exc_info=True)

    def closed(self, session: C2SSession) -> None:
        """Forget a connection (idempotent). Runs synchronously when a session ends, so a
        replacement or a presence callback never sees a dead session."""
        self.connections.discard(session)
        if not session.bound:
            return
        self.set_available(session, False)
        if self.by_full_jid.get(session.full_jid) is session:
            del self.by_full_jid[session.full_jid]
        sessions = self.by_user.get(session.user)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.by_user[session.user]
                self._pubsub.clear_auto(session.user)

    def bound_count(self) -> int:
        return len(self.by_full_jid)
