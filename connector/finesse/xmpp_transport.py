"""Finesse notifications over XMPP: the `NotificationTransport` the connector uses today.

It knows where each node's notification service is (the configured XMPP options for the
primary node; SystemInfo's xmppDomain and the node's ports otherwise, docs/finesse.md, Sign-in and
presence), opens one `NotificationSession` per agent there, reports each session's connection, the
'finesse' user's presence and SystemInfo notifications to the `FinesseMonitor`, and moves
every open session to the new node on failover.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector.finesse.failover import Hosts
from connector.finesse.models import SystemInfo, Update
from connector.finesse.monitor import FinesseMonitor
from connector.finesse.notifications import NotificationListener
from connector.finesse.rest import Credentials
from connector.finesse.xmpp import (
    AUTH_RETRY_FOR,
    GIVE_UP_AFTER,
    NotificationSession,
    SessionState,
    TlsMode,
    XmppAuthError,
    XmppEndpoint,
)


@dataclass(frozen=True)
class XmppOptions:
    """The primary node's notification service as configured ("" / 0: from SystemInfo)."""

    host: str = ""
    port: int = 0
    domain: str = ""
    tls: TlsMode = TlsMode.PLAIN
    resource: str = "mobileagent"
    keepalive: float = 20.0
    auth_retry_for: float = AUTH_RETRY_FOR  # credentials refused at reconnect: retried this long
    give_up_after: float = GIVE_UP_AFTER  # unreachable this long: the session is closed


class XmppSession:
    """One agent's open XMPP notification session, as the agent side sees it; it relays the
    session's callbacks to the agent's listener and reports them to the monitor."""

    __slots__ = ("_listener", "_transport", "agent_id", "session")

    def __init__(self, transport: XmppTransport, agent_id: str, listener: NotificationListener):
        self._transport = transport
        self._listener = listener
        self.agent_id = agent_id
        self.session: NotificationSession | None = None

    @property
    def connected(self) -> bool:
        return self.session is not None and self.session.connected

    async def subscribe(self, node: str) -> None:
        assert self.session is not None
        await self.session.subscribe(node)

    async def stop(self) -> None:
        if self._transport._open.get(self.agent_id) is self:  # not a newer session's entry
            del self._transport._open[self.agent_id]
        if self.session is not None:
            await self.session.stop()

    def on_update(self, node: str, update: Update) -> None:
        if type(update.data) is SystemInfo:
            transport = self._transport
            transport._monitor.system_info(transport._base, update.data)
        self._listener.on_update(node, update)

    def on_connection(self, up: bool) -> None:
        transport = self._transport
        transport._monitor.notifications(transport._base, up)
        self._listener.on_connection(up)
        session = self.session
        if not up and session is not None and session.state is SessionState.FAILED:
            self._listener.on_closed(isinstance(session.failure, XmppAuthError))

    def on_finesse_presence(self, available: bool) -> None:
        transport = self._transport
        transport._monitor.finesse_presence(transport._base, available)
        self._listener.on_finesse_presence(available)

    async def may_reconnect(self) -> bool:
        return await self._listener.may_reconnect()


class XmppTransport:
    def __init__(
        self,
        options: XmppOptions,
        hosts: Hosts,
        monitor: FinesseMonitor,
        ssl_context: ssl.SSLContext,
        *,
        on_dropped: Callable[[], None] | None = None,
    ) -> None:
        self.options = options
        self._hosts = hosts
        self._monitor = monitor
        self._ssl_context = ssl_context
        # A notification not from the pubsub service was dropped (any agent's session).
        self._on_dropped = on_dropped
        self._endpoints: dict[str, XmppEndpoint] = {}
        self._open: dict[str, XmppSession] = {}
        self._base = hosts.active  # the node the sessions are on (or go to next)

    async def open(self, creds: Credentials, listener: NotificationListener) -> XmppSession:
        endpoint = await self.endpoint(self._hosts.active)
        opened = XmppSession(self, creds.agent_id, listener)
        session = NotificationSession(
            creds.agent_id,
            creds.password,
            endpoint,
            ssl_context=self._ssl_context,
            on_update=opened.on_update,
            on_connection=opened.on_connection,
            on_finesse_presence=opened.on_finesse_presence,
            on_dropped=self._on_dropped,
            may_reconnect=opened.may_reconnect,
            resource=self.options.resource,
            keepalive=self.options.keepalive,
            auth_retry_for=self.options.auth_retry_for,
            give_up_after=self.options.give_up_after,
        )
        opened.session = session
        await session.start()
        self._open[creds.agent_id] = opened
        return opened

    async def move_to(self, base_url: str) -> None:
        endpoint = await self.endpoint(base_url)
        self._base = base_url
        for opened in list(self._open.values()):
            if opened.session is not None:
                opened.session.move_to(endpoint)

    async def endpoint(self, base: str) -> XmppEndpoint:
        """Where the node at `base` has its notification service. The XMPP options
        configure the primary node; everything else comes from SystemInfo (xmppDomain, the
        node's ports), with the node's REST host as the host."""
        cached = self._endpoints.get(base)
        if cached is not None:
            return cached
        options = self.options
        tls = options.tls
        primary = base == self._hosts.nodes[0].base_url
        host = (options.host if primary else "") or (urlsplit(base).hostname or "127.0.0.1")
        domain = options.domain if primary else ""
        port = options.port if primary else 0
        node = self._hosts.node(base)
        if not (domain and port) and (node is None or not node.xmpp_domain):
            await self._monitor.probe(base)
            node = self._hosts.node(base)
        if node is not None:
            domain = domain or node.xmpp_domain
            port = port or (node.xmpp_secure_port if tls == TlsMode.DIRECT else node.xmpp_port)
        endpoint = XmppEndpoint(
            host=host,
            port=port or (5223 if tls == TlsMode.DIRECT else 5222),
            domain=domain or host,
            tls=tls,
            pubsub_domain=node.xmpp_pubsub_domain if node is not None else "",
        )
        self._endpoints[base] = endpoint
        return endpoint
