"""Only Finesse's notifications are believed (docs/security.md): `NotificationSession._take`
delivers a pubsub event only from the pubsub service's JID, and the 'finesse' user's
presence only from that user, whatever a stanza's payload says."""

from __future__ import annotations

import logging
import ssl
import xml.etree.ElementTree as ET

import pytest

from connector.finesse import codec, xmpp
from connector.finesse.models import Update, User
from connector.finesse.xmpp import NotificationSession, XmppEndpoint, _Connection

DOMAIN = "finesse-a.example.com"
NODE = "/finesse/api/User/1001"


def notification(sender: str | None, state: str = "LOGOUT") -> ET.Element:
    update = codec.update_to_xml(Update("PUT", NODE, User(login_id="1001", state=state)))
    from_ = f" from='{sender}'" if sender is not None else ""
    return ET.fromstring(
        f"<message xmlns='jabber:client'{from_} to='1001@{DOMAIN}'>"
        "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
        f"<items node='{NODE}'><item id='i'>"
        f"<notification xmlns='http://jabber.org/protocol/pubsub'>{update}</notification>"
        "</item></items></event></message>"
    )


def presence(sender: str, kind: str | None = None) -> ET.Element:
    type_ = f" type='{kind}'" if kind else ""
    return ET.fromstring(f"<presence xmlns='jabber:client' from='{sender}'{type_}/>")


class Harness:
    def __init__(self, endpoint: XmppEndpoint) -> None:
        self.updates: list[str] = []
        self.dropped = 0
        self.session = NotificationSession(
            "1001",
            "secret",
            endpoint,
            ssl_context=ssl.create_default_context(),
            on_update=lambda _node, update: self.updates.append(update.data.state),
            on_dropped=self._on_dropped,
        )
        self.conn = _Connection(None, endpoint)  # type: ignore[arg-type]
        self.session._conn = self.conn

    def _on_dropped(self) -> None:
        self.dropped += 1

    def take(self, element: ET.Element) -> bool:
        return self.session._take(self.conn, element)


@pytest.fixture(autouse=True)
def fresh_sender_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xmpp, "_logged_senders", set())


async def test_a_notification_from_the_pubsub_service_is_delivered():
    h = Harness(XmppEndpoint("127.0.0.1", 5222, DOMAIN))
    assert h.take(notification(f"pubsub.{DOMAIN}", "READY"))
    assert h.take(notification(f"PubSub.{DOMAIN.upper()}", "NOT_READY"))  # a domain's case
    assert h.updates == ["READY", "NOT_READY"]
    assert (h.session.dropped, h.dropped) == (0, 0)


async def test_the_pubsub_jid_is_systeminfos_xmpp_pubsub_domain_when_given():
    h = Harness(XmppEndpoint("127.0.0.1", 5222, DOMAIN, pubsub_domain="events.example.com"))
    assert h.take(notification("events.example.com", "READY"))
    assert h.take(notification(f"pubsub.{DOMAIN}"))
    assert h.updates == ["READY"] and h.dropped == 1


@pytest.mark.parametrize(
    "sender",
    [
        f"1007@{DOMAIN}/evil",  # another agent: the server stamped its own JID
        f"1007@{DOMAIN}",
        f"finesse@{DOMAIN}/x",  # even the 'finesse' user does not publish
        f"pubsub.{DOMAIN}/x",  # not the service's JID
        f"x@pubsub.{DOMAIN}",
        f"pubsub.{DOMAIN}.evil.example",
        DOMAIN,
        None,  # no sender
    ],
)
async def test_a_notification_from_anyone_else_is_dropped_and_counted(sender: str | None):
    h = Harness(XmppEndpoint("127.0.0.1", 5222, DOMAIN))
    assert h.take(notification(sender))  # consumed: slixmpp never sees it either
    assert h.updates == []
    assert (h.session.dropped, h.dropped) == (1, 1)


async def test_each_sender_is_logged_once_and_the_logged_senders_are_bounded(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(xmpp, "_MAX_LOGGED_SENDERS", 3)
    h = Harness(XmppEndpoint("127.0.0.1", 5222, DOMAIN))
    with caplog.at_level(logging.WARNING, logger="connector.finesse.xmpp"):
        for resource in ("a", "b", "c"):  # one sender (bare JID), however many resources
            h.take(notification(f"1007@{DOMAIN}/{resource}"))
        for n in range(8, 20):
            h.take(notification(f"10{n:02d}@{DOMAIN}/x"))
    lines = [r.getMessage() for r in caplog.records]
    assert sum(f"1007@{DOMAIN}/a" in line for line in lines) == 1
    assert not any(f"1007@{DOMAIN}/b" in line for line in lines)
    assert len(lines) == 4 and "no longer logging" in lines[-1]
    assert len(xmpp._logged_senders) == 4
    assert h.dropped == 15


async def test_the_finesse_users_presence_is_believed_only_from_that_user():
    h = Harness(XmppEndpoint("127.0.0.1", 5222, DOMAIN))
    assert h.take(presence(f"finesse@{DOMAIN.upper()}/webapp", "unavailable"))
    assert h.session.finesse_available is False
    for forged in (f"1007@{DOMAIN}/finesse", f"FINESSE@{DOMAIN}", f"finesse@{DOMAIN}.evil"):
        assert not h.take(presence(forged))  # not the finesse user's: slixmpp's business
        assert h.session.finesse_available is False
    assert h.take(presence(f"finesse@{DOMAIN}"))
    assert h.session.finesse_available is True
