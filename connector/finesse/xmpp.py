"""One agent's notification session with the Finesse notification service (XMPP).

What Finesse asks of a client (docs/finesse.md), and how this module does it:

* SASL PLAIN as `<agentId>@<xmppDomain>` with the REST password (5.2), over plaintext,
  STARTTLS or direct TLS as configured. STARTTLS is required once chosen: a server that
  does not offer it is refused before any credential is sent. Certificates are checked by
  the shared context of `connector.finesse.tls`.
* A resource of our own, never `desktop` (the Finesse desktop's), and presence with
  priority 0 right after the session starts (5.2), after every reconnect too.
* Notifications are pubsub event messages without `<body>` or `type` (5.4), believed only
  from the pubsub service's JID (the server stamps `from` on whatever a user sends, and a
  stock Openfire routes messages between users: another agent could otherwise forge this
  agent's events). Others are dropped, counted (`dropped`, `on_dropped`) and logged once per
  sender. The stream hands each parsed `<message>` straight to `_take` (the hot path), and
  each `<notification>` is parsed by `codec.parse_update`. A bad one is logged and skipped;
  it never ends the session.
* Explicit subscriptions use the full JID (5.3) and are remembered: they are restored
  after a reconnect and removed by `stop()`, since leftovers persist on the node. The
  subscribe and unsubscribe requests are plain XEP-0060 iq stanzas.
* XEP-0199 keepalive: a task per connection pings the server every `keepalive` seconds,
  and a ping that times out counts as a lost connection. The server's own pings are
  answered by the stream.
* Any loss is followed by reconnection with exponential backoff and full jitter, capped far
  below the 60 s after which Finesse logs an agent without presence out (7.4). After it,
  presence and subscriptions are restored and `on_connection(True)` tells the caller to
  re-GET the User and Dialogs: Finesse has no stream resumption. A stream error ends the
  connection the same way; a `see-other-host` redirect is not followed (the session
  reconnects where it decides: `move_to`).
* The presence of `finesse@<domain>` (5.6, 7.2), from that user only, is reported to the
  caller.

The XMPP itself (connect, TLS, SASL PLAIN, bind, iq requests, the stream reader) is
`connector.finesse.xmpp_stream.XmppStream`, a small client of our own that does what this
session needs and nothing more; each connection attempt gets a new one, and only the SSL
context is shared. The password is kept in memory for reconnects and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from xml.sax.saxutils import quoteattr

from connector.finesse import codec
from connector.finesse.models import Update
from connector.finesse.safexml import FinesseXmlError
from connector.finesse.xmpp_stream import (
    NS_PING,
    StanzaError,
    TlsMode,
    XmppAuthError,
    XmppConnectError,
    XmppError,
    XmppStream,
    XmppTlsError,
    short,
)

__all__ = [
    "DESKTOP_RESOURCE",
    "MAX_RECONNECT_DELAY",
    "NotificationSession",
    "SessionState",
    "TlsMode",
    "XmppAuthError",
    "XmppConnectError",
    "XmppEndpoint",
    "XmppError",
    "XmppSubscriptionError",
    "XmppTlsError",
    "backoff_delay",
]

log = logging.getLogger("connector.finesse.xmpp")

DESKTOP_RESOURCE = "desktop"  # the Finesse desktop's resource: never ours
# Finesse logs an agent out 60 s after its presence goes (docs/finesse.md, Forced logout); the
# longest pause between reconnect attempts stays at half of that.
MAX_RECONNECT_DELAY = 30.0
# Credentials refused while reconnecting are retried this long (a Finesse lock-out lasts
# 5 minutes, docs/finesse.md, REST basics), at the slowest backoff; an unreachable notification
# service, this long before the session gives up (Finesse has logged the agent out long before).
AUTH_RETRY_FOR = 360.0
GIVE_UP_AFTER = 600.0
# Senders of dropped notifications are logged once each, for this many senders per process:
# a flood from many accounts cannot flood the log or grow the set.
_MAX_LOGGED_SENDERS = 100
_FINESSE_USER = "finesse"

_NS_CLIENT = "jabber:client"
_MESSAGE = f"{{{_NS_CLIENT}}}message"
_PRESENCE = f"{{{_NS_CLIENT}}}presence"
_PING_PAYLOAD = f"<ping xmlns='{NS_PING}'/>"
_PRESENCE_AVAILABLE = "<presence><priority>0</priority></presence>"  # priority 0 (5.2)
_NS_EVENT = "http://jabber.org/protocol/pubsub#event"
_EVENT = f"{{{_NS_EVENT}}}event"
_ITEMS = f"{{{_NS_EVENT}}}items"
_ITEM = f"{{{_NS_EVENT}}}item"
_NS_PUBSUB = "http://jabber.org/protocol/pubsub"
_PUBSUB = f"{{{_NS_PUBSUB}}}pubsub"
_NOTIFICATION = f"{{{_NS_PUBSUB}}}notification"

_logged_senders: set[str] = set()  # bare JIDs whose dropped notifications were logged


class XmppSubscriptionError(XmppError):
    """The pubsub service refused a subscribe or unsubscribe."""

    def __init__(self, message: str, *, node: str, condition: str = "") -> None:
        self.node = node
        self.condition = condition
        super().__init__(message)


# --- configuration -----------------------------------------------------------------------


@dataclass(frozen=True)
class XmppEndpoint:
    """Where a side's notification service is: the host to connect to, its port, and the
    XMPP domain (SystemInfo `xmppDomain`, the Finesse FQDN, also the name the TLS
    certificate is checked against). `pubsub_domain` is SystemInfo `xmppPubSubDomain`;
    empty means `pubsub.<domain>` (docs/finesse.md, Sign-in and presence)."""

    host: str
    port: int
    domain: str
    tls: TlsMode = TlsMode.PLAIN
    pubsub_domain: str = ""

    @property
    def pubsub_jid(self) -> str:
        return self.pubsub_domain or f"pubsub.{self.domain}"


class SessionState(StrEnum):
    IDLE = "idle"  # not started, or start() failed
    CONNECTING = "connecting"  # inside start()
    UP = "up"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # gave up (credentials refused, or unreachable, too long); see `failure`
    STOPPED = "stopped"


def backoff_delay(
    failures: int, low: float, high: float, rand: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds to wait before the next attempt, after `failures` failed ones in a row.

    Exponential backoff with full jitter: uniform between `low` and a ceiling that doubles
    with each failure, from 2 x `low` up to `high`. Even the first wait is jittered, so a
    server restart does not bring every agent back in the same millisecond.
    """
    ceiling = min(high, low * 2.0 ** min(failures + 1, 32))
    return rand(low, max(low, ceiling))


# --- one connection ---------------------------------------------------------------------


class _Connection:
    """One connection attempt and, if it succeeds, the connection: its stream (a new one for
    every attempt, so nothing of an old connection can be mistaken for a new one's), where
    it goes, and the keepalive task that runs while it is up."""

    __slots__ = ("endpoint", "keepalive", "pubsub_jid", "stream")

    def __init__(self, stream: XmppStream, endpoint: XmppEndpoint) -> None:
        self.stream = stream
        self.endpoint = endpoint
        self.pubsub_jid = endpoint.pubsub_jid  # computed once: compared with every message
        self.keepalive: asyncio.Task[None] | None = None  # from the session's start on

    def fail(self, exc: XmppError) -> None:
        """Settle the attempt with `exc` unless it is already settled (first cause wins),
        and drop the connection."""
        self.stream.fail(exc)


def _retire(conn: _Connection) -> None:
    """Drop a connection for good: no socket, no background task, nobody left waiting on
    it."""
    conn.fail(XmppConnectError("connection dropped"))
    _stop_keepalive(conn)


def _stop_keepalive(conn: _Connection) -> None:
    task, conn.keepalive = conn.keepalive, None
    if task is not None and task is not asyncio.current_task():
        task.cancel()


def _is_user(jid: str | None, local: str, domain: str) -> bool:
    """`jid` is `local@domain` (any resource) as a server stamps it: the local part exactly,
    the domain in any case (domains are case-insensitive; the server writes local parts in
    their canonical form)."""
    if not jid:
        return False
    user, at, rest = jid.partition("@")
    return bool(at) and user == local and rest.partition("/")[0].lower() == domain.lower()


# --- the session -------------------------------------------------------------------------


class NotificationSession:
    """A Finesse notification session for one agent, kept up until `stop()`.

    Callbacks run on the event loop, synchronously, and must not block; an exception in
    one is logged and does not affect the session.

    * `on_update(node, update)`: every notification, in arrival order.
    * `on_connection(True)`: the session is up, presence sent and explicit subscriptions
      restored, after `start()` and after every reconnect; the caller then re-GETs what it
      mirrors. `on_connection(False)`: the connection was lost (reconnection has begun),
      and once more if the session gives up for good (`state` FAILED, `failure` says why:
      credentials refused for `auth_retry_for` seconds, or no connection for
      `give_up_after`).
      `stop()` reports nothing.
    * `on_finesse_presence(available)`: the presence of `finesse@<domain>` when it
      changes; after a reconnect the first one seen is always reported.
    * `on_dropped()`: a pubsub event message not from the pubsub service was dropped
      (also counted in `dropped`).
    * `may_reconnect()` (awaited): asked before each reconnect attempt; False gives the
      session up instead (`stop()`, nothing reported): its owner no longer holds it.
    """

    def __init__(
        self,
        agent_id: str,
        password: str,
        endpoint: XmppEndpoint,
        *,
        ssl_context: ssl.SSLContext,
        on_update: Callable[[str, Update], None],
        on_connection: Callable[[bool], None] | None = None,
        on_finesse_presence: Callable[[bool], None] | None = None,
        on_dropped: Callable[[], None] | None = None,
        may_reconnect: Callable[[], Awaitable[bool]] | None = None,
        resource: str = "mobileagent",
        keepalive: float = 20.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 10.0,
        connect_timeout: float = 10.0,
        auth_retry_for: float = AUTH_RETRY_FOR,
        give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        if not agent_id or any(c in agent_id for c in "@/ \t\r\n"):
            raise ValueError(f"not an agent id usable as a JID local part: {agent_id!r}")
        if not resource or "/" in resource:
            raise ValueError(f"invalid resource {resource!r}")
        if resource.casefold() == DESKTOP_RESOURCE:
            raise ValueError("the resource 'desktop' belongs to the Finesse desktop")
        if keepalive <= 0 or connect_timeout <= 0:
            raise ValueError("keepalive and connect_timeout must be positive")
        if not 0 < reconnect_min <= reconnect_max <= MAX_RECONNECT_DELAY:
            raise ValueError(
                "need 0 < reconnect_min <= reconnect_max <= "
                f"{MAX_RECONNECT_DELAY} s (Finesse logs agents out after 60 s without presence)"
            )
        self.agent_id = agent_id
        self._password = password
        self._endpoint = endpoint
        self._ssl_context = ssl_context
        self._on_update = on_update
        self._on_connection = on_connection
        self._on_finesse_presence = on_finesse_presence
        self._on_dropped = on_dropped
        self._may_reconnect = may_reconnect
        self._resource = resource
        self._keepalive = keepalive
        self._ping_timeout = min(10.0, keepalive / 2)
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._connect_timeout = connect_timeout
        self._auth_retry_for = auth_retry_for
        self._give_up_after = give_up_after

        self.reconnects = 0
        self.dropped = 0  # notifications refused: not from the pubsub service
        self.failure: XmppError | None = None
        self._state = SessionState.IDLE
        self._conn: _Connection | None = None
        self._subscriptions: dict[str, None] = {}  # an ordered set of explicit nodes
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._skip_backoff = False
        self._finesse_seen: bool | None = None
        self._finesse_reported: bool | None = None

    def __repr__(self) -> str:
        return f"<NotificationSession {self.agent_id}@{self._endpoint.domain} {self._state}>"

    # --- public state ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._state is SessionState.UP

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def endpoint(self) -> XmppEndpoint:
        """Where the session is, or goes at the next (re)connect."""
        return self._endpoint

    @property
    def jid(self) -> str:
        """The full JID of the current connection (as bound by the server when it is up)."""
        if self._conn is not None and self._conn.stream.jid:
            return self._conn.stream.jid
        return f"{self.agent_id}@{self._endpoint.domain}/{self._resource}"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Explicit subscriptions, in the order they were made."""
        return tuple(self._subscriptions)

    @property
    def finesse_available(self) -> bool | None:
        """The last presence seen from `finesse@<domain>` on this connection, or None."""
        return self._finesse_seen

    @property
    def xmpp(self) -> XmppStream | None:
        """The XMPP stream of the current connection (diagnostics and tests)."""
        return self._conn.stream if self._conn is not None else None

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, authenticate, bind, start the session and send presence (priority 0).

        Returns once the session is up. Raises `XmppAuthError` when the credentials are
        refused and `XmppConnectError` (`XmppTlsError` for TLS failures) when no session
        could be set up within `connect_timeout`. Nothing is retried here: the caller
        decides (e.g. the other Finesse side); `start()` may then be called again.
        """
        if self._state is not SessionState.IDLE:
            raise RuntimeError(f"start() in state {self._state}")
        self._state = SessionState.CONNECTING
        try:
            await self._connect()
        except BaseException:
            if self._state is SessionState.CONNECTING:
                self._state = SessionState.IDLE
            raise
        if self._state is not SessionState.CONNECTING:  # stop() ran meanwhile
            raise XmppConnectError("stopped while starting")
        self._state = SessionState.UP
        log.info("%s: notification session up at %s", self.jid, self._where())
        self._report_connection(True)
        self._report_finesse()

    async def stop(self) -> None:
        """Remove the explicit subscriptions, send unavailable presence, close the stream;
        no reconnect afterwards. Safe to call in any state, more than once."""
        if self._state is SessionState.STOPPED:
            return
        was_up = self._state is SessionState.UP
        self._state = SessionState.STOPPED
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        conn, self._conn = self._conn, None
        try:
            if conn is not None and was_up and not conn.stream.closed.done():
                await self._close_gracefully(conn)
            elif self._subscriptions:
                log.warning(
                    "%s: stopped while disconnected; explicit subscriptions left on the server: %s",
                    self.jid,
                    ", ".join(self._subscriptions),
                )
        finally:
            if conn is not None:
                _retire(conn)
            self._subscriptions.clear()

    async def _close_gracefully(self, conn: _Connection) -> None:
        stream = conn.stream
        timeout = self._connect_timeout
        nodes = list(self._subscriptions)
        if nodes:
            results = await asyncio.gather(
                *(self._unsubscribe_iq(conn, node) for node in nodes), return_exceptions=True
            )
            for node, result in zip(nodes, results, strict=True):
                if isinstance(result, Exception):
                    log.warning("%s: could not unsubscribe %s: %s", self.jid, node, result)
        stream.send("<presence type='unavailable'/>")
        await stream.close(min(timeout, 2.0))
        log.info("%s: notification session stopped", self.jid)

    def move_to(self, endpoint: XmppEndpoint) -> None:
        """Fail over: the next (re)connect goes to `endpoint`. A live connection, or a
        reconnect attempt under way, is dropped now and the session reconnects there
        without waiting. Inside `start()`, the attempt fails with `XmppConnectError`; call
        `start()` again."""
        if self._state is SessionState.STOPPED:
            raise RuntimeError("move_to() after stop()")
        old, self._endpoint = self._endpoint, endpoint
        log.info("%s: moving from %s to %s", self.agent_id, self._where(old), self._where())
        conn = self._conn
        if self._state is SessionState.UP:
            self._skip_backoff = True
            if conn is not None:
                conn.stream.abort(f"moving to {self._where()}")  # -> _lost() -> reconnect
        elif self._state in (SessionState.RECONNECTING, SessionState.CONNECTING):
            self._skip_backoff = True
            self._wake.set()
            if conn is not None and not conn.stream.ready:
                conn.fail(XmppConnectError(f"moved to {self._where()}"))

    # --- subscriptions ---------------------------------------------------------------------

    async def subscribe(self, node: str) -> None:
        """Subscribe explicitly (e.g. `/finesse/api/Team/{id}/Users`), with the full JID.

        The subscription is remembered and restored after reconnects. While disconnected
        it is only remembered, and made at the next reconnect. Raises
        `XmppSubscriptionError` if the service refuses it (then it is not remembered) and
        `XmppConnectError` if the connection is lost before the answer (it stays
        remembered)."""
        if self._state in (SessionState.STOPPED, SessionState.FAILED):
            raise RuntimeError(f"subscribe() in state {self._state}")
        if node in self._subscriptions:
            return
        self._subscriptions[node] = None
        conn = self._conn
        if self._state is not SessionState.UP or conn is None:
            return
        try:
            await self._subscribe_iq(conn, node)
        except XmppSubscriptionError:
            self._subscriptions.pop(node, None)
            raise

    async def unsubscribe(self, node: str) -> None:
        """Remove an explicit subscription. Forgotten at once; the server is told when
        connected (a node the server no longer has for us counts as done)."""
        if node not in self._subscriptions:
            return
        del self._subscriptions[node]
        conn = self._conn
        if self._state is SessionState.UP and conn is not None:
            await self._unsubscribe_iq(conn, node)

    async def _pubsub_request(self, conn: _Connection, op: str, node: str) -> None:
        """Send `<iq type='set' to='<pubsub service>'><pubsub xmlns=...><{op} node=...
        jid='<our full JID>'/></pubsub></iq>` (XEP-0060 6.1 and 6.2; docs/finesse.md,
        Subscriptions) and wait for its answer: `StanzaError` if refused, XmppConnectError
        if the connection is lost or no answer comes within the connect timeout."""
        stream = conn.stream
        payload = (
            f"<pubsub xmlns='{_NS_PUBSUB}'><{op} node={quoteattr(node)}"
            f" jid={quoteattr(stream.jid)}/></pubsub>"
        )
        await stream.request("set", conn.pubsub_jid, payload, self._connect_timeout)

    async def _subscribe_iq(self, conn: _Connection, node: str) -> None:
        try:
            await self._pubsub_request(conn, "subscribe", node)
        except StanzaError as exc:
            raise XmppSubscriptionError(
                f"subscription to {node} refused: {exc.condition or 'error'}",
                node=node,
                condition=exc.condition,
            ) from None
        log.debug("%s: subscribed to %s", conn.stream.jid, node)

    async def _unsubscribe_iq(self, conn: _Connection, node: str) -> None:
        try:
            await self._pubsub_request(conn, "unsubscribe", node)
        except StanzaError as exc:
            if exc.condition == "unexpected-request":  # XEP-0060 6.2.3.2: not subscribed
                return
            raise XmppSubscriptionError(
                f"unsubscribe from {node} refused: {exc.condition or 'error'}",
                node=node,
                condition=exc.condition,
            ) from None

    async def _restore_subscriptions(self, conn: _Connection) -> None:
        """Make every remembered subscription again on a new connection. A refusal drops
        that node (logged); a lost connection fails the attempt."""
        restored: set[str] = set()
        while nodes := [n for n in self._subscriptions if n not in restored]:
            # Again for nodes that subscribe() added while the previous round was out.
            restored.update(nodes)
            results = await asyncio.gather(
                *(self._subscribe_iq(conn, node) for node in nodes), return_exceptions=True
            )
            for node, result in zip(nodes, results, strict=True):
                if isinstance(result, XmppSubscriptionError):
                    log.error("%s: subscription to %s not restored: %s", self.jid, node, result)
                    self._subscriptions.pop(node, None)
                elif isinstance(result, BaseException):
                    raise result

    # --- connecting ------------------------------------------------------------------------

    def _where(self, endpoint: XmppEndpoint | None = None) -> str:
        ep = endpoint or self._endpoint
        return f"{ep.host}:{ep.port} ({ep.domain}, {ep.tls})"

    def _build(self, endpoint: XmppEndpoint) -> _Connection:
        stream = XmppStream(
            self.agent_id,
            self._password,
            endpoint.domain,
            self._resource,
            tls=endpoint.tls,
            ssl_context=self._ssl_context,
            take=lambda xml: False,
        )
        conn = _Connection(stream, endpoint)
        stream.take = lambda xml: self._take(conn, xml)
        stream.on_close = lambda reason: self._on_disconnected(conn, reason)
        return conn

    async def _connect(self) -> None:
        """One attempt at the current endpoint: returns with the connection in place,
        presence sent and subscriptions restored, or raises an XmppError."""
        endpoint = self._endpoint
        conn = self._build(endpoint)
        stream = conn.stream
        self._conn = conn
        self._finesse_seen = self._finesse_reported = None
        log.debug("%s: connecting to %s", self.agent_id, self._where(endpoint))
        try:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await stream.open(endpoint.host, endpoint.port)
                    if endpoint.tls is not TlsMode.PLAIN and not stream.encrypted:
                        raise XmppTlsError("session started without TLS")
                    stream.send(_PRESENCE_AVAILABLE)
                    conn.keepalive = asyncio.ensure_future(self._keep_alive(conn))
                    await self._restore_subscriptions(conn)
            except TimeoutError:
                raise XmppConnectError(
                    f"no session with {self._where(endpoint)} within {self._connect_timeout} s"
                ) from None
            if stream.closed.done():
                raise XmppConnectError("connection closed while the session was set up")
        except BaseException:
            _retire(conn)
            if self._conn is conn:
                self._conn = None
            raise

    # --- what the stream reports (synchronously, on the loop) ------------------------------

    def _on_disconnected(self, conn: _Connection, reason: str) -> None:
        _stop_keepalive(conn)
        if conn is self._conn and self._state is SessionState.UP:
            self._lost(conn, reason)

    def _take(self, conn: _Connection, xml: ET.Element) -> bool:
        """Every `<message>` and `<presence>` off the stream. True for what is consumed here
        (notifications, the finesse user's presence); the rest is ignored by the stream."""
        try:
            if xml.tag == _MESSAGE:
                event = xml.find(_EVENT)
                if event is not None and xml.get("type") != "error":
                    # Only the pubsub service publishes: one comparison on the hot path,
                    # the case-insensitive one only for what fails it.
                    sender = xml.get("from")
                    if sender != conn.pubsub_jid and not self._from_pubsub(conn, sender):
                        return True
                    if conn is self._conn:
                        self._deliver(event)
                    return True
            elif xml.tag == _PRESENCE and _is_user(
                xml.get("from"), _FINESSE_USER, conn.endpoint.domain
            ):
                ptype = xml.get("type")
                if ptype in (None, "available", "unavailable") and conn is self._conn:
                    self._finesse_presence(ptype != "unavailable")
                return True
        except Exception:
            log.exception("%s: error handling an incoming stanza", self.agent_id)
            return True
        return False

    def _from_pubsub(self, conn: _Connection, sender: str | None) -> bool:
        """True if `sender` is the pubsub service after all (its domain in another case);
        otherwise the notification is dropped: counted, reported, its sender logged once."""
        if sender is not None and sender.lower() == conn.pubsub_jid.lower():
            return True
        self.dropped += 1
        bare = (sender or "").partition("/")[0].lower()
        if bare not in _logged_senders and len(_logged_senders) <= _MAX_LOGGED_SENDERS:
            _logged_senders.add(bare)
            if len(_logged_senders) > _MAX_LOGGED_SENDERS:
                log.warning("dropping notifications from more senders; no longer logging them")
            else:
                log.warning(
                    "%s: dropped a notification from %s, not the pubsub service %s "
                    "(further ones from that sender are dropped without a log line)",
                    self.agent_id,
                    short(sender or "(no sender)"),
                    conn.pubsub_jid,
                )
        if self._on_dropped is not None:
            try:
                self._on_dropped()
            except Exception:
                log.exception("%s: on_dropped failed", self.agent_id)
        return False

    def _deliver(self, event: ET.Element) -> None:
        for items in event.iterfind(_ITEMS):
            node = items.get("node", "")
            team_member = "/Team/" in node
            for item in items.iterfind(_ITEM):
                payload = item.find(_NOTIFICATION)
                try:
                    update = codec.parse_update(
                        payload if payload is not None else item, team_member=team_member
                    )
                except FinesseXmlError as exc:
                    raw = ET.tostring(item, encoding="unicode")
                    log.warning(
                        "%s: malformed notification on %s skipped: %s; %s",
                        self.agent_id,
                        node,
                        short(exc),
                        short(raw),
                    )
                    continue
                try:
                    self._on_update(node, update)
                except Exception:
                    log.exception("%s: on_update failed for %s", self.agent_id, node)

    # --- keepalive -------------------------------------------------------------------------

    async def _keep_alive(self, conn: _Connection) -> None:
        """XEP-0199 keepalive of one connection, from its session start until it closes:
        every `keepalive` seconds a ping to the server; no answer within the ping timeout
        drops the connection (the session then reconnects). An error answer is an answer:
        the connection is alive."""
        stream = conn.stream
        domain = conn.endpoint.domain
        while True:
            await asyncio.sleep(self._keepalive)
            if stream.closed.done():
                return
            try:
                async with asyncio.timeout(self._ping_timeout):
                    await stream.request("get", domain, _PING_PAYLOAD)
            except StanzaError:
                continue  # an answer all the same
            except TimeoutError:
                conn.keepalive = None  # ending by itself: nothing to cancel
                stream.abort(f"Ping timeout after {self._ping_timeout:g} s")  # -> _lost()
                return
            except XmppConnectError:
                return  # the connection went as the ping was due: _lost() follows

    # --- presence of the 'finesse' user ----------------------------------------------------

    def _finesse_presence(self, available: bool) -> None:
        self._finesse_seen = available
        if self._state is SessionState.UP:
            self._report_finesse()

    def _report_finesse(self) -> None:
        seen = self._finesse_seen
        if seen is None or seen == self._finesse_reported:
            return
        self._finesse_reported = seen
        log.info("%s: finesse user %s", self.agent_id, "AVAILABLE" if seen else "UNAVAILABLE")
        if self._on_finesse_presence is not None:
            try:
                self._on_finesse_presence(seen)
            except Exception:
                log.exception("%s: on_finesse_presence failed", self.agent_id)

    # --- loss and reconnection -------------------------------------------------------------

    def _report_connection(self, up: bool) -> None:
        if self._on_connection is not None:
            try:
                self._on_connection(up)
            except Exception:
                log.exception("%s: on_connection failed", self.agent_id)

    def _lost(self, conn: _Connection, reason: str) -> None:
        log.warning(
            "%s: notification session lost (%s); reconnecting",
            self.jid,
            short(reason or "connection closed"),
        )
        _retire(conn)
        self._conn = None
        self._state = SessionState.RECONNECTING
        self._finesse_seen = self._finesse_reported = None
        self._report_connection(False)
        if self._state is SessionState.RECONNECTING:  # the callback may have stopped us
            self._supervisor = asyncio.ensure_future(self._reconnect())

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        refused_since: float | None = None
        failures = 0
        while self._state is SessionState.RECONNECTING:
            if self._skip_backoff:
                self._skip_backoff = False
            elif refused_since is not None:
                await self._pause(self._reconnect_max)  # each refusal counts at Finesse
            else:
                await self._pause(backoff_delay(failures, self._reconnect_min, self._reconnect_max))
            if self._state is not SessionState.RECONNECTING:
                return
            if self._may_reconnect is not None and not await self._may_reconnect():
                log.warning("%s: not reconnecting: its owner let it go", self.agent_id)
                await self.stop()
                return
            try:
                await self._connect()
            except XmppAuthError as exc:
                now = loop.time()
                refused_since = now if refused_since is None else refused_since
                if now - refused_since >= self._auth_retry_for:
                    self._give_up(exc)
                    return
                log.warning(
                    "%s: credentials refused while reconnecting (locked out?); retrying",
                    self.agent_id,
                )
                continue
            except XmppError as exc:
                failures += 1
                refused_since = None
                log.info(
                    "%s: reconnect attempt %d to %s failed: %s",
                    self.agent_id,
                    failures,
                    self._where(),
                    exc,
                )
                if loop.time() - began >= self._give_up_after:
                    self._give_up(exc)
                    return
                continue
            except Exception:
                failures += 1
                log.exception("%s: reconnect attempt failed", self.agent_id)
                continue
            if self._state is not SessionState.RECONNECTING:
                return
            self._state = SessionState.UP
            self._supervisor = None
            self.reconnects += 1
            log.info("%s: notification session back at %s", self.jid, self._where())
            self._report_connection(True)
            self._report_finesse()
            return

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if `move_to()` wakes us."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _give_up(self, exc: XmppError) -> None:
        log.error("%s: notification session closed for good: %s", self.agent_id, exc)
        self.failure = exc
        self._state = SessionState.FAILED
        self._supervisor = None
        self._report_connection(False)
