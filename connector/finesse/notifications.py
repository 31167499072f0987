"""The notification transport port: how one agent's Finesse notifications reach the connector.

Finesse pushes every change (User, Dialogs, SystemInfo, errors) over a notification
session per agent: XMPP today (`xmpp_transport.XmppTransport` over `xmpp.NotificationSession`);
Finesse's WebSocket notifications would be a second implementation of `NotificationTransport`
in a module of its own, chosen in `connector/runtime.py`. The agent side (the service
layer's `AgentLink`) sees only `NotificationListener` and `Notifications`: no JIDs, no
endpoints, no failover bookkeeping (the transport reports its connection, the 'finesse'
user's presence and SystemInfo to the `FinesseMonitor` itself).
"""

from __future__ import annotations

from typing import Protocol

from connector.finesse.models import Update
from connector.finesse.rest import Credentials


class NotificationListener(Protocol):
    """What one agent's notification session tells its owner. Called on the event loop,
    synchronously; must not block."""

    def on_update(self, node: str, update: Update) -> None:
        """Every notification, in arrival order."""

    def on_connection(self, up: bool) -> None:
        """The session is up (after start and after every reconnect: re-GET what is
        mirrored, Finesse keeps nothing for a client that was away) or was lost."""

    def on_finesse_presence(self, available: bool) -> None:
        """The 'finesse' user's presence changed (its webapp went down or came back)."""

    def on_closed(self, credentials_refused: bool) -> None:
        """The session gave up for good: the credentials were refused (for longer than a
        lock-out lasts) or the service stayed unreachable. Nothing more will arrive."""

    async def may_reconnect(self) -> bool:
        """Asked before each reconnect (and resubscribe) of a lost session: False gives it
        up instead, e.g. another connector process holds the agent now (a reconnect from
        here would replace that process's session at Finesse)."""
        ...


class Notifications(Protocol):
    """One agent's open notification session."""

    @property
    def connected(self) -> bool: ...

    async def subscribe(self, node: str) -> None:
        """An explicit subscription (e.g. a team's users), kept across reconnects."""

    async def stop(self) -> None:
        """Unsubscribe, go offline and close; no reconnect afterwards."""


class NotificationTransport(Protocol):
    """A kind of notification session, for every agent of one connector."""

    async def open(self, creds: Credentials, listener: NotificationListener) -> Notifications:
        """A started session for `creds` (up when this returns), or a `FinesseError`."""

    async def move_to(self, base_url: str) -> None:
        """Failover: every open session goes to the Finesse node at `base_url`."""
