"""Wire format of the notification service: every byte the server writes is built here.

Behaviour (who gets what, when) lives in `session`, `registry` and `server`; this module only
knows XML. Outgoing stanzas are built as strings (single-quoted attributes, as Finesse's
Openfire writes them), never by serialising an ElementTree: that keeps the hot path, the
pubsub notification, down to one `bytes.join` per delivery.
"""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_ROSTER = "jabber:iq:roster"
NS_PING = "urn:xmpp:ping"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
NS_XML = "http://www.w3.org/XML/1998/namespace"


def q(name: str, ns: str) -> str:
    """Clark notation, as the parser reports tags: ``{ns}name``."""
    return f"{{{ns}}}{name}"


def attr(value: str) -> str:
    """Escape a value for a single-quoted XML attribute."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
    )


def text(value: str) -> str:
    """Escape character data."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _addr(to: str | None, from_: str | None) -> str:
    out = ""
    if from_:
        out += f" from='{attr(from_)}'"
    if to:
        out += f" to='{attr(to)}'"
    return out


# --- stream level ---------------------------------------------------------------------------

STREAM_END = "</stream:stream>"


def stream_header(domain: str, stream_id: str) -> str:
    return (
        "<?xml version='1.0'?>"
        f"<stream:stream xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}'"
        f" from='{attr(domain)}' id='{attr(stream_id)}' version='1.0' xml:lang='en'>"
    )


def features_pre_auth(*, offer_starttls: bool, starttls_required: bool = False) -> str:
    # Finesse 12.5+ requires STARTTLS by default; without TLS configured, or with plaintext
    # authentication allowed, PLAIN is taken in the clear (docs/finesse.md, Sign-in and presence).
    # The mechanisms are listed either way, as Openfire lists them next to a required STARTTLS.
    if not offer_starttls:
        tls = ""
    elif starttls_required:
        tls = f"<starttls xmlns='{NS_TLS}'><required/></starttls>"
    else:
        tls = f"<starttls xmlns='{NS_TLS}'/>"
    return (
        f"<stream:features>{tls}"
        f"<mechanisms xmlns='{NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms>"
        "</stream:features>"
    )


def features_post_auth() -> str:
    # The session iq is optional (RFC 6121 appendix E) but still answered for old clients.
    return (
        f"<stream:features><bind xmlns='{NS_BIND}'/>"
        f"<session xmlns='{NS_SESSION}'><optional/></session></stream:features>"
    )


def stream_error(condition: str, description: str | None = None) -> str:
    """A stream error plus the closing tag: the stream is over after it."""
    desc = f"<text xmlns='{NS_STREAM_ERRORS}'>{text(description)}</text>" if description else ""
    return (
        f"<stream:error><{condition} xmlns='{NS_STREAM_ERRORS}'/>{desc}</stream:error>{STREAM_END}"
    )


# --- TLS and SASL ---------------------------------------------------------------------------

TLS_PROCEED = f"<proceed xmlns='{NS_TLS}'/>"
SASL_SUCCESS = f"<success xmlns='{NS_SASL}'/>"
SASL_EMPTY_CHALLENGE = f"<challenge xmlns='{NS_SASL}'/>"


def sasl_failure(condition: str) -> str:
    return f"<failure xmlns='{NS_SASL}'><{condition}/></failure>"


# --- iq -------------------------------------------------------------------------------------


def iq_result(iq_id: str, *, to: str | None, from_: str | None, payload: str = "") -> str:
    return f"<iq type='result' id='{attr(iq_id)}'{_addr(to, from_)}>{payload}</iq>"


def iq_error(
    iq_id: str,
    *,
    to: str | None,
    from_: str | None,
    error_type: str,
    condition: str,
    app_condition: str = "",
) -> str:
    """An iq error; `app_condition` is an extra, application-specific element (pubsub#errors)."""
    return (
        f"<iq type='error' id='{attr(iq_id)}'{_addr(to, from_)}>"
        f"<error type='{error_type}'><{condition} xmlns='{NS_STANZA_ERRORS}'/>{app_condition}"
        "</error></iq>"
    )


def pubsub_error(name: str, **attrs: str) -> str:
    extra = "".join(f" {k}='{attr(v)}'" for k, v in attrs.items())
    return f"<{name} xmlns='{NS_PUBSUB_ERRORS}'{extra}/>"


def bind_payload(full_jid: str) -> str:
    return f"<bind xmlns='{NS_BIND}'><jid>{text(full_jid)}</jid></bind>"


def empty_roster() -> str:
    return f"<query xmlns='{NS_ROSTER}'/>"


def disco_info(category: str, type_: str, name: str, features: list[str], node: str = "") -> str:
    node_attr = f" node='{attr(node)}'" if node else ""
    feats = "".join(f"<feature var='{attr(f)}'/>" for f in features)
    return (
        f"<query xmlns='{NS_DISCO_INFO}'{node_attr}>"
        f"<identity category='{category}' type='{type_}' name='{attr(name)}'/>{feats}</query>"
    )


@dataclass(frozen=True)
class Subscription:
    node: str
    jid: str
    subid: str

    def xml(self) -> str:
        return (
            f"<subscription node='{attr(self.node)}' jid='{attr(self.jid)}'"
            f" subscription='subscribed' subid='{attr(self.subid)}'/>"
        )


def subscription_payload(sub: Subscription) -> str:
    return f"<pubsub xmlns='{NS_PUBSUB}'>{sub.xml()}</pubsub>"


def subscriptions_payload(subs: list[Subscription], node: str | None = None) -> str:
    node_attr = f" node='{attr(node)}'" if node else ""
    inner = "".join(s.xml() for s in subs)
    return f"<pubsub xmlns='{NS_PUBSUB}'><subscriptions{node_attr}>{inner}</subscriptions></pubsub>"


# --- presence and messages ------------------------------------------------------------------


def presence(*, from_: str, to: str, available: bool) -> str:
    kind = "" if available else " type='unavailable'"
    return f"<presence{_addr(to, from_)}{kind}/>"


def presence_subscribed(*, from_: str, to: str) -> str:
    return f"<presence{_addr(to, from_)} type='subscribed'/>"


def message_error(msg_id: str | None, *, to: str, from_: str | None, condition: str) -> str:
    id_attr = f" id='{attr(msg_id)}'" if msg_id else ""
    return (
        f"<message type='error'{id_attr}{_addr(to, from_)}>"
        f"<error type='cancel'><{condition} xmlns='{NS_STANZA_ERRORS}'/></error></message>"
    )


def element_xml(element: ET.Element, parent_ns: str = NS_CLIENT) -> str:
    """A parsed stanza (Clark-notation names, as the parser gives them) written back for a
    stream whose default namespace is `parent_ns`: what the server relays from one client to
    another. Namespaces are declared where they change; attribute namespaces get prefixes."""
    out: list[str] = []
    _write_element(element, parent_ns, out)
    return "".join(out)


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def _write_element(element: ET.Element, parent_ns: str, out: list[str]) -> None:
    ns, name = _split(element.tag)
    out.append(f"<{name}")
    if ns != parent_ns:
        out.append(f" xmlns='{attr(ns)}'")
    prefixes = 0
    for key, value in element.attrib.items():
        key_ns, key_name = _split(key)
        if key_ns == NS_XML:
            key_name = f"xml:{key_name}"
        elif key_ns:
            prefixes += 1
            out.append(f" xmlns:a{prefixes}='{attr(key_ns)}'")
            key_name = f"a{prefixes}:{key_name}"
        out.append(f" {key_name}='{attr(value)}'")
    if element.text is None and not len(element):
        out.append("/>")
        return
    out.append(">")
    if element.text:
        out.append(text(element.text))
    for child in element:
        _write_element(child, ns, out)
        if child.tail:
            out.append(text(child.tail))
    out.append(f"</{name}>")


# --- the pubsub notification (hot path) ------------------------------------------------------

_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_choices = random.choices  # not secrets: ids only need to look like Finesse's, not be unguessable


def random_suffix() -> bytes:
    """The 5 random alphanumerics closing a notification id (docs/finesse.md, Notification
    envelope)."""
    return bytes(_choices(_ALNUM, k=5))


def item_id() -> str:
    """A UUID followed by digits, like Openfire's pubsub item ids (docs/finesse.md, Notification
    envelope)."""
    return f"{uuid.uuid4()}{random.randrange(1_000_000, 10_000_000)}"


@dataclass(frozen=True, slots=True)
class Notification:
    """One published item, pre-rendered for fan-out.

    The envelope of docs/finesse.md, Notification envelope differs between recipients only in
    ``to`` and in the ``<bareJid>__<random>`` end of the id, so a delivery is
    ``head + recipient.to_and_id + node_id + recipient.bare_id + random_suffix() + tail``
    where the recipient parts come from `recipient_parts` (computed once per session).
    """

    head: bytes
    node_id: bytes
    tail: bytes

    @classmethod
    def build(cls, service_jid: str, node: str, update_xml: str) -> Notification:
        node_a = attr(node)
        head = f"<message from='{attr(service_jid)}' to='".encode()
        node_id = f"{node_a}__".encode()
        tail = (
            f"'><event xmlns='{NS_PUBSUB_EVENT}'><items node='{node_a}'>"
            f"<item id='{item_id()}'><notification xmlns='{NS_PUBSUB}'>{update_xml}"
            "</notification></item></items></event></message>"
        ).encode()
        return cls(head, node_id, tail)

    def render(self, to_and_id: bytes, bare_id: bytes) -> bytes:
        """One delivery (the fan-out loop in `server` inlines this for speed)."""
        return b"".join((self.head, to_and_id, self.node_id, bare_id, random_suffix(), self.tail))


def recipient_parts(to: str, bare_jid: str) -> tuple[bytes, bytes]:
    """The per-recipient pieces of a notification: (``to`` value + ``' id='``, ``bareJid__``)."""
    return f"{attr(to)}' id='".encode(), f"{attr(bare_jid)}__".encode()
