"""One client-to-server connection: stream negotiation, then stanza handling.

The life of a session (RFC 6120/6121, reduced to what Finesse's notification service offers,
docs/finesse.md, Sign-in and presence):

    stream header -> features (starttls, required when TLS is configured; PLAIN)
    -> [STARTTLS -> restart] -> SASL PLAIN
    -> restart -> features (bind, optional session) -> bind -> presence -> notifications

Anything a client does wrong ends *this* session with a stream error; nothing here may raise
into asyncio, so one bad client never disturbs the others.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from finesse_sim.xmpp import stanzas

from .parser import StreamError, StreamParser
from .stanzas import q

if TYPE_CHECKING:
    from .server import XmppServer

log = logging.getLogger("finesse_sim.xmpp")

_STREAM = q("stream", stanzas.NS_STREAM)
_STARTTLS = q("starttls", stanzas.NS_TLS)
_AUTH = q("auth", stanzas.NS_SASL)
_RESPONSE = q("response", stanzas.NS_SASL)
_ABORT = q("abort", stanzas.NS_SASL)
_BIND = q("bind", stanzas.NS_BIND)
_BIND_RESOURCE = q("resource", stanzas.NS_BIND)
_SESSION = q("session", stanzas.NS_SESSION)
_ROSTER = q("query", stanzas.NS_ROSTER)
_PING = q("ping", stanzas.NS_PING)
_DISCO_INFO = q("query", stanzas.NS_DISCO_INFO)
_PUBSUB = q("pubsub", stanzas.NS_PUBSUB)
_SUBSCRIBE = q("subscribe", stanzas.NS_PUBSUB)
_UNSUBSCRIBE = q("unsubscribe", stanzas.NS_PUBSUB)
_SUBSCRIPTIONS = q("subscriptions", stanzas.NS_PUBSUB)
# Client publishing is refused: only Finesse publishes (DEV:subscription-management).
_PUBLISHER_OPS = {
    q(n, stanzas.NS_PUBSUB) for n in ("publish", "retract", "create", "delete", "purge")
}

_MAX_AUTH_ATTEMPTS = 3  # RFC 6120 6.4.5: allow a few retries, then give up
_TLS_HANDSHAKE_TIMEOUT = 10.0
_JID_LOCAL_FORBIDDEN = set("\"&'/:<>@ \t\r\n")

# An iq handler: (session, iq id, the iq's 'to', its payload element) -> None.
_IqHandler = Callable[["C2SSession", str, "str | None", ET.Element], None]


def _stanza_name(tag: str) -> str | None:
    """'iq'/'presence'/'message' for stanzas in jabber:client (or no namespace)."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return name if ns == stanzas.NS_CLIENT else None
    return tag


class C2SSession(asyncio.Protocol):
    """A connection and its XMPP state; the `SessionRegistry` knows it by its full JID."""

    def __init__(self, server: XmppServer, *, direct_tls: bool) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.tls = direct_tls
        self.authenticated = False
        self.bound = False
        self.user = ""
        self.resource = ""
        self.bare_jid = ""
        self.full_jid = ""
        # Per-recipient notification pieces, see stanzas.Notification.
        self.to_and_id = b""
        self.bare_id = b""
        self.presence_sent = False  # an available presence is in effect
        self.available = False  # ... with priority >= 0: notifications are delivered
        self.write_paused = False
        self.closed: asyncio.Future[None] = self._loop.create_future()
        self._closing = False
        self._header_sent = False
        self._upgrading = False
        self._pending: list[bytes] = []
        self._auth_failures = 0
        self._awaiting_sasl_response = False
        self._auth_timer: asyncio.TimerHandle | None = None
        self._parser = StreamParser(self, max_stanza_bytes=server.max_stanza_bytes)

    def __repr__(self) -> str:
        return f"<C2SSession {self.full_jid or self.user or self.peer}>"

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._server.registry.opened(self)
        self._auth_timer = self._loop.call_later(self._server.auth_timeout, self._auth_timeout)
        log.debug("%s: connected%s", self.peer, " (direct TLS)" if self.tls else "")

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._upgrading:
            # Decrypted bytes can arrive before start_tls() has returned the new transport.
            self._pending.append(data)
            return
        try:
            self._parser.feed(data)
        except StreamError as exc:
            log.info("%r: stream error %s", self, exc)
            self.close_with_error(exc.condition, exc.description)
        except Exception:
            # A bug here must cost one session, not the server.
            log.warning("%r: internal error, closing the session", self, exc_info=True)
            self.close_with_error("internal-server-error")

    def eof_received(self) -> bool | None:
        return None  # half-close from the client: close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        log.debug("%r: connection lost (%s)", self, exc)
        self._finish()
        self._server.registry.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False

    # --- closing ---------------------------------------------------------------------------

    def send(self, xml: str) -> None:
        if not self._closing and self.transport is not None:
            self.transport.write(xml.encode())

    def close_with_error(self, condition: str, description: str | None = None) -> None:
        """Send a stream error (opening our stream first if needed) and close gracefully."""
        if self._closing:
            return
        if self._upgrading:
            self.abort()
            return
        if not self._header_sent:
            self._send_header()
        self.send(stanzas.stream_error(condition, description))
        self.close()

    def close(self) -> None:
        """Close after what is already written has been flushed."""
        self._finish()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now, unsent data included (fault injection, slow consumers)."""
        self._finish()
        if self.transport is not None:
            self.transport.abort()

    def _finish(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        # Unregister now, not in connection_lost: presence callbacks and a replacing session
        # must not see this one any more.
        self._server.registry.closed(self)

    def _auth_timeout(self) -> None:
        if not self.authenticated:
            log.info("%s: not authenticated in time", self.peer)
            self.close_with_error("connection-timeout", "authenticate sooner")

    # --- StreamHandler ---------------------------------------------------------------------

    def _send_header(self) -> None:
        self._header_sent = True
        self.send(stanzas.stream_header(self._server.domain, secrets.token_hex(8)))

    def stream_opened(self, tag: str, attrs: dict[str, str]) -> None:
        if tag != _STREAM:
            raise StreamError("invalid-namespace", "expected a stream:stream root")
        # A wrong 'to' is accepted: the connector may address the server by IP.
        self._send_header()
        if self.authenticated:
            self.send(stanzas.features_post_auth())
        else:
            server = self._server
            offer = server.tls_context is not None and not self.tls
            required = offer and server.starttls_required
            self.send(stanzas.features_pre_auth(offer_starttls=offer, starttls_required=required))

    def stream_closed(self) -> None:
        log.debug("%r: client closed the stream", self)
        self.send(stanzas.STREAM_END)
        self.close()

    def stanza(self, element: ET.Element) -> None:
        if self._closing:
            return  # the rest of a chunk that arrived with the stanza that ended us
        tag = element.tag
        if not self.authenticated:
            self._pre_auth(element)
            return
        name = _stanza_name(tag)
        if not self.bound:
            # RFC 6120 7.1: nothing but a bind iq before a resource is bound.
            if name == "iq" and element.get("type") == "set" and element.find(_BIND) is not None:
                self._iq(element)
                return
            raise StreamError("not-authorized", "bind a resource first")
        if name == "iq":
            self._iq(element)
        elif name == "presence":
            self._presence(element)
        elif name == "message":
            self._message(element)
        else:
            raise StreamError("unsupported-stanza-type")

    # --- STARTTLS and SASL -----------------------------------------------------------------

    def _pre_auth(self, element: ET.Element) -> None:
        tag = element.tag
        if tag == _STARTTLS:
            self._starttls()
        elif not self.tls and self._server.starttls_required:
            # Openfire with TLS required (its closeNeverEncryptedConnection): anything but
            # STARTTLS, SASL included, ends the stream (not-authorized) before a password
            # is looked at, so it counts nothing toward the lock-out. UNCONFIRMED that
            # Finesse 12.5+ keeps Openfire's answer (Cisco documents only the refusal).
            raise StreamError("not-authorized", "TLS is required: STARTTLS first")
        elif tag == _AUTH and not self._awaiting_sasl_response:
            self._auth(element)
        elif tag == _RESPONSE and self._awaiting_sasl_response:
            self._awaiting_sasl_response = False
            self._sasl_plain((element.text or "").strip())
        elif tag == _ABORT:
            self._awaiting_sasl_response = False
            self._auth_failed("aborted")
        else:
            raise StreamError("not-authorized", "authenticate first")

    def _starttls(self) -> None:
        ctx = self._server.tls_context
        if ctx is None or self.tls:
            # RFC 6120 5.4.2.2: <failure/> and close.
            self.send(f"<failure xmlns='{stanzas.NS_TLS}'/>{stanzas.STREAM_END}")
            self.close()
            return
        self.send(stanzas.TLS_PROCEED)
        self._parser.restart()
        self._header_sent = False
        self._upgrading = True
        self._server.spawn(self._upgrade_to_tls(ctx))

    async def _upgrade_to_tls(self, ctx: ssl.SSLContext) -> None:
        assert self.transport is not None
        try:
            transport = await self._loop.start_tls(
                self.transport,
                self,
                ctx,
                server_side=True,
                ssl_handshake_timeout=_TLS_HANDSHAKE_TIMEOUT,
            )
        except Exception as exc:  # SSLError, timeout, reset, transport already closing...
            log.info("%s: TLS handshake failed: %r", self.peer, exc)
            self._upgrading = False
            self.abort()
            return
        if transport is None or self._closing:
            if transport is not None:
                transport.abort()
            return
        self.transport = transport
        self.tls = True
        self._upgrading = False
        pending, self._pending = self._pending, []
        for chunk in pending:
            self.data_received(chunk)

    def _auth(self, element: ET.Element) -> None:
        if element.get("mechanism") != "PLAIN":
            self._auth_failed("invalid-mechanism")
            return
        payload = (element.text or "").strip()
        if not payload:
            # No initial response: RFC 6120 6.4.2, an empty challenge asks for it.
            self._awaiting_sasl_response = True
            self.send(stanzas.SASL_EMPTY_CHALLENGE)
            return
        self._sasl_plain(payload)

    def _sasl_plain(self, payload: str) -> None:
        # Never log the payload or the password: only the user id and the outcome.
        try:
            raw = b"" if payload == "=" else base64.b64decode(payload, validate=True)
        except binascii.Error:
            self._auth_failed("incorrect-encoding")
            return
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in raw.split(b"\0"))
        except ValueError:  # not three fields, or not UTF-8
            self._auth_failed("malformed-request")
            return
        domain = self._server.domain.lower()
        user = authcid
        local, at, dom = authcid.partition("@")
        if at and dom.lower() == domain:
            user = local
        if authzid and authzid not in (user, f"{user}@{self._server.domain}"):
            self._auth_failed("invalid-authzid")
            return
        if not user or any(c in _JID_LOCAL_FORBIDDEN for c in user):
            self._auth_failed("not-authorized")
            return
        try:
            ok = bool(self._server.authenticate(user, password))
        except Exception as exc:
            log.warning("authenticate(%r) raised %s", user, type(exc).__name__)
            self._auth_failed("temporary-auth-failure")
            return
        if not ok:
            log.info("%s: SASL PLAIN failed for user %r", self.peer, user)
            self._auth_failed("not-authorized")
            return
        log.debug("%s: authenticated as %r", self.peer, user)
        self.authenticated = True
        self.user = user
        self.bare_jid = f"{user}@{self._server.domain}"
        if self._auth_timer is not None:
            self._auth_timer.cancel()
        self.send(stanzas.SASL_SUCCESS)
        self._parser.restart()
        self._header_sent = False

    def _auth_failed(self, condition: str) -> None:
        self.send(stanzas.sasl_failure(condition))
        self._auth_failures += 1
        if self._auth_failures >= _MAX_AUTH_ATTEMPTS:
            log.info("%s: too many failed authentications", self.peer)
            self.send(stanzas.STREAM_END)
            self.close()

    # --- iq --------------------------------------------------------------------------------

    def _iq(self, iq: ET.Element) -> None:
        iq_type = iq.get("type")
        iq_id = iq.get("id", "")
        to = iq.get("to")
        if iq_type in ("result", "error"):
            return  # answers to nothing we asked: ignore, never answer an answer
        if iq_type not in ("get", "set") or len(iq) != 1:
            self._iq_error(iq_id, to, "modify", "bad-request")
            return
        payload = iq[0]
        if payload.tag == _BIND and not self.bound:
            self._bind(iq_id, payload)
            return
        table = _SERVER_IQ if self._is_server(to) else _PUBSUB_IQ if self._is_pubsub(to) else {}
        handler = table.get((iq_type, payload.tag))
        if handler is None:
            self._iq_error(iq_id, to, "cancel", "service-unavailable")
        else:
            handler(self, iq_id, to, payload)

    def _iq_result(self, iq_id: str, to: str | None, payload: str = "") -> None:
        self.send(stanzas.iq_result(iq_id, to=self.full_jid or None, from_=to, payload=payload))

    def _iq_error(
        self, iq_id: str, to: str | None, error_type: str, condition: str, app: str = ""
    ) -> None:
        self.send(
            stanzas.iq_error(
                iq_id,
                to=self.full_jid or None,
                from_=to,
                error_type=error_type,
                condition=condition,
                app_condition=app,
            )
        )

    def _bind(self, iq_id: str, bind: ET.Element) -> None:
        res_el = bind.find(_BIND_RESOURCE)
        resource = (res_el.text or "").strip() if res_el is not None else ""
        if not resource:
            resource = f"sim-{secrets.token_hex(4)}"
        if len(resource.encode()) > 1023 or any(ord(c) < 0x20 for c in resource):
            self._iq_error(iq_id, None, "modify", "bad-request")
            return
        server = self._server
        self.resource = resource
        self.full_jid = f"{self.bare_jid}/{resource}"
        self.to_and_id, self.bare_id = stanzas.recipient_parts(
            self.full_jid if server.full_jid_to else self.bare_jid, self.bare_jid
        )
        self.bound = True
        server.registry.bind(self)
        log.debug("%s: bound %s", self.peer, self.full_jid)
        self.send(
            stanzas.iq_result(
                iq_id, to=None, from_=None, payload=stanzas.bind_payload(self.full_jid)
            )
        )

    def _is_server(self, to: str | None) -> bool:
        """Addressed to the server itself or to the user's own account (handled for it)."""
        if not to:
            return True
        bare = to.partition("/")[0].lower()
        return bare in (self._server.domain.lower(), self.bare_jid.lower())

    def _is_pubsub(self, to: str | None) -> bool:
        return to is not None and to.lower() == self._server.pubsub_jid.lower()

    def _is_own_jid(self, jid: str | None) -> bool:
        if not jid:
            return False
        bare, slash, resource = jid.partition("/")
        local, at, domain = bare.partition("@")
        if not at or local != self.user or domain.lower() != self._server.domain.lower():
            return False
        return not slash or resource == self.resource

    def _iq_empty(self, iq_id: str, to: str | None, _payload: ET.Element) -> None:
        self._iq_result(iq_id, to)

    def _iq_rebind(self, iq_id: str, to: str | None, _payload: ET.Element) -> None:
        self._iq_error(iq_id, to, "cancel", "not-allowed")

    def _iq_roster(self, iq_id: str, to: str | None, _payload: ET.Element) -> None:
        # No roster: the 'finesse' user's presence is pushed without one (docs/finesse.md, The
        # 'finesse' user).
        self._iq_result(iq_id, to, stanzas.empty_roster())

    def _iq_server_disco(self, iq_id: str, to: str | None, payload: ET.Element) -> None:
        features = [stanzas.NS_DISCO_INFO, stanzas.NS_PING, stanzas.NS_SESSION]
        info = stanzas.disco_info("server", "im", "Finesse notification service (sim)", features)
        self._iq_result(iq_id, to, info)

    def _iq_pubsub_disco(self, iq_id: str, to: str | None, payload: ET.Element) -> None:
        features = [
            stanzas.NS_DISCO_INFO,
            stanzas.NS_PING,
            stanzas.NS_PUBSUB,
            f"{stanzas.NS_PUBSUB}#subscribe",
        ]
        info = stanzas.disco_info("pubsub", "service", "Publish-Subscribe service", features)
        self._iq_result(iq_id, to, info)

    def _iq_pubsub_set(self, iq_id: str, to: str | None, pubsub: ET.Element) -> None:
        op = pubsub[0] if len(pubsub) else None
        if op is None:
            self._iq_error(iq_id, to, "modify", "bad-request")
        elif op.tag == _SUBSCRIBE:
            self._subscribe(iq_id, to, op)
        elif op.tag == _UNSUBSCRIBE:
            self._unsubscribe(iq_id, to, op)
        elif op.tag in _PUBLISHER_OPS:
            self._iq_error(iq_id, to, "auth", "forbidden")
        else:
            self._unsupported(iq_id, to, op)

    def _iq_pubsub_get(self, iq_id: str, to: str | None, pubsub: ET.Element) -> None:
        op = pubsub[0] if len(pubsub) else None
        if op is None:
            self._iq_error(iq_id, to, "modify", "bad-request")
        elif op.tag == _SUBSCRIPTIONS:
            node = op.get("node") or None
            subs = [
                stanzas.Subscription(n, self.bare_jid, subid)
                for n, subid in self._server.pubsub.explicit_subscriptions(self.user)
                if node is None or n == node
            ]
            self._iq_result(iq_id, to, stanzas.subscriptions_payload(subs, node))
        else:
            self._unsupported(iq_id, to, op)

    def _unsupported(self, iq_id: str, to: str | None, op: ET.Element) -> None:
        feature = op.tag.rpartition("}")[2]
        app = stanzas.pubsub_error("unsupported", feature=feature)
        self._iq_error(iq_id, to, "cancel", "feature-not-implemented", app)

    def _check_target(self, iq_id: str, to: str | None, op: ET.Element) -> str | None:
        """The node of a (un)subscribe request, or None after answering with an error."""
        node = op.get("node")
        if not node:
            self._iq_error(
                iq_id, to, "modify", "bad-request", stanzas.pubsub_error("nodeid-required")
            )
            return None
        if not self._is_own_jid(op.get("jid")):
            self._iq_error(iq_id, to, "modify", "bad-request", stanzas.pubsub_error("invalid-jid"))
            return None
        return node

    def _subscribe(self, iq_id: str, to: str | None, op: ET.Element) -> None:
        node = self._check_target(iq_id, to, op)
        if node is None:
            return
        try:
            allowed = bool(self._server.may_subscribe(self.user, node))
        except Exception:
            log.warning("may_subscribe(%r, %r) failed", self.user, node, exc_info=True)
            self._iq_error(iq_id, to, "wait", "internal-server-error")
            return
        if not allowed:
            # "forbidden" also for nodes that do not exist: the callback cannot tell us which.
            self._iq_error(iq_id, to, "auth", "forbidden")
            return
        subid = self._server.pubsub.subscribe(self.user, node)
        sub = stanzas.Subscription(node, op.get("jid", self.bare_jid), subid)
        self._iq_result(iq_id, to, stanzas.subscription_payload(sub))

    def _unsubscribe(self, iq_id: str, to: str | None, op: ET.Element) -> None:
        node = self._check_target(iq_id, to, op)
        if node is None:
            return
        pubsub = self._server.pubsub
        current = pubsub.subid(self.user, node)
        if current is None:
            app = stanzas.pubsub_error("not-subscribed")
            self._iq_error(iq_id, to, "cancel", "unexpected-request", app)
            return
        subid = op.get("subid")
        if subid and subid != current:
            self._iq_error(
                iq_id, to, "modify", "not-acceptable", stanzas.pubsub_error("invalid-subid")
            )
            return
        pubsub.unsubscribe(self.user, node)
        self._iq_result(iq_id, to)

    # --- presence and messages -------------------------------------------------------------

    def _presence(self, presence: ET.Element) -> None:
        ptype = presence.get("type")
        to = presence.get("to")
        server = self._server
        if to and not self._is_server(to):
            # Directed presence: only the 'finesse' user answers (subscribe/probe).
            if to.partition("/")[0].lower() == server.finesse_jid.lower():
                if ptype == "subscribe":
                    self.send(
                        stanzas.presence_subscribed(from_=server.finesse_jid, to=self.bare_jid)
                    )
                    self.send_finesse_presence()
                elif ptype == "probe":
                    self.send_finesse_presence()
            return
        if ptype is None:
            first = not self.presence_sent
            self.presence_sent = True
            self._set_available(_priority(presence) >= 0)
            if first:
                self.send_finesse_presence()
        elif ptype == "unavailable":
            self.presence_sent = False
            self._set_available(False)
        # subscribe/subscribed/... to the server itself: no roster, nothing to do.

    def _set_available(self, available: bool) -> None:
        if available != self.available:
            self.available = available
            self._server.registry.set_available(self, available)

    def send_finesse_presence(self) -> None:
        server = self._server
        self.send(
            stanzas.presence(
                from_=server.finesse_jid, to=self.full_jid, available=server.finesse_up
            )
        )

    def _message(self, message: ET.Element) -> None:
        """Route a user's message as a stock Openfire does (RFC 6121 8.5), so that what one
        agent could send another on a real Finesse reaches the connector here too. The
        server stamps `from` with the sender's full JID, whatever the sender wrote: that is
        the one thing a receiving client can trust."""
        mtype = message.get("type") or "normal"
        to = message.get("to") or ""
        targets = self._route(to, mtype)
        if targets is None:
            if mtype != "error":  # an error is never answered with an error (RFC 6120 8.3.1)
                self.send(
                    stanzas.message_error(
                        message.get("id"),
                        to=self.full_jid,
                        from_=to or None,
                        condition="service-unavailable",
                    )
                )
            return
        if not targets:
            return
        message.set("from", self.full_jid)
        data = stanzas.element_xml(message)
        for target in targets:
            target.send(data)

    def _route(self, to: str, mtype: str) -> list[C2SSession] | None:
        """The sessions a message to `to` goes to; [] drops it silently, None bounces it.

        A full JID reaches that connected resource; a bare JID, or a full JID whose resource
        is not connected (chat and normal only), every available resource of the user
        (RFC 6121 8.5.2.1.1 allows "all non-negative" as well as "highest priority").
        UNCONFIRMED: with no available resource Finesse's Openfire may store the message
        offline; here it bounces (service-unavailable), since Finesse keeps nothing for an
        absent client. The server, the pubsub service and other domains (no s2s) take no
        messages: Finesse's service is notifications only."""
        server = self._server
        bare, slash, resource = to.partition("/")
        local, at, domain = bare.partition("@")
        if not at or not local or domain.lower() != server.domain.lower():
            return None
        registry = server.registry
        if slash:
            session = registry.by_full_jid.get(f"{local}@{server.domain}/{resource}")
            if session is not None:
                return [session]
            if mtype in ("groupchat", "headline"):
                return []  # RFC 6121 8.5.3.2.2: silently ignored
        if mtype == "groupchat":
            return None  # RFC 6121 8.5.2.1.1
        sessions = registry.available.get(local)
        if sessions:
            return list(sessions)
        return [] if mtype == "headline" else None


def _priority(presence: ET.Element) -> int:
    el = presence.find(q("priority", stanzas.NS_CLIENT))
    if el is None:
        el = presence.find("priority")
    try:
        return max(-128, min(127, int((el.text or "0").strip()))) if el is not None else 0
    except ValueError:
        return 0


_SERVER_IQ: dict[tuple[str, str], _IqHandler] = {
    ("set", _BIND): C2SSession._iq_rebind,
    ("set", _SESSION): C2SSession._iq_empty,
    ("get", _ROSTER): C2SSession._iq_roster,
    ("set", _ROSTER): C2SSession._iq_empty,
    ("get", _PING): C2SSession._iq_empty,
    ("get", _DISCO_INFO): C2SSession._iq_server_disco,
}
_PUBSUB_IQ: dict[tuple[str, str], _IqHandler] = {
    ("get", _PING): C2SSession._iq_empty,
    ("get", _DISCO_INFO): C2SSession._iq_pubsub_disco,
    ("set", _PUBSUB): C2SSession._iq_pubsub_set,
    ("get", _PUBSUB): C2SSession._iq_pubsub_get,
}
