"""The notification session's stream reader (`_Client.data_received`, a lean copy of
slixmpp's loop): the same stanzas, in the same order, as slixmpp's own reader, whatever the
chunking; the stream's start and end; a stream restart; a parse error answered as
slixmpp answers it. slixmpp is pinned to 1.17 for this."""

from __future__ import annotations

import ssl
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.xmlstream import XMLStream

from connector.finesse.xmpp import NotificationSession, XmppEndpoint, _Client
from scenarios.bench.hot_path import STREAM_HEADER, notifications

ENDPOINT = XmppEndpoint("127.0.0.1", 5222, "finesse.example.com")


def client() -> tuple[_Client, list[str], list[str]]:
    """A session's client with its stream parser, recording the stanzas it hands on and
    the streams it sees open."""
    session = NotificationSession(
        "1001", "secret", ENDPOINT, ssl_context=ssl.create_default_context(), on_update=print
    )
    xmpp = session._build(ENDPOINT).xmpp
    stanzas: list[str] = []
    opened: list[str] = []
    xmpp.take = lambda xml: stanzas.append(ET.tostring(xml, encoding="unicode")) or True
    xmpp.start_stream_handler = lambda root: opened.append(root.get("id", ""))
    xmpp.init_parser()
    return xmpp, stanzas, opened


def the_wire() -> bytes:
    presence = b"<presence from='finesse@finesse.example.com/desktop'/>"
    iq = b"<iq type='result' id='x1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
    return STREAM_HEADER + b"".join(notifications(6)) + presence + iq


def test_slixmpp_is_the_pinned_minor_version():
    assert slixmpp.__version__.startswith("1.17"), slixmpp.__version__


async def test_the_same_stanzas_as_slixmpps_reader_in_any_chunking():
    wire = the_wire()
    theirs, their_stanzas, their_opened = client()
    XMLStream.data_received(theirs, wire)
    assert len(their_stanzas) == 8 and their_opened == ["s1"]
    for size in (len(wire), 1, 7, 100, 1000):
        ours, our_stanzas, our_opened = client()
        for i in range(0, len(wire), size):
            ours.data_received(wire[i : i + size])
        assert our_stanzas == their_stanzas, size
        assert our_opened == their_opened
        assert ours.xml_depth == 1
        assert ours.xml_root is not None and len(ours.xml_root) == 0  # the root kept empty


async def test_the_end_of_the_stream_aborts_the_connection():
    ours, stanzas, _ = client()
    aborted: list[str] = []
    ours.abort = lambda: aborted.append(ours.disconnect_reason)  # type: ignore[method-assign]
    ours.data_received(STREAM_HEADER + notifications(1)[0] + b"</stream:stream>")
    assert len(stanzas) == 1
    assert aborted == ["End of stream"]
    assert ours.xml_depth == 0


async def test_a_stream_restart_inside_a_stanza_handler_starts_counting_again():
    # SASL success: slixmpp restarts the stream from the handler, with a new parser.
    ours, stanzas, opened = client()
    restarted = []

    def take(xml: ET.Element) -> bool:
        stanzas.append(xml.tag)
        if not restarted:
            restarted.append(True)
            ours.init_parser()
        return True

    ours.take = take
    ours.data_received(STREAM_HEADER + b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    assert ours.xml_depth == 0
    ours.data_received(STREAM_HEADER.replace(b"id='s1'", b"id='s2'") + notifications(1)[0])
    assert opened == ["s1", "s2"]
    assert len(stanzas) == 2 and ours.xml_depth == 1


async def test_a_parse_error_answers_not_well_formed_and_disconnects():
    ours, stanzas, _ = client()
    sent: list[str] = []
    disconnected: list[bool] = []
    ours.send = lambda stanza, *a, **k: sent.append(str(stanza))  # type: ignore[method-assign]
    ours.disconnect = lambda *a, **k: disconnected.append(True)  # type: ignore[method-assign]
    ours.data_received(STREAM_HEADER + b"<message><oops></message>")
    assert "not-well-formed" in sent[0]
    assert "secret" not in sent[0] and "oops" not in sent[0]  # nothing of the input echoed
    assert disconnected == [True]
    assert stanzas == []


async def test_the_hot_path_benchmark_relays_every_notification_it_times():
    from scenarios.bench.hot_path import measure

    stages = measure(50)  # raises unless all 50 were parsed and became one frame each
    assert set(stages) == {"stream", "codec", "relay"}
    assert all(us > 0 for us in stages.values())
