"""The premise of the connector's GC policy (connector/gc_policy.py): relaying notifications in
steady state makes no garbage cycles. While sign-ins are settled, young objects are frozen
every 0.1 s and a cycle that dies frozen is only reclaimed by the full collection every 10
minutes, so a hot path that made cycles would grow memory in between. This walks the hot
path from a parsed stanza, as the XMPP stream hands it over, to the event's frame."""

from __future__ import annotations

import gc
import ssl
import xml.etree.ElementTree as ET
from itertools import cycle

from connector.finesse import codec
from connector.finesse.models import ReasonCode, Update, User
from connector.finesse.xmpp import NotificationSession, XmppEndpoint, _Connection
from connector.session.agent_session import AgentSession
from connector.stream import EventStream

ENDPOINT = XmppEndpoint("127.0.0.1", 5222, "finesse.example.com")


def stanza(state: str, rid: str) -> ET.Element:
    reason = ReasonCode(id="1", category="NOT_READY", code="1", label="Break", uri="/r/1")
    user = User(
        login_id="1001",
        state=state,
        extension="5001",
        reason_code=reason if state == "NOT_READY" else None,
        reason_code_id="1" if state == "NOT_READY" else "",
    )
    update = codec.update_to_xml(Update("PUT", "/finesse/api/User/1001", user, rid))
    return ET.fromstring(
        "<message xmlns='jabber:client' from='pubsub.finesse.example.com' to='1001@x/m'>"
        "<event xmlns='http://jabber.org/protocol/pubsub#event'>"
        "<items node='/finesse/api/User/1001'><item id='i'>"
        f"<notification xmlns='http://jabber.org/protocol/pubsub'>{update}</notification>"
        "</item></items></event></message>"
    )


async def test_relaying_notifications_leaves_no_garbage_cycles():
    core = AgentSession("1001", "5001", call_control=False)
    stream = EventStream(core.snapshot, buffer_size=50)
    reader = stream.reader(since=0)

    def relay(_node: str, update: Update) -> None:
        for event in core.apply(update):
            stream.publish(event)

    session = NotificationSession(
        "1001", "secret", ENDPOINT, ssl_context=ssl.create_default_context(), on_update=relay
    )
    conn = _Connection(None, ENDPOINT)  # type: ignore[arg-type]
    session._conn = conn
    stanzas = cycle([stanza("READY", ""), stanza("NOT_READY", "")])
    for _ in range(10):  # warm-up: first-time caches, the session's first User
        assert session._take(conn, next(stanzas))
    reader.take()
    gc.collect()
    gc.disable()
    try:
        for _ in range(1000):
            assert session._take(conn, next(stanzas))
            assert reader.take()  # each notification became an event on the stream
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"{found} objects in garbage cycles after 1,000 notifications"
