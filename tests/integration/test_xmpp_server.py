"""The simulated Finesse notification service over real loopback sockets.

Two kinds of client: stock slixmpp (what the connector uses) and a raw asyncio socket client
that sees the exact bytes on the wire and can misbehave. Nothing waits with a fixed sleep:
every wait is for an event, with a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import re
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError

from finesse_sim.tls import self_signed_context
from finesse_sim.xmpp import XmppServer

pytestmark = pytest.mark.integration

DOMAIN = "finesse-a.sim.local"
PUBSUB = f"pubsub.{DOMAIN}"
FINESSE = f"finesse@{DOMAIN}"
TEAM_OK = "/finesse/api/Team/42/Users"
TEAM_NO = "/finesse/api/Team/99/Users"
SYSTEMINFO = "/finesse/api/SystemInfo"
TIMEOUT = 5.0

NS_STREAM = "http://etherx.jabber.org/streams"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def user_node(user: str) -> str:
    return f"/finesse/api/User/{user}"


def update(source: str, state: str = "READY") -> str:
    return (
        f"<Update><data><user><state>{state}</state></user></data><event>PUT</event>"
        f"<requestId></requestId><source>{source}</source></Update>"
    )


def password(user: str) -> str:
    return f"pw-{user}"


def plain_token(user: str) -> str:
    """The SASL PLAIN initial response for `user` with the right password."""
    return base64.b64encode(f"\0{user}\0{password(user)}".encode()).decode()


@functools.cache
def client_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, ONE client context trusting the sim's CA, shared by every client)."""
    server_ctx, ca = self_signed_context([DOMAIN])
    return server_ctx, ssl.create_default_context(cafile=str(ca))


# --- the simulated Finesse's side: callbacks, recorded ---------------------------------------


class Sim:
    def __init__(self) -> None:
        self.presence: list[tuple[str, bool]] = []
        self._waiters: list[asyncio.Future[None]] = []

    def authenticate(self, user: str, pw: str) -> bool:
        if user == "boom":
            raise RuntimeError("directory down")
        return pw == password(user)

    def on_presence(self, user: str, up: bool) -> None:
        self.presence.append((user, up))
        self._wake()

    def auto_nodes(self, user: str) -> list[str]:
        return [user_node(user), f"{user_node(user)}/Dialogs", SYSTEMINFO]

    def may_subscribe(self, user: str, node: str) -> bool:
        return node == TEAM_OK

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not predicate():
                fut = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                await fut

    async def presence_of(self, user: str, up: bool, count: int = 1) -> None:
        await self.until(lambda: self.presence.count((user, up)) >= count)


# --- a raw socket client ---------------------------------------------------------------------


class Raw:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = ""

    @classmethod
    async def open(cls, port: int, *, tls: ssl.SSLContext | None = None) -> Raw:
        hostname = DOMAIN if tls is not None else None
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname=hostname
        )
        return cls(reader, writer)

    def send(self, data: str | bytes) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)

    def open_stream(self) -> None:
        self.send(
            f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client'"
            f" xmlns:stream='{NS_STREAM}' version='1.0'>"
        )

    async def expect(self, pattern: str) -> re.Match[str]:
        """Wait for a regex match in what was received; consume up to its end."""
        rx = re.compile(pattern, re.S)
        async with asyncio.timeout(TIMEOUT):
            while (m := rx.search(self.buf)) is None:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise AssertionError(f"closed while waiting for {pattern!r}: {self.buf!r}")
                self.buf += chunk.decode()
        self.buf = self.buf[m.end() :]
        return m

    async def until_closed(self) -> str:
        """Everything received until the server closes the connection."""
        async with asyncio.timeout(TIMEOUT):
            with contextlib.suppress(ConnectionError):
                while chunk := await self.reader.read(65536):
                    self.buf += chunk.decode(errors="replace")
        rest, self.buf = self.buf, ""
        return rest

    async def ping(self, ident: str = "p1") -> None:
        """A round trip: everything sent before it has been processed by the server."""
        self.send(f"<iq type='get' id='{ident}'><ping xmlns='urn:xmpp:ping'/></iq>")
        await self.expect(f"<iq type='result' id='{ident}'[^>]*>")

    async def auth(self, user: str, pw: str) -> None:
        self.open_stream()
        await self.expect("</stream:features>")
        token = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        self.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{token}</auth>")

    async def login(
        self, user: str, resource: str | None = "raw", *, presence: bool = True, priority: int = 0
    ) -> str:
        """Authenticate, bind; optionally send presence. Returns the bound full JID."""
        await self.auth(user, password(user))
        await self.expect(f"<success xmlns='{NS_SASL}'/>")
        self.open_stream()
        await self.expect("</stream:features>")
        res = f"<resource>{resource}</resource>" if resource else ""
        self.send(f"<iq type='set' id='bind1'><bind xmlns='{NS_BIND}'>{res}</bind></iq>")
        jid = (await self.expect(r"<jid>([^<]+)</jid></bind></iq>")).group(1)
        if presence:
            await self.presence(priority)
            await self.expect(f"<presence from='{FINESSE}'[^>]*/>")
        return jid

    async def presence(self, priority: int = 0) -> None:
        self.send(f"<presence><priority>{priority}</priority></presence>")

    def close(self) -> None:
        self.writer.close()


# --- the lab: servers and clients, all torn down at the end ----------------------------------


class Lab:
    def __init__(self) -> None:
        self.sim = Sim()
        self.servers: list[XmppServer] = []
        self.xmpps: list[ClientXMPP] = []
        self.raws: list[Raw] = []
        self.tls_port: int | None = None  # of the last server started

    async def server(self, **kwargs: Any) -> tuple[XmppServer, int]:
        tls_port = kwargs.pop("tls_port", None)
        options: dict[str, Any] = {
            "authenticate": self.sim.authenticate,
            "on_presence": self.sim.on_presence,
            "auto_nodes": self.sim.auto_nodes,
            "may_subscribe": self.sim.may_subscribe,
        }
        server = XmppServer(domain=DOMAIN, **(options | kwargs))
        self.servers.append(server)
        port, self.tls_port = await server.start("127.0.0.1", 0, tls_port)
        return server, port

    async def raw(self, port: int, **kwargs: Any) -> Raw:
        raw = await Raw.open(port, **kwargs)
        self.raws.append(raw)
        return raw

    async def client(
        self,
        port: int,
        user: str,
        *,
        resource: str = "desk",
        pw: str | None = None,
        presence: bool = True,
        direct_tls: bool = False,
    ) -> ClientXMPP:
        """A stock slixmpp client, logged in (or failed: see `.auth_ok`); with `presence`,
        returns once the user became available (so no other resource may be available)."""
        _, shared_ctx = client_tls()
        xmpp = ClientXMPP(
            f"{user}@{DOMAIN}/{resource}",
            password(user) if pw is None else pw,
            ssl_context=shared_ctx,
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
        )
        xmpp.register_plugin("xep_0060")
        xmpp.register_plugin("xep_0199")
        xmpp.enable_direct_tls = direct_tls
        xmpp.enable_starttls = not direct_tls
        xmpp.enable_plaintext = not direct_tls
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[bool] = loop.create_future()
        xmpp.notifications = asyncio.Queue()
        xmpp.presences = asyncio.Queue()
        xmpp.disconnected = loop.create_future()
        xmpp.stream_errors = []

        def settle(ok: bool) -> None:
            if not outcome.done():
                outcome.set_result(ok)

        xmpp.add_event_handler("session_start", lambda _: settle(True))
        xmpp.add_event_handler("failed_auth", lambda _: settle(False))
        xmpp.add_event_handler("pubsub_publish", xmpp.notifications.put_nowait)
        xmpp.add_event_handler("presence_available", xmpp.presences.put_nowait)
        xmpp.add_event_handler("presence_unavailable", xmpp.presences.put_nowait)
        xmpp.add_event_handler("stream_error", xmpp.stream_errors.append)
        xmpp.add_event_handler(
            "disconnected", lambda _: xmpp.disconnected.done() or xmpp.disconnected.set_result(1)
        )
        self.xmpps.append(xmpp)
        ups = self.sim.presence.count((user, True))
        xmpp.connect("127.0.0.1", port)
        xmpp.auth_ok = await asyncio.wait_for(outcome, TIMEOUT)
        if xmpp.auth_ok and presence:
            xmpp.send_presence(ppriority=0)
            await self.sim.presence_of(user, True, count=ups + 1)
        return xmpp

    async def close(self) -> None:
        for xmpp in self.xmpps:
            xmpp.abort()
        for raw in self.raws:
            raw.close()
        for server in self.servers:
            await server.stop()


@pytest.fixture
async def lab():
    lab = Lab()
    try:
        yield lab
    finally:
        await lab.close()


async def next_event(queue: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


def envelope_regex(to: str, node: str, payload: str) -> str:
    """The exact wire form of docs/finesse.md, Notification envelope (attribute order as the server
    writes it)."""
    bare = to.partition("/")[0]
    return (
        rf"<message from='{re.escape(PUBSUB)}' to='{re.escape(to)}'"
        rf" id='{re.escape(node)}__{re.escape(bare)}__[A-Za-z0-9]{{5}}'>"
        rf"<event xmlns='{re.escape(NS_PUBSUB_EVENT)}'><items node='{re.escape(node)}'>"
        r"<item id='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\d+'>"
        rf"<notification xmlns='{re.escape(NS_PUBSUB)}'>{re.escape(payload)}</notification>"
        r"</item></items></event></message>"
    )


# --- login, bind, presence ---------------------------------------------------------------------


async def test_login_binds_the_requested_resource(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001", resource="desk", presence=False)
    assert xmpp.auth_ok
    assert xmpp.boundjid.full == f"1001@{DOMAIN}/desk"
    assert server.session_count == 1
    assert server.available_users() == set()


async def test_bind_without_resource_generates_one(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    jid = await raw.login("1001", resource=None, presence=False)
    assert re.fullmatch(rf"1001@{re.escape(DOMAIN)}/\S+", jid)


async def test_bad_password_fails_auth_and_opens_no_session(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001", pw="wrong")
    assert xmpp.auth_ok is False
    await asyncio.wait_for(xmpp.disconnected, TIMEOUT)  # slixmpp gives up, we close
    assert server.session_count == 0
    assert lab.sim.presence == []


async def test_auth_failure_variants_and_retry(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    raw.open_stream()
    await raw.expect("<mechanism>PLAIN</mechanism>")
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='DIGEST-MD5'/>")
    await raw.expect("<failure xmlns='[^']+'><invalid-mechanism/></failure>")
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>!!notbase64!!</auth>")
    await raw.expect("<incorrect-encoding/>")
    # A retry after failures is allowed (the third attempt, and it succeeds).
    token = base64.b64encode(f"\x001001\x00{password('1001')}".encode()).decode()
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{token}</auth>")
    await raw.expect("<success ")


async def test_three_failed_attempts_close_the_connection(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    await raw.auth("1001", "x")
    for _ in range(2):
        await raw.expect("<not-authorized/></failure>")
        raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>AHgAeA==</auth>")
    assert "</stream:stream>" in await raw.until_closed()


async def test_authenticate_callback_exception_costs_only_that_login(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    await raw.auth("boom", "x")
    await raw.expect("<temporary-auth-failure/>")
    good = await lab.client(port, "1001")
    assert good.auth_ok


async def test_callback_exceptions_cost_nobody_else(lab: Lab) -> None:
    def on_presence(user: str, up: bool) -> None:
        lab.sim.on_presence(user, up)
        if user == "1666":
            raise RuntimeError("sim bug")

    def auto_nodes(user: str) -> list[str]:
        if user == "1666":
            raise RuntimeError("sim bug")
        return lab.sim.auto_nodes(user)

    server, port = await lab.server(on_presence=on_presence, auto_nodes=auto_nodes)
    cursed = await lab.raw(port)
    await cursed.login("1666")  # the presence callback raised: still logged in
    good = await lab.raw(port)
    await good.login("1001")
    assert server.available_users() == {"1001", "1666"}
    assert server.publish(user_node("1666"), update(user_node("1666"))) == 0  # no auto nodes
    assert server.publish(SYSTEMINFO, update(SYSTEMINFO)) == 1
    await cursed.ping()
    await good.expect("</message>")


async def test_stanza_before_auth_is_a_stream_error(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    raw.open_stream()
    await raw.expect("</stream:features>")
    raw.send("<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in (
        await raw.until_closed()
    )


async def test_presence_callbacks_follow_the_users_first_and_last_resource(lab: Lab) -> None:
    _, port = await lab.server()
    a = await lab.raw(port)
    await a.login("1001", "a")
    await lab.sim.presence_of("1001", True)
    b = await lab.raw(port)
    await b.login("1001", "b")
    a.send("<presence type='unavailable'/>")
    await a.ping()
    assert lab.sim.presence == [("1001", True)]  # b is still there
    b.close()
    await lab.sim.presence_of("1001", False)
    a.send("<presence/>")
    await lab.sim.presence_of("1001", True, count=2)
    a.close()
    await lab.sim.presence_of("1001", False, count=2)
    assert lab.sim.presence == [("1001", True), ("1001", False)] * 2


async def test_presence_false_when_a_slixmpp_client_disconnects(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    assert server.available_users() == {"1001"}
    xmpp.disconnect()
    await lab.sim.presence_of("1001", False)
    assert server.available_users() == set()
    await lab.sim.until(lambda: server.session_count == 0)


async def test_closing_the_stream_is_answered_and_closed(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001")
    raw.send("</stream:stream>")
    assert (await raw.until_closed()).endswith("</stream:stream>")
    await lab.sim.presence_of("1001", False)


async def test_whitespace_keepalives_are_allowed(lab: Lab) -> None:
    server, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001")
    raw.send(" \n \t ")
    await raw.ping("after-space")
    raw.send(" " * 70_000)  # more than max_stanza_bytes of keepalives, spread over time
    await raw.ping("after-lots")
    assert server.publish(user_node("1001"), update(user_node("1001"))) == 1


# --- notifications ---------------------------------------------------------------------------


async def test_notification_reaches_slixmpp_with_the_finesse_envelope(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    node = f"{user_node('1001')}/Dialogs"
    payload = update(node)
    assert server.publish(node, payload) == 1
    msg = await next_event(xmpp.notifications)
    assert msg["from"].full == PUBSUB
    assert msg["to"].full == f"1001@{DOMAIN}"
    assert msg.xml.get("type") is None
    assert msg.xml.find("{jabber:client}body") is None
    assert re.fullmatch(
        rf"{re.escape(node)}__1001@{re.escape(DOMAIN)}__[A-Za-z0-9]{{5}}", msg["id"]
    )
    items = msg["pubsub_event"]["items"]
    assert items["node"] == node
    item = next(iter(items))
    assert re.fullmatch(r"[0-9a-f-]{36}\d+", item["id"])
    notification = item["payload"]
    assert notification.tag == f"{{{NS_PUBSUB}}}notification"
    # Update is a child element, in the notification's default namespace (docs/finesse.md,
    # Notification envelope).
    upd = notification.find(f"{{{NS_PUBSUB}}}Update")
    assert upd is not None
    assert upd.findtext(f"{{{NS_PUBSUB}}}source") == node
    assert upd.findtext(f"{{{NS_PUBSUB}}}event") == "PUT"


async def test_notification_raw_bytes_are_exactly_the_envelope(lab: Lab) -> None:
    server, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001")
    node = user_node("1001")
    payload = update(node, state="NOT_READY")
    assert server.publish(node, payload) == 1
    assert server.publish(SYSTEMINFO, update(SYSTEMINFO)) == 1
    await raw.expect(r"^" + envelope_regex(f"1001@{DOMAIN}", node, payload))
    await raw.expect(r"^" + envelope_regex(f"1001@{DOMAIN}", SYSTEMINFO, update(SYSTEMINFO)))


async def test_full_jid_to_puts_the_full_jid_in_to(lab: Lab) -> None:
    server, port = await lab.server(full_jid_to=True)
    raw = await lab.raw(port)
    jid = await raw.login("1001", "mobile")
    node = user_node("1001")
    assert server.publish(node, update(node)) == 1
    await raw.expect(r"^" + envelope_regex(jid, node, update(node)))


async def test_no_delivery_before_presence_or_with_negative_priority(lab: Lab) -> None:
    server, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001", presence=False)
    node = user_node("1001")
    assert server.publish(node, update(node, "A")) == 0
    await raw.presence(priority=-1)
    await raw.ping()
    assert server.publish(node, update(node, "B")) == 0
    assert lab.sim.presence == []  # negative priority is not "available"
    await raw.presence(priority=0)
    await lab.sim.presence_of("1001", True)
    assert server.publish(node, update(node, "C")) == 1
    await raw.expect(r"<message ")
    await raw.expect(r"<state>C</state>")
    await raw.presence(priority=-5)
    await lab.sim.presence_of("1001", False)
    assert server.publish(node, update(node, "D")) == 0


async def test_only_subscribers_receive(lab: Lab) -> None:
    server, port = await lab.server()
    a = await lab.raw(port)
    await a.login("1001")
    b = await lab.raw(port)
    await b.login("1002")
    assert server.publish(user_node("1001"), update(user_node("1001"))) == 1
    assert server.publish(SYSTEMINFO, update(SYSTEMINFO)) == 2
    assert server.publish("/finesse/api/Queue/7", update("/finesse/api/Queue/7")) == 0
    await b.expect(rf"<items node='{re.escape(SYSTEMINFO)}'>")
    assert "<message" not in b.buf


async def test_every_available_resource_receives(lab: Lab) -> None:
    server, port = await lab.server()
    a = await lab.raw(port)
    await a.login("1001", "a")
    b = await lab.raw(port)
    await b.login("1001", "b")
    assert server.publish(user_node("1001"), update(user_node("1001"))) == 2
    await a.expect("</message>")
    await b.expect("</message>")


# --- messages between users (a stock server routes them, stamping 'from') --------------------


def forged_notification(to: str, node: str, payload: str, *, from_: str = PUBSUB) -> str:
    """A pubsub event message shaped exactly like the service's, written by a client."""
    return (
        f"<message from='{from_}' to='{to}' id='{node}__{to}__AAAAA'>"
        f"<event xmlns='{NS_PUBSUB_EVENT}'><items node='{node}'><item id='i1'>"
        f"<notification xmlns='{NS_PUBSUB}'>{payload}</notification></item></items></event>"
        "</message>"
    )


async def next_message(raw: Raw) -> ET.Element:
    """The next message, parsed alone: its jabber:client names (the stream's default
    namespace) come out without a namespace, those declared inside it with theirs."""
    return ET.fromstring((await raw.expect(r"<message .*?</message>")).group(0))


async def two_resources_and_a_sender(lab: Lab) -> tuple[Raw, Raw, Raw, str]:
    """1001 available on 'desk' and 'phone', and 1007 logged in: (desk, phone, 1007, its JID)."""
    _, port = await lab.server()
    desk = await lab.raw(port)
    await desk.login("1001", "desk")
    phone = await lab.raw(port)
    await phone.login("1001", "phone")
    sender = await lab.raw(port)
    return desk, phone, sender, await sender.login("1007", "evil")


async def test_a_users_message_reaches_the_other_user_from_the_senders_full_jid(lab: Lab) -> None:
    desk, phone, sender, sender_jid = await two_resources_and_a_sender(lab)
    node = user_node("1001")
    sender.send(forged_notification(f"1001@{DOMAIN}", node, update(node, "LOGOUT")))
    for victim in (desk, phone):  # a bare JID: every available resource
        message = await next_message(victim)
        assert message.get("from") == sender_jid == f"1007@{DOMAIN}/evil"  # not the pubsub's
        assert message.get("to") == f"1001@{DOMAIN}"
        items = message.find(f"{{{NS_PUBSUB_EVENT}}}event/{{{NS_PUBSUB_EVENT}}}items")
        assert items is not None and items.get("node") == node
        assert message.findtext(f".//{{{NS_PUBSUB}}}state") == "LOGOUT"


async def test_a_message_to_a_full_jid_reaches_that_resource_only(lab: Lab) -> None:
    desk, phone, sender, _ = await two_resources_and_a_sender(lab)
    sender.send(
        f"<message to='1001@{DOMAIN}/phone' type='chat' xml:lang='en'>"
        "<body>one</body><x xmlns='urn:example' xmlns:e='urn:e' e:a='1'>&amp;t</x></message>"
    )
    sender.send(f"<message to='1001@{DOMAIN}' type='chat'><body>two</body></message>")
    first = await next_message(phone)
    assert first.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    extra = first.find("{urn:example}x")  # relayed as written, namespaces and all
    assert extra is not None and (extra.get("{urn:e}a"), extra.text) == ("1", "&t")
    assert [first.findtext("body"), (await next_message(phone)).findtext("body")] == [
        "one",
        "two",
    ]
    # In order from one sender: had "one" reached the desk, it would come first.
    assert (await next_message(desk)).findtext("body") == "two"
    # A resource that is not connected: chat falls back to the bare JID.
    sender.send(f"<message to='1001@{DOMAIN}/gone' type='chat'><body>three</body></message>")
    assert (await next_message(desk)).findtext("body") == "three"


@pytest.mark.parametrize(
    "to", [f"9999@{DOMAIN}", f"1002@{DOMAIN}", PUBSUB, DOMAIN, "1001@elsewhere.example"]
)
async def test_a_message_nobody_takes_bounces_and_an_error_never_does(lab: Lab, to: str) -> None:
    _, port = await lab.server()
    absent = await lab.raw(port)
    await absent.login("1002", presence=False)  # connected, not available
    sender = await lab.raw(port)
    await sender.login("1007")
    sender.send(f"<message to='{to}' type='error' id='e1'><body>x</body></message>")
    sender.send(f"<message to='{to}' id='m1'><body>x</body></message>")
    bounce = await next_message(sender)
    assert (bounce.get("id"), bounce.get("type")) == ("m1", "error")  # nothing for e1
    assert bounce.find(f".//{{{NS_STANZA_ERRORS}}}service-unavailable") is not None
    assert "<message" not in absent.buf


# --- explicit subscriptions -------------------------------------------------------------------


async def test_subscribe_allowed_and_forbidden_then_unsubscribe(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    ps = xmpp.plugin["xep_0060"]
    assert server.publish(TEAM_OK, update(TEAM_OK)) == 0

    result = await ps.subscribe(PUBSUB, TEAM_OK, bare=False, timeout=TIMEOUT)
    sub = result["pubsub"]["subscription"]
    assert (sub["node"], sub["subscription"]) == (TEAM_OK, "subscribed")
    assert sub["jid"].full == f"1001@{DOMAIN}/desk"
    assert sub["subid"]

    with pytest.raises(IqError) as refused:
        await ps.subscribe(PUBSUB, TEAM_NO, timeout=TIMEOUT)
    assert (refused.value.condition, refused.value.etype) == ("forbidden", "auth")

    assert server.publish(TEAM_OK, update("/finesse/api/User/1002")) == 1
    msg = await next_event(xmpp.notifications)
    assert msg["pubsub_event"]["items"]["node"] == TEAM_OK

    await ps.unsubscribe(PUBSUB, TEAM_OK, timeout=TIMEOUT)
    assert server.publish(TEAM_OK, update("/finesse/api/User/1002")) == 0
    with pytest.raises(IqError) as again:
        await ps.unsubscribe(PUBSUB, TEAM_OK, timeout=TIMEOUT)
    assert again.value.condition == "unexpected-request"
    assert again.value.iq.xml.find(f".//{{{NS_PUBSUB_ERRORS}}}not-subscribed") is not None


async def test_subscribe_for_someone_else_is_invalid_jid(lab: Lab) -> None:
    _, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    with pytest.raises(IqError) as err:
        await xmpp.plugin["xep_0060"].subscribe(
            PUBSUB, TEAM_OK, subscribee=f"1002@{DOMAIN}", timeout=TIMEOUT
        )
    assert (err.value.condition, err.value.etype) == ("bad-request", "modify")
    assert err.value.iq.xml.find(f".//{{{NS_PUBSUB_ERRORS}}}invalid-jid") is not None


async def test_subscription_persists_across_reconnect(lab: Lab) -> None:
    server, port = await lab.server()
    first = await lab.client(port, "1001", resource="one")
    await first.plugin["xep_0060"].subscribe(PUBSUB, TEAM_OK, timeout=TIMEOUT)
    first.abort()
    await lab.sim.presence_of("1001", False)
    assert server.publish(TEAM_OK, update("/finesse/api/User/1002")) == 0  # nobody available

    second = await lab.client(port, "1001", resource="two")
    subs = await second.plugin["xep_0060"].get_subscriptions(PUBSUB, timeout=TIMEOUT)
    listed = [(s["node"], s["subscription"]) for s in subs["pubsub"]["subscriptions"]]
    assert listed == [(TEAM_OK, "subscribed")]
    assert server.publish(TEAM_OK, update("/finesse/api/User/1002")) == 1
    msg = await next_event(second.notifications)
    assert msg["to"].bare == f"1001@{DOMAIN}"


async def test_clients_may_not_publish(lab: Lab) -> None:
    _, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    with pytest.raises(IqError) as err:
        await xmpp.plugin["xep_0060"].publish(
            PUBSUB, TEAM_OK, payload=ET.Element("{urn:x}y"), timeout=TIMEOUT
        )
    assert err.value.condition == "forbidden"


# --- other iqs --------------------------------------------------------------------------------


async def test_ping_disco_roster_and_unknown_iq(lab: Lab) -> None:
    _, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    ping = xmpp.plugin["xep_0199"]
    assert await ping.ping(DOMAIN, timeout=TIMEOUT) >= 0
    assert await ping.ping(PUBSUB, timeout=TIMEOUT) >= 0

    info = await xmpp.plugin["xep_0030"].get_info(jid=PUBSUB, timeout=TIMEOUT)
    identities = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
    assert ("pubsub", "service") in identities
    assert NS_PUBSUB in info["disco_info"]["features"]

    roster = await xmpp.get_roster(timeout=TIMEOUT)
    assert list(roster["roster"]["items"]) == []

    version = xmpp.Iq(stype="get", sto=DOMAIN)
    version.xml.append(ET.Element("{jabber:iq:version}query"))
    with pytest.raises(IqError) as err:
        await version.send(timeout=TIMEOUT)
    assert (err.value.condition, err.value.etype) == ("service-unavailable", "cancel")


async def test_session_iq_is_answered(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001", presence=False)
    raw.send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    await raw.expect("<iq type='result' id='s1'")


# --- misbehaving clients ----------------------------------------------------------------------

_HEADER = (
    f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client'"
    f" xmlns:stream='{NS_STREAM}' version='1.0'>"
)
BAD_INPUT = {
    "garbage": (b"\x00\xff\xfe<<<>>> definitely not XML", "not-well-formed"),
    "doctype": (
        (
            "<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY lol 'lol'>]>"
            f"<stream:stream xmlns='jabber:client' xmlns:stream='{NS_STREAM}' version='1.0'>"
        ).encode(),
        "restricted-xml",
    ),
    "undefined-entity": ((_HEADER + "<iq>&lol;</iq>").encode(), "not-well-formed"),
    "huge-stanza": (
        (_HEADER + "<message><body>" + "A" * 70_000 + "</body></message>").encode(),
        "policy-violation",
    ),
    "huge-unfinished": ((_HEADER + "<message><body>" + "A" * 70_000).encode(), "policy-violation"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
async def test_bad_input_closes_only_that_connection(lab: Lab, case: str) -> None:
    server, port = await lab.server()
    good = await lab.raw(port)
    await good.login("1001")
    bad = await lab.raw(port)
    data, condition = BAD_INPUT[case]
    bad.send(data)
    received = await bad.until_closed()
    assert f"<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in received
    assert received.endswith("</stream:error></stream:stream>")
    node = user_node("1001")
    assert server.publish(node, update(node)) == 1
    await good.expect(envelope_regex(f"1001@{DOMAIN}", node, update(node)))


async def test_huge_stanza_after_login_drops_the_user(lab: Lab) -> None:
    server, port = await lab.server(max_stanza_bytes=4096)
    raw = await lab.raw(port)
    await raw.login("1001")
    raw.send("<message to='x@y'><body>" + "B" * 5000 + "</body></message>")
    assert "<policy-violation " in await raw.until_closed()
    await lab.sim.presence_of("1001", False)
    assert server.session_count == 0


async def test_client_that_stops_reading_is_dropped(lab: Lab) -> None:
    server, port = await lab.server(max_send_buffer=256 * 1024)
    stuck = await lab.raw(port)
    await stuck.login("1001")  # ... and never reads again
    node = user_node("1001")
    big = update(node, state="R" * 16_000)
    # Loopback socket buffers take a few MB first; then our own buffer passes the limit.
    for _ in range(5_000):
        if server.publish(node, big) == 0:
            break
    else:
        pytest.fail("a client that never reads was never dropped")
    await lab.sim.presence_of("1001", False)
    assert server.session_count == 0


async def test_client_that_never_authenticates_is_timed_out(lab: Lab) -> None:
    _, port = await lab.server(auth_timeout=0.2)
    good = await lab.raw(port)
    await good.login("1001")
    idle = await lab.raw(port)
    idle.open_stream()
    assert "<connection-timeout " in await idle.until_closed()
    await good.ping()  # the authenticated one is untouched


async def test_passwords_never_reach_the_log(lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="finesse_sim.xmpp")
    _, port = await lab.server()
    raw = await lab.raw(port)
    await raw.login("1001")
    bad = await lab.raw(port)
    await bad.auth("1002", "s3cr3t-wrong")
    await bad.expect("<not-authorized/>")
    secrets = [password("1001"), "s3cr3t-wrong"]
    secrets += [
        base64.b64encode(f"\0{u}\0{p}".encode()).decode()
        for u, p in [("1001", password("1001")), ("1002", "s3cr3t-wrong")]
    ]
    for secret in secrets:
        assert secret not in caplog.text


# --- TLS -------------------------------------------------------------------------------------


async def test_starttls_with_the_generated_certificate(lab: Lab) -> None:
    server_ctx, _ = client_tls()
    server, port = await lab.server(tls_context=server_ctx)
    xmpp = await lab.client(port, "1001")
    assert "starttls" in xmpp.features
    (session,) = server.registry.connections
    assert session.tls
    node = user_node("1001")
    assert server.publish(node, update(node)) == 1
    msg = await next_event(xmpp.notifications)
    assert msg["pubsub_event"]["items"]["node"] == node


async def test_starttls_raw_features_before_and_after(lab: Lab) -> None:
    server_ctx, client_ctx = client_tls()
    _, port = await lab.server(tls_context=server_ctx)
    raw = await lab.raw(port)
    raw.open_stream()
    features = (await raw.expect("<stream:features>.*?</stream:features>")).group(0)
    assert f"<starttls xmlns='{NS_TLS}'><required/></starttls>" in features
    assert "<mechanism>PLAIN</mechanism>" in features  # listed, as Openfire does
    raw.send(f"<starttls xmlns='{NS_TLS}'/>")
    await raw.expect(f"<proceed xmlns='{NS_TLS}'/>")
    await raw.writer.start_tls(client_ctx, server_hostname=DOMAIN)
    raw.open_stream()
    features = (await raw.expect("<stream:features>.*?</stream:features>")).group(0)
    assert "starttls" not in features
    assert "<mechanism>PLAIN</mechanism>" in features
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain_token('1001')}</auth>")
    await raw.expect(f"<success xmlns='{NS_SASL}'/>")


class CountingSim(Sim):
    """Records every password check the server asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[str] = []

    def authenticate(self, user: str, pw: str) -> bool:
        self.checked.append(user)
        return super().authenticate(user, pw)


@pytest.mark.parametrize("step", ["auth", "auth-empty", "iq"])
async def test_with_tls_nothing_but_starttls_is_taken_in_the_clear(lab: Lab, step: str) -> None:
    lab.sim = CountingSim()
    server_ctx, _ = client_tls()
    server, port = await lab.server(tls_context=server_ctx)
    raw = await lab.raw(port)
    raw.open_stream()
    await raw.expect("</stream:features>")
    raw.send(
        {
            "auth": f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain_token('1001')}</auth>",
            "auth-empty": f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'/>",
            "iq": "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
        }[step]
    )
    received = await raw.until_closed()
    # Openfire's answer when TLS is required and was never negotiated (a stream error, no
    # SASL <failure/>): the right password is refused and never even checked.
    assert "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in received
    assert "<success" not in received and "<challenge" not in received
    assert lab.sim.checked == []
    assert server.session_count == 0


async def test_a_stock_client_without_starttls_is_refused_when_tls_is_on(lab: Lab) -> None:
    server_ctx, _ = client_tls()
    server, port = await lab.server(tls_context=server_ctx)
    _, client_ctx = client_tls()
    xmpp = ClientXMPP(
        f"1001@{DOMAIN}/desk",
        password("1001"),
        ssl_context=client_ctx,
        plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
    )
    xmpp.enable_starttls = False
    xmpp.enable_direct_tls = False
    xmpp.enable_plaintext = True
    lab.xmpps.append(xmpp)
    started = asyncio.get_running_loop().create_future()
    xmpp.add_event_handler("session_start", lambda _: started.done() or started.set_result(1))
    xmpp.add_event_handler(
        "disconnected", lambda _: started.done() or started.set_exception(ConnectionError())
    )
    xmpp.connect("127.0.0.1", port)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(started, TIMEOUT)
    assert server.session_count == 0


async def test_allow_plaintext_auth_takes_sasl_before_starttls(lab: Lab) -> None:
    server_ctx, _ = client_tls()
    _, port = await lab.server(tls_context=server_ctx, allow_plaintext_auth=True)
    raw = await lab.raw(port)
    raw.open_stream()
    features = (await raw.expect("<stream:features>.*?</stream:features>")).group(0)
    assert f"<starttls xmlns='{NS_TLS}'/>" in features  # offered, not required
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain_token('1001')}</auth>")
    await raw.expect(f"<success xmlns='{NS_SASL}'/>")


async def test_without_tls_there_is_no_starttls_and_sasl_is_in_the_clear(lab: Lab) -> None:
    _, port = await lab.server()
    raw = await lab.raw(port)
    raw.open_stream()
    features = (await raw.expect("<stream:features>.*?</stream:features>")).group(0)
    assert "starttls" not in features
    raw.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain_token('1001')}</auth>")
    await raw.expect(f"<success xmlns='{NS_SASL}'/>")


async def test_failed_tls_handshake_costs_only_that_connection(lab: Lab) -> None:
    server_ctx, _ = client_tls()
    # The bystander logs in in the clear: allowed here, the subject is the handshake.
    server, port = await lab.server(tls_context=server_ctx, allow_plaintext_auth=True)
    good = await lab.raw(port)
    await good.login("1001")
    (good_session,) = server.registry.alive
    raw = await lab.raw(port)
    raw.open_stream()
    await raw.expect("</stream:features>")
    raw.send(f"<starttls xmlns='{NS_TLS}'/>")
    await raw.expect("<proceed ")
    (session,) = server.registry.alive - {good_session}
    distrusting = ssl.create_default_context()  # does not know the sim's CA
    with pytest.raises(ssl.SSLCertVerificationError):
        await raw.writer.start_tls(distrusting, server_hostname=DOMAIN)
    await asyncio.wait_for(session.closed, TIMEOUT)
    assert server.registry.alive == {good_session}
    assert server.publish(SYSTEMINFO, update(SYSTEMINFO)) == 1
    await good.expect("</message>")


async def test_direct_tls_delivers_notifications(lab: Lab) -> None:
    server_ctx, _ = client_tls()
    server, _ = await lab.server(tls_context=server_ctx, tls_port=0)
    tls_port = lab.tls_port
    assert tls_port
    xmpp = await lab.client(tls_port, "1001", direct_tls=True)
    assert xmpp.auth_ok
    node = user_node("1001")
    assert server.publish(node, update(node)) == 1
    msg = await next_event(xmpp.notifications)
    assert msg["pubsub_event"]["items"]["node"] == node


def test_self_signed_certificate_names_and_cache() -> None:
    ctx1, ca1 = self_signed_context([DOMAIN, "finesse-b.sim.local"])
    ctx2, ca2 = self_signed_context(["finesse-b.sim.local", DOMAIN])
    assert (ctx1, ca1) == (ctx2, ca2)
    leaf = x509.load_pem_x509_certificate((ca1.parent / "server.pem").read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {DOMAIN, "finesse-b.sim.local"} <= set(san.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


# --- faults and state switches ----------------------------------------------------------------


async def test_drop_all_sessions(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    raw = await lab.raw(port)
    await raw.login("1002")
    server.drop_all_sessions()
    await asyncio.wait_for(xmpp.disconnected, TIMEOUT)
    await raw.until_closed()
    await lab.sim.presence_of("1001", False)
    await lab.sim.presence_of("1002", False)
    assert server.session_count == 0
    assert server.available_users() == set()


async def test_set_refusing_drops_and_refuses_then_accepts(lab: Lab) -> None:
    server_ctx, client_ctx = client_tls()
    server, port = await lab.server(tls_context=server_ctx, tls_port=0, allow_plaintext_auth=True)
    tls_port = lab.tls_port
    assert tls_port
    raw = await lab.raw(port)
    await raw.login("1001")
    server.set_refusing(True)
    await raw.until_closed()
    await lab.sim.presence_of("1001", False)
    for refused_port in (port, tls_port):
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", refused_port)
    server.set_refusing(False)
    again = await lab.client(port, "1001")
    assert again.auth_ok
    assert server.available_users() == {"1001"}
    secure = await lab.raw(tls_port, tls=client_ctx)  # the direct-TLS listener is back too
    await secure.login("1002")


async def test_finesse_presence_is_pushed(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    first = await next_event(xmpp.presences)
    assert (first["from"].full, first["type"]) == (FINESSE, "available")
    server.set_finesse_presence(False)
    down = await next_event(xmpp.presences)
    assert (down["from"].full, down["type"]) == (FINESSE, "unavailable")
    server.set_finesse_presence(True)
    up = await next_event(xmpp.presences)
    assert (up["from"].full, up["type"]) == (FINESSE, "available")


async def test_new_session_sees_finesse_unavailable(lab: Lab) -> None:
    server, port = await lab.server()
    server.set_finesse_presence(False)
    raw = await lab.raw(port)
    await raw.login("1001", presence=False)
    await raw.presence()
    await raw.expect(f"<presence from='{FINESSE}' to='1001@{DOMAIN}/raw' type='unavailable'/>")


async def test_same_full_jid_kicks_the_first_with_conflict(lab: Lab) -> None:
    server, port = await lab.server()
    first = await lab.client(port, "1001", resource="desk")
    second = await lab.client(port, "1001", resource="desk", presence=False)
    await asyncio.wait_for(first.disconnected, TIMEOUT)
    assert [e["condition"] for e in first.stream_errors] == ["conflict"]
    assert second.auth_ok
    assert server.session_count == 1
    await lab.sim.presence_of("1001", False)
    second.send_presence(ppriority=0)
    await lab.sim.presence_of("1001", True, count=2)
    node = user_node("1001")
    assert server.publish(node, update(node)) == 1
    await next_event(second.notifications)


async def test_stop_closes_every_session(lab: Lab) -> None:
    server, port = await lab.server()
    xmpp = await lab.client(port, "1001")
    await server.stop()
    await asyncio.wait_for(xmpp.disconnected, TIMEOUT)
    assert [e["condition"] for e in xmpp.stream_errors] == ["system-shutdown"]
    await lab.sim.presence_of("1001", False)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
