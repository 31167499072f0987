"""The XMPP client stream of one notification session: exactly what Finesse needs, no more.

A Finesse notification session (docs/finesse.md, Sign-in and presence) is a c2s stream that
signs in once and then mostly listens. `XmppStream` is an asyncio `Protocol` that does that
and nothing else (RFC 6120 terms throughout):

    TCP connect (direct TLS: TLS first) -> stream header -> features
    -> [STARTTLS: <starttls/>, <proceed/>, loop.start_tls, stream restart]
    -> SASL PLAIN -> stream restart -> features -> resource binding
    -> [session, when offered and not <optional/>] -> open

Afterwards every top-level `<message>` and `<presence>` is offered to `take` (the session's
filter: Finesse's notifications and the 'finesse' user's presence); iq answers settle the
futures of `request()`; the server's XEP-0199 pings are answered here; any other iq get/set
is refused with `service-unavailable` (RFC 6120 8.4); a stream error or the end of the
stream closes the connection, and `on_close(reason)` tells the session, which reconnects
with its own backoff (a `see-other-host` redirect is logged, not followed: the session
decides where to go, docs/finesse.md, Failover).

Why our own and not slixmpp's `ClientXMPP`: a client object with its plugins, handlers and
stanza classes cost about 26 KiB per agent and a good part of each sign-in's CPU (stanza
objects for the stream features, SASL, bind and session), and every stanza it read was
matched against every handler. Here a sign-in is a dozen short strings written and a
handful of elements read; a notification goes from the stream parser (`XMLPullParser`, the
parser slixmpp uses too) to `take` with one tag comparison (docs/benchmarks.md).

What it guarantees:
* TLS: direct TLS and STARTTLS use the shared `SSLContext` (`connector.finesse.tls`) with
  the server's host name checked against the XMPP domain, through asyncio's own TLS
  transport (so `mobagent.tls_buffers` keeps its read buffer small). With STARTTLS
  configured it is required: a server that does not offer it is refused before any
  credential is sent. A plaintext stream whose server requires STARTTLS is refused too,
  rather than sending the password in the clear to be turned away.
* The password is never logged: the DEBUG dump of what is sent shows the SASL payload as
  `[redacted]` (it is written by `_send_secret`, the only path that sees it).
* Everything written is escaped (`quoteattr`, `escape`); nothing received is echoed back
  (a parse error is answered with a bare `not-well-formed`).
* iq answers are believed only from the entity asked (RFC 6120 8.1.2.1; ids alone are
  guessable, and another user on the server can address us).
* A stanza is at most `MAX_STANZA_BYTES` on the wire: one that grows past it (a server
  gone wrong, or someone in between) is answered with `policy-violation` and the
  connection closed, as a parse error is, instead of the parser holding it all in memory;
  the session reconnects and resyncs, so nothing it stood for is lost.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from enum import StrEnum
from typing import cast
from xml.sax.saxutils import escape, quoteattr

from connector.finesse.errors import FinesseError

__all__ = [
    "StanzaError",
    "TlsMode",
    "XmppAuthError",
    "XmppConnectError",
    "XmppError",
    "XmppStream",
    "XmppTlsError",
]

log = logging.getLogger("connector.finesse.xmpp.stream")

_MAX_LOGGED_CHARS = 200
# Finesse's largest notifications (a team's users, a dialog with every call variable and
# participant) are tens of KiB escaped; 1 MiB is far above them and bounds a session's parser.
MAX_STANZA_BYTES = 1024 * 1024

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
_NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
_NS_STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"
_NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
_NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
_NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
_NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_PING = "urn:xmpp:ping"

_STREAM = f"{{{NS_STREAM}}}stream"
_FEATURES = f"{{{NS_STREAM}}}features"
_STREAM_ERROR = f"{{{NS_STREAM}}}error"
_MESSAGE = f"{{{NS_CLIENT}}}message"
_PRESENCE = f"{{{NS_CLIENT}}}presence"
_IQ = f"{{{NS_CLIENT}}}iq"
_STARTTLS = f"{{{_NS_TLS}}}starttls"
_REQUIRED = f"{{{_NS_TLS}}}required"
_PROCEED = f"{{{_NS_TLS}}}proceed"
_MECHANISMS = f"{{{_NS_SASL}}}mechanisms"
_MECHANISM = f"{{{_NS_SASL}}}mechanism"
_SUCCESS = f"{{{_NS_SASL}}}success"
_FAILURE = f"{{{_NS_SASL}}}failure"
_BIND = f"{{{_NS_BIND}}}bind"
_BIND_JID = f"{{{_NS_BIND}}}jid"
_SESSION = f"{{{_NS_SESSION}}}session"
_OPTIONAL = f"{{{_NS_SESSION}}}optional"
_ERROR = f"{{{NS_CLIENT}}}error"
_PING = f"{{{NS_PING}}}ping"

_STREAM_END = "</stream:stream>"
_STARTTLS_REQUEST = f"<starttls xmlns='{_NS_TLS}'/>"
_iq_ids = itertools.count(1)


# --- errors ------------------------------------------------------------------------------


class XmppError(FinesseError):
    """Base of the notification session's errors."""


class XmppConnectError(XmppError):
    """No session: refused, timed out, or closed before the session started."""


class XmppTlsError(XmppConnectError):
    """TLS could not be set up: certificate not trusted, or STARTTLS not offered."""


class XmppAuthError(XmppError):
    """The server refused the credentials (SASL). Retrying would not help."""


class StanzaError(XmppError):
    """An iq request answered with an error (RFC 6120 8.3); `condition` is its defined
    condition (`forbidden`, `unexpected-request`, ...), "" if none was given."""

    def __init__(self, condition: str) -> None:
        self.condition = condition
        super().__init__(f"refused: {condition or 'error'}")


class TlsMode(StrEnum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    DIRECT = "direct"


# --- the stream --------------------------------------------------------------------------


# One read buffer for every stream of the process. asyncio hands a plain Protocol a fresh
# bytes object of its read size (256 KiB) for every socket read, and allocating and
# freeing that was a third of the CPU of relaying a notification on this project's machine
# (`python -m scenarios.bench.relay_floor [--buffered]`, docs/benchmarks.md). A buffered
# protocol reads into a buffer it provides instead; reads happen one at a time on the loop
# and each is copied out before the next, so one buffer serves every stream (and the TLS
# transport, which reads its decrypted bytes into it too).
_READ_BUFFER = memoryview(bytearray(64 * 1024))


class XmppStream(asyncio.BufferedProtocol):
    """One connection to the notification service, from the TCP connect to its close.

    A stream is used for one connection only (a reconnect builds a new one), so nothing of
    an old connection can be mistaken for a new one's.

    * `open(host, port)`: connect and negotiate; returns once a resource is bound (`jid`),
      raises `XmppAuthError`, `XmppTlsError` or `XmppConnectError`. No timeout of its own:
      the caller bounds it.
    * `send(text)`: write well-formed, escaped XML (dropped once the connection is going).
    * `request(type, to, payload)`: an iq get/set and its answer (`StanzaError` for an
      error answer, `XmppConnectError` if the connection closes first).
    * `close(timeout)`: end the stream gracefully; `abort(reason)`: drop the connection;
      `fail(exc)`: settle a negotiation under way with `exc` and drop the connection.
    * `take(element)`: each `<message>` and `<presence>` (True: consumed; its elements are
      then cleared at once, see `_stanza`); `on_close(reason)`: the connection is gone.
    """

    __slots__ = (
        "_answers",
        "_depth",
        "_domain",
        "_ended",
        "_failure",
        "_parser",
        "_password",
        "_reason",
        "_resource",
        "_root",
        "_tls",
        "_unfinished",
        "_user",
        "_waiter",
        "closed",
        "jid",
        "on_close",
        "ready",
        "ssl_context",
        "take",
        "transport",
    )

    def __init__(
        self,
        user: str,
        password: str,
        domain: str,
        resource: str,
        *,
        tls: TlsMode,
        ssl_context: ssl.SSLContext,
        take: Callable[[ET.Element], bool],
        on_close: Callable[[str], None] | None = None,
    ) -> None:
        self._user = user
        self._password = password
        self._domain = domain
        self._resource = resource
        self._tls = tls
        self.ssl_context = ssl_context
        self.take = take
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.jid = ""  # the full JID the server bound, once it has
        self.ready = False  # negotiated: a resource is bound
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parser: ET.XMLPullParser | None = None
        self._depth = 0
        self._unfinished = 0  # bytes read of the stanza under way, at most (0: none open)
        self._root: ET.Element | None = None
        self._waiter: asyncio.Future[ET.Element] | None = None  # the next element (open())
        self._answers: dict[str, tuple[asyncio.Future[ET.Element], str | None]] = {}
        self._failure: XmppError | None = None  # why open() must fail (the first cause)
        self._reason = ""  # why we dropped the connection ourselves
        self._ended = False  # our </stream:stream> is written

    def __repr__(self) -> str:
        return f"<XmppStream {self.jid or self._user + '@' + self._domain}>"

    @property
    def encrypted(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    # --- negotiation -----------------------------------------------------------------------

    async def open(self, host: str, port: int) -> None:
        """Connect to `host`:`port` and negotiate up to a bound resource (module docstring)."""
        where = f"{host}:{port}"
        direct = self._tls is TlsMode.DIRECT
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(
                lambda: self,
                host,
                port,
                ssl=self.ssl_context if direct else None,
                server_hostname=self._domain if direct else None,
            )
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise XmppTlsError(f"TLS with {where} failed: {short(exc)}") from None
        except OSError as exc:
            raise XmppConnectError(f"cannot connect to {where}: {short(exc)}") from None
        self._check()
        self._restart()
        features = await self._next(_FEATURES)
        starttls = features.find(_STARTTLS)
        if self._tls is TlsMode.STARTTLS:
            if starttls is None:
                raise XmppTlsError(f"{where} does not offer STARTTLS")
            self.send(_STARTTLS_REQUEST)
            if (await self._next()).tag != _PROCEED:
                raise XmppTlsError(f"{where} refused STARTTLS")
            await self._start_tls(where)
            self._restart()
            features = await self._next(_FEATURES)
        elif starttls is not None and starttls.find(_REQUIRED) is not None and not direct:
            raise XmppTlsError(f"{where} requires STARTTLS; this session is set up for plaintext")
        await self._authenticate(features)
        self._restart()
        features = await self._next(_FEATURES)
        if features.find(_BIND) is None:
            raise XmppConnectError(f"{where} offers no resource binding")
        bind = f"<bind xmlns='{_NS_BIND}'><resource>{escape(self._resource)}</resource></bind>"
        try:
            bound = await self.request("set", None, bind)
            session = features.find(_SESSION)
            if session is not None and session.find(_OPTIONAL) is None:
                # RFC 3921's session establishment, for servers that still require it.
                await self.request("set", None, f"<session xmlns='{_NS_SESSION}'/>")
        except StanzaError as exc:
            raise XmppConnectError(f"resource binding refused: {exc.condition}") from None
        jid = bound.find(f"{_BIND}/{_BIND_JID}")
        self.jid = (jid.text or "").strip() if jid is not None else ""
        if not self.jid:
            self.jid = f"{self._user}@{self._domain}/{self._resource}"
        self.ready = True

    async def _authenticate(self, features: ET.Element) -> None:
        """SASL PLAIN with an initial response (RFC 4616, RFC 6120 6.4): the agent id as the
        authentication identity, no authorization identity."""
        mechanisms = features.find(_MECHANISMS)
        offered = () if mechanisms is None else mechanisms.iterfind(_MECHANISM)
        if not any((m.text or "").strip() == "PLAIN" for m in offered):
            raise XmppConnectError("no acceptable authentication mechanism offered")
        if self._tls is not TlsMode.PLAIN and not self.encrypted:
            raise XmppTlsError("refusing to send credentials without TLS")
        secret = f"\0{self._user}\0{self._password}".encode()
        self._send_secret(
            f"<auth xmlns='{_NS_SASL}' mechanism='PLAIN'>", base64.b64encode(secret), "</auth>"
        )
        answer = await self._next()
        if answer.tag == _SUCCESS:
            return
        if answer.tag != _FAILURE:
            raise XmppConnectError(f"unexpected answer to SASL: {_local(answer.tag)}")
        condition = next((_local(c.tag) for c in answer if c.tag != f"{{{_NS_SASL}}}text"), "")
        if condition == "temporary-auth-failure":
            raise XmppConnectError("authentication temporarily unavailable")
        raise XmppAuthError(f"credentials of {self._user} refused ({condition or 'failure'})")

    async def _start_tls(self, where: str) -> None:
        transport = self.transport
        assert transport is not None
        self._parser = None  # nothing more is read in plaintext
        try:
            upgraded = await asyncio.get_running_loop().start_tls(
                transport, self, self.ssl_context, server_hostname=self._domain
            )
        except (ssl.SSLError, ssl.CertificateError) as exc:
            error: XmppError = XmppTlsError(f"TLS with {where} failed: {short(exc)}")
        except (OSError, RuntimeError) as exc:
            error = XmppConnectError(f"TLS with {where} failed: {short(exc)}")
        else:
            if upgraded is not None and not self.closed.done() and self._failure is None:
                self.transport = upgraded
                return
            error = XmppConnectError(f"TLS with {where} failed: connection closed")
        # asyncio reports no connection_lost for a handshake that did not complete.
        self._lost(f"TLS handshake failed: {error}")
        raise self._failure or error

    def _restart(self) -> None:
        """Open a new stream (at the start, after TLS, after SASL): a new parser for the new
        document, and our stream header."""
        self._parser = ET.XMLPullParser(("start", "end"))
        self._depth = 0
        self._unfinished = 0
        self._root = None
        self.send(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
            f" xmlns:stream='{NS_STREAM}' to={quoteattr(self._domain)} version='1.0'>"
        )

    async def _next(self, tag: str | None = None) -> ET.Element:
        """The next top-level element that is not a stanza, during `open()`."""
        self._check()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            element = await waiter
        finally:
            self._waiter = None
        if tag is not None and element.tag != tag:
            raise XmppConnectError(f"expected <{_local(tag)}>, got <{_local(element.tag)}>")
        return element

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self.closed.done():
            raise XmppConnectError(f"connection closed: {self._reason or 'by the server'}")

    def fail(self, exc: XmppError) -> None:
        """Settle `open()` with `exc` (unless it is over, or failed already: the first cause
        wins) and drop the connection."""
        self._settle(exc)
        self.abort(str(exc))

    def _settle(self, exc: XmppError) -> None:
        if not self.ready and self._failure is None:
            self._failure = exc
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)

    # --- writing ---------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Write `text`, well-formed XML whose values the caller escaped. Dropped once the
        connection is closing: `closed` and `on_close` tell what became of it."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s SEND: %s", self._user, text)
        transport.write(text.encode())

    def _send_secret(self, head: str, secret: bytes, tail: str) -> None:
        """Write `head`, `secret`, `tail`; the DEBUG dump shows `[redacted]` for the secret."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s SEND: %s[redacted]%s", self._user, head, tail)
        transport.write(head.encode() + secret + tail.encode())

    async def request(
        self, iq_type: str, to: str | None, payload: str, timeout: float | None = None
    ) -> ET.Element:
        """Send `<iq type=iq_type to=to>payload</iq>` and return the result answer.

        Raises `StanzaError` for an error answer, `XmppConnectError` when the connection
        closes first or no answer comes within `timeout` seconds (None: the caller bounds
        it). Only an answer from `to` (from the server or our own account when `to` is
        None) is taken."""
        if self.closed.done():
            raise XmppConnectError("connection lost before the request")
        ident = f"q{next(_iq_ids)}"
        answer: asyncio.Future[ET.Element] = asyncio.get_running_loop().create_future()
        self._answers[ident] = (answer, to)
        to_attr = f" to={quoteattr(to)}" if to else ""
        self.send(f"<iq type='{iq_type}' id='{ident}'{to_attr}>{payload}</iq>")
        try:
            async with asyncio.timeout(timeout):
                reply = await answer
        except TimeoutError:
            raise XmppConnectError("no answer from the notification service") from None
        finally:
            self._answers.pop(ident, None)
        if reply.get("type") == "error":
            raise StanzaError(_condition(reply))
        return reply

    async def close(self, timeout: float) -> None:
        """End our stream (`</stream:stream>`), wait up to `timeout` seconds for the server
        to end its own and close, then drop the connection whatever happened."""
        if not self.closed.done():
            self._end_stream()
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self.closed)
            except TimeoutError:
                pass
        self.abort("closed by us")

    def _end_stream(self) -> None:
        """Our `</stream:stream>`, written once: after it the stream is over for us."""
        if not self._ended:
            self._ended = True
            self.send(_STREAM_END)

    def abort(self, reason: str = "aborted") -> None:
        """Drop the connection now, unsent data included; `on_close(reason)` follows."""
        if self.closed.done():
            return
        self._reason = self._reason or reason
        self._parser = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.abort()  # connection_lost follows, from the loop
        elif transport is None:
            self._lost(reason)  # not connected (yet): nobody else will report it

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: an event loop with transports of its own (uvloop's are
        # not asyncio.Transport subclasses) is as good, it has the same methods.
        self.transport = transport = cast(asyncio.Transport, transport)
        if self.closed.done() or self._failure is not None:
            transport.abort()  # failed or aborted while connecting

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(self._reason or (short(exc) if exc is not None else "connection closed"))

    def _lost(self, reason: str) -> None:
        if self.closed.done():
            return
        self._parser = None
        self._root = None
        failure = self._failure or XmppConnectError(f"connection closed: {reason}")
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)
        answers, self._answers = self._answers, {}
        for answer, _ in answers.values():
            if not answer.done():
                answer.set_exception(
                    XmppConnectError("connection lost while waiting for an answer")
                )
        self.closed.set_result(None)
        if self.on_close is not None:
            self.on_close(reason)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_READ_BUFFER[:nbytes]))

    def data_received(self, data: bytes) -> None:
        """Feed the stream parser; hand on each top-level element.

        The parser reports a start and an end for every element (some sixty for a User
        notification); this loop only counts depth until an element closes at depth 1.
        The root's start opens the stream, its end closes it, and the root is kept empty.
        A parse error answers `not-well-formed` (echoing nothing) and closes the stream.
        """
        parser = self._parser
        if parser is None:
            return  # closing, or bytes after a restart's trigger (nobody may send them)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s RECV: %s", self._user, data)
        parser.feed(data)
        depth = self._depth
        completed = False
        try:
            for event, xml in parser.read_events():
                if event == "start":
                    if depth == 0:
                        self._root = xml
                        if xml.tag != _STREAM:
                            self._depth = 1
                            self._end("not an XMPP stream", "invalid-namespace")
                            return
                    depth += 1
                    continue
                depth -= 1
                if depth == 1:
                    self._depth = 1
                    completed = True
                    self._stanza(xml)
                    if self._parser is not parser:
                        return  # closed by that element
                    root = self._root
                    if root is not None:
                        root.clear()
                elif depth == 0:
                    self._depth = 0
                    self._end("end of stream")
                    return
        except ET.ParseError:
            self._depth = depth
            log.error("%s: stream not well-formed; disconnecting", self._user)
            self._end("stream not well-formed", "not-well-formed")
            return
        self._depth = depth
        # The stanza still open: all of this read if it began here, else what came before
        # too (an upper bound: where in `data` it began is not known).
        if depth <= 1:
            self._unfinished = 0
        else:
            self._unfinished = len(data) if completed else self._unfinished + len(data)
            if self._unfinished > MAX_STANZA_BYTES:
                log.error(
                    "%s: a stanza of over %d bytes; disconnecting", self._user, MAX_STANZA_BYTES
                )
                self._end("stanza too large", "policy-violation")

    # --- what comes in ---------------------------------------------------------------------

    def _stanza(self, xml: ET.Element) -> None:
        tag = xml.tag
        if tag in (_MESSAGE, _PRESENCE):
            if self.take(xml):
                # The parser's tree builder keeps the last element closed at each depth
                # until another replaces it, each holding its subtree: emptied now, a
                # notification's dozens of elements are freed at once instead of living on
                # per session until that session's next stanza.
                for element in list(xml.iter()):
                    element.clear()
        elif tag == _IQ:
            self._iq(xml)
        elif tag == _STREAM_ERROR:
            self._stream_error(xml)
        else:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(xml)
            else:
                log.debug("%s: ignoring an unexpected <%s>", self._user, _local(tag))

    def _iq(self, iq: ET.Element) -> None:
        iq_type = iq.get("type")
        ident = iq.get("id", "")
        if iq_type in ("result", "error"):
            entry = self._answers.get(ident)
            if entry is not None and self._answers_for(entry[1], iq.get("from")):
                del self._answers[ident]
                if not entry[0].done():
                    entry[0].set_result(iq)
            return  # an answer to nothing we asked (or from someone else): never answered
        if iq_type not in ("get", "set"):
            return
        sender = iq.get("from")
        to = f" to={quoteattr(sender)}" if sender else ""
        if iq_type == "get" and len(iq) == 1 and iq[0].tag == _PING:
            # XEP-0199 4.1: an empty result, to whoever asks (usually the server).
            self.send(f"<iq type='result' id={quoteattr(ident)}{to}/>")
            return
        self.send(
            f"<iq type='error' id={quoteattr(ident)}{to}><error type='cancel'>"
            f"<service-unavailable xmlns='{_NS_STANZA_ERRORS}'/></error></iq>"
        )

    def _answers_for(self, asked: str | None, sender: str | None) -> bool:
        """An answer from `sender` is one to a request sent to `asked` (RFC 6120 8.1.2.1)."""
        if asked is None:
            if sender is None:
                return True
            bare = sender.partition("/")[0].lower()
            own = self.jid.partition("/")[0].lower() or f"{self._user}@{self._domain}".lower()
            return bare in (self._domain.lower(), own)
        return sender is not None and sender.lower() == asked.lower()

    def _stream_error(self, error: ET.Element) -> None:
        condition = next(
            (_local(c.tag) for c in error if c.tag.startswith(f"{{{_NS_STREAM_ERRORS}}}")), "?"
        )
        if condition == "text":
            condition = "?"
        log.warning("%s: stream error from the server: %s", self._user, condition)
        if condition == "see-other-host":
            # Not followed: the session reconnects with its own backoff, to the endpoint it
            # chooses (a redirect is the server's hint, failover is ours).
            target = error.find(f"{{{_NS_STREAM_ERRORS}}}see-other-host")
            log.info(
                "%s: the server points to %s; reconnecting where the session decides",
                self._user,
                short((target.text or "").strip() if target is not None else ""),
            )
        self.fail(XmppConnectError(f"stream error from the server: {condition}"))

    def _end(self, reason: str, error: str = "") -> None:
        """Close our side of the stream (with a stream error first, if given), flushing what
        is written, and settle `open()` if it is under way."""
        self._settle(XmppConnectError(f"connection closed: {reason}"))
        self._reason = self._reason or reason
        if error:
            self.send(f"<stream:error><{error} xmlns='{_NS_STREAM_ERRORS}'/></stream:error>")
        self._end_stream()
        self._parser = None
        transport = self.transport
        if transport is not None:
            transport.close()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _condition(iq: ET.Element) -> str:
    """The defined condition of an iq error answer (RFC 6120 8.3.3), or ""."""
    error = iq.find(_ERROR)
    if error is None:
        return ""
    for child in error:
        if child.tag.startswith(f"{{{_NS_STANZA_ERRORS}}}") and _local(child.tag) != "text":
            return _local(child.tag)
    return ""


def short(text: object) -> str:
    """`text` on one line, at most 200 characters: for log lines and error messages."""
    text = " ".join(str(text).split())
    if len(text) <= _MAX_LOGGED_CHARS:
        return text
    return text[: _MAX_LOGGED_CHARS - 3] + "..."
