"""The notification session's XMPP stream (`connector.finesse.xmpp_stream.XmppStream`), fed
bytes as a socket would, with a transport that records what is written: the same stanzas,
in the same order, as parsing the whole stream at once, whatever the chunking; the stream's
start, restart and end; a parse error answered with `not-well-formed` without echoing the
input; iq answers believed only from whom was asked; the SASL payload never in the log."""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import re
import ssl
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from connector.finesse.xmpp_stream import (
    MAX_STANZA_BYTES,
    StanzaError,
    TlsMode,
    XmppConnectError,
    XmppStream,
)
from scenarios.bench.hot_path import STREAM_HEADER, notifications

DOMAIN = "finesse.example.com"
PUBSUB = f"pubsub.{DOMAIN}"
FINESSE_PRESENCE = f"<presence from='finesse@{DOMAIN}/desktop'/>".encode()
SERVER_PING = f"<iq type='get' id='s-1' from='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"


class Wire(asyncio.Transport):
    """A transport that keeps what is written and how the connection was ended."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.ended: str | None = None  # "close" (flushed) or "abort"

    def write(self, data: Any) -> None:
        self.written += data

    def text(self) -> str:
        return self.written.decode()

    def close(self) -> None:
        self.ended = self.ended or "close"

    def abort(self) -> None:
        self.ended = self.ended or "abort"

    def is_closing(self) -> bool:
        return self.ended is not None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Probe:
    """A stream on a `Wire`, its stream opened, recording what it hands to `take` and the
    reasons `on_close` gives."""

    def __init__(self, password: str = "secret") -> None:
        self.taken: list[str] = []
        self.closed: list[str] = []
        self.stream = XmppStream(
            "1001",
            password,
            DOMAIN,
            "mobileagent",
            tls=TlsMode.PLAIN,
            ssl_context=ssl.create_default_context(),
            take=self.take,
            on_close=self.closed.append,
        )
        self.wire = Wire()
        self.stream.connection_made(self.wire)
        self.stream._restart()

    def take(self, xml: ET.Element) -> bool:
        self.taken.append(ET.tostring(xml, encoding="unicode"))
        return True

    def feed(self, data: bytes, size: int | None = None) -> None:
        """As asyncio's transports read: into the stream's buffer, then `buffer_updated`."""
        size = size or len(data)
        for i in range(0, len(data), size):
            self.read(data[i : i + size])

    def read(self, chunk: bytes) -> None:
        buffer = self.stream.get_buffer(-1)
        assert len(buffer) >= len(chunk)
        buffer[: len(chunk)] = chunk
        self.stream.buffer_updated(len(chunk))


def the_wire() -> bytes:
    return STREAM_HEADER + b"".join(notifications(6)) + FINESSE_PRESENCE + SERVER_PING.encode()


async def test_the_same_stanzas_as_the_whole_stream_parsed_at_once_in_any_chunking():
    wire = the_wire()
    whole = ET.fromstring(wire + b"</stream:stream>")
    expected = [ET.tostring(child, encoding="unicode") for child in whole][:7]
    assert len(expected) == 7  # six notifications and the presence; the ping is the iq
    for size in (len(wire), 1, 7, 100, 1000):
        probe = Probe()
        probe.feed(wire, size)
        assert probe.taken == expected, size
        # The server's ping is answered (XEP-0199) once, whatever the chunking.
        assert probe.wire.text().count("<iq type='result' id=\"s-1\"") == 1, size
        assert probe.stream._depth == 1
        assert probe.stream._root is not None and len(probe.stream._root) == 0  # kept empty
        assert probe.wire.ended is None and probe.closed == []


async def test_streams_reading_in_turns_through_the_shared_buffer_keep_their_own_bytes():
    # Every stream reads into one process-wide buffer (no 256 KiB bytes object per read):
    # safe because each read is taken out of it before the next one.
    wire = the_wire()
    first, second = Probe(), Probe()
    assert first.stream.get_buffer(-1) is second.stream.get_buffer(-1)
    chunks = [wire[i : i + 50] for i in range(0, len(wire), 50)]
    for chunk in chunks:
        first.read(chunk)
        second.read(chunk[::-1])  # garbage for the second: must not reach the first
    alone = Probe()
    alone.feed(wire)
    assert first.taken == alone.taken and len(first.taken) == 7
    # The second's reversed bytes were no stream: refused, and nothing of them taken.
    assert second.taken == [] and "not-well-formed" in second.wire.text()


async def test_the_end_of_the_stream_ends_ours_and_closes_the_connection():
    probe = Probe()
    probe.feed(STREAM_HEADER + notifications(1)[0] + b"</stream:stream>")
    assert len(probe.taken) == 1
    assert probe.wire.text().endswith("</stream:stream>")
    assert probe.wire.ended == "close"  # flushed, not dropped
    assert probe.stream._depth == 0
    probe.stream.connection_lost(None)
    assert probe.closed == ["end of stream"] and probe.stream.closed.done()


async def test_close_ends_our_stream_once_and_waits_for_the_servers_end():
    probe = Probe()
    probe.feed(STREAM_HEADER)
    closing = asyncio.ensure_future(probe.stream.close(5.0))
    await asyncio.sleep(0)  # close() writes our end tag and waits
    assert probe.wire.text().endswith("</stream:stream>") and not closing.done()
    probe.feed(b"</stream:stream>")  # the server ends its stream, then the connection
    probe.stream.connection_lost(None)
    await asyncio.wait_for(closing, 1.0)
    assert probe.wire.text().count("</stream:stream>") == 1
    assert probe.closed == ["end of stream"]


async def test_a_stream_restart_opens_a_new_document_and_counts_depth_again():
    # SASL success: open() takes <success/> as the next element, then restarts the stream.
    probe = Probe()
    waiter = probe.stream._waiter = asyncio.get_running_loop().create_future()
    probe.feed(STREAM_HEADER + b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    assert waiter.result().tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success"
    probe.stream._waiter = None
    probe.stream._restart()
    assert probe.stream._depth == 0
    assert probe.wire.text().count("<stream:stream ") == 2  # our header again
    probe.feed(STREAM_HEADER.replace(b"id='s1'", b"id='s2'") + notifications(1)[0])
    assert len(probe.taken) == 1 and probe.stream._depth == 1


async def test_a_parse_error_answers_not_well_formed_and_disconnects_without_echoing():
    probe = Probe()
    probe.feed(STREAM_HEADER + b"<message><secret-oops></message>")
    sent = probe.wire.text()
    assert "<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in sent
    assert sent.endswith("</stream:stream>")
    assert "oops" not in sent and "secret" not in sent  # nothing of the input echoed
    assert probe.wire.ended == "close"
    assert probe.taken == []
    probe.feed(notifications(1)[0])  # whatever follows is not read any more
    assert probe.taken == []


async def test_a_stanza_past_the_size_limit_is_a_policy_violation_not_memory(
    caplog: pytest.LogCaptureFixture,
):
    probe = Probe()
    probe.feed(STREAM_HEADER + b"<message><body>")
    chunk = b"x" * len(probe.stream.get_buffer(-1))  # as a socket reads: buffer by buffer
    while probe.wire.ended is None:
        assert len(probe.wire.written) < 2 * MAX_STANZA_BYTES, "never refused"
        probe.feed(chunk)
    sent = probe.wire.text()
    assert "<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in sent
    assert "xxx" not in sent and probe.wire.ended == "close"
    assert f"a stanza of over {MAX_STANZA_BYTES} bytes; disconnecting" in caplog.text
    assert probe.taken == []


async def test_large_stanzas_under_the_limit_and_many_small_ones_are_all_read():
    """The limit is per stanza: a megabyte of notifications in a row is no violation."""
    probe = Probe()
    note = notifications(1)[0]
    many = note * (MAX_STANZA_BYTES // len(note) + 100)
    large = b"<message><body>" + b"x" * (MAX_STANZA_BYTES // 2) + b"</body></message>"
    probe.feed(STREAM_HEADER + many + large + note, size=len(probe.stream.get_buffer(-1)))
    assert len(probe.taken) == len(many) // len(note) + 2
    assert probe.wire.ended is None and "policy-violation" not in probe.wire.text()


async def test_a_root_that_is_not_an_xmpp_stream_is_refused():
    probe = Probe()
    probe.feed(b"<html><body>")
    assert "<invalid-namespace " in probe.wire.text() and probe.wire.ended == "close"


async def test_an_iq_answer_is_taken_only_from_whom_was_asked():
    probe = Probe()
    request = asyncio.ensure_future(probe.stream.request("set", PUBSUB, "<pubsub/>", 5.0))
    await asyncio.sleep(0)  # the request is written
    (ident,) = re.findall(r"<iq type='set' id='(\w+)' to=\"pubsub", probe.wire.text())
    probe.feed(STREAM_HEADER + f"<iq type='result' id='{ident}' from='1007@{DOMAIN}/x'/>".encode())
    await asyncio.sleep(0)
    assert not request.done()  # a forged answer from another user: ignored
    probe.feed(
        f"<iq type='error' id='{ident}' from='{PUBSUB.upper()}'><error type='auth'>"
        "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>".encode()
    )
    with pytest.raises(StanzaError) as refused:
        await asyncio.wait_for(request, 1.0)
    assert refused.value.condition == "forbidden"


async def test_answered_requests_leave_no_garbage_cycles():
    """The keepalive's path (docs: connector/gc_policy.py): a request and its answer."""
    probe = Probe()
    probe.feed(STREAM_HEADER)
    loop = asyncio.get_running_loop()

    def answer() -> None:
        ident = re.findall(r"<iq type='get' id='(\w+)'", probe.wire.text())[-1]
        probe.feed(f"<iq type='result' id='{ident}' from='{DOMAIN}'/>".encode())

    async def ping() -> None:
        loop.call_soon(answer)  # runs once the request is written and waits
        reply = await probe.stream.request("get", DOMAIN, "<ping xmlns='urn:xmpp:ping'/>", 5.0)
        assert reply.get("type") == "result"

    for _ in range(5):  # warm-up
        await ping()
    gc.collect()
    gc.disable()
    try:
        for _ in range(200):
            await ping()
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"{found} objects in garbage cycles after 200 requests"
    assert probe.stream._answers == {}


async def test_a_request_fails_when_the_connection_is_lost():
    probe = Probe()
    request = asyncio.ensure_future(probe.stream.request("get", DOMAIN, "<ping/>"))
    await asyncio.sleep(0)
    probe.stream.connection_lost(ConnectionResetError("reset by peer"))
    with pytest.raises(XmppConnectError, match="connection lost"):
        await asyncio.wait_for(request, 1.0)
    assert probe.closed == ["reset by peer"]
    with pytest.raises(XmppConnectError):
        await probe.stream.request("get", DOMAIN, "<ping/>")


async def test_an_iq_nobody_handles_is_refused_with_service_unavailable():
    probe = Probe()
    probe.feed(
        STREAM_HEADER
        + f"<iq type='get' id='v1' from='1007@{DOMAIN}/x'>"
        "<query xmlns='jabber:iq:version'><name>secret-payload</name></query></iq>".encode()
    )
    sent = probe.wire.text()
    assert f'<iq type=\'error\' id="v1" to="1007@{DOMAIN}/x">' in sent
    assert "<service-unavailable " in sent and "secret-payload" not in sent


async def test_a_stream_error_during_negotiation_fails_the_attempt():
    probe = Probe()
    waiter = probe.stream._waiter = asyncio.get_running_loop().create_future()
    probe.feed(
        STREAM_HEADER + b"<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:"
        b"xmpp-streams'>other.example.com:5222</see-other-host></stream:error>"
    )
    with pytest.raises(XmppConnectError, match="see-other-host"):
        waiter.result()
    assert probe.wire.ended == "abort"  # not followed: the session decides where to go


async def test_the_sasl_payload_is_redacted_from_the_debug_dump(caplog: pytest.LogCaptureFixture):
    password = "S3cret-Pw"
    probe = Probe(password)
    payload = base64.b64encode(f"\x001001\x00{password}".encode())
    with caplog.at_level(logging.DEBUG, logger="connector.finesse.xmpp.stream"):
        probe.stream._send_secret("<auth mechanism='PLAIN'>", payload, "</auth>")
    assert payload in probe.wire.written  # on the wire, of course
    (record,) = [r for r in caplog.records if "<auth" in r.getMessage()]
    assert "<auth mechanism='PLAIN'>[redacted]</auth>" in record.getMessage()
    for record in caplog.records:
        assert password not in record.getMessage()
        assert payload.decode() not in record.getMessage()


async def test_the_hot_path_benchmark_relays_every_notification_it_times():
    from scenarios.bench.hot_path import measure

    stages = measure(50)  # raises unless all 50 were parsed and became one frame each
    assert set(stages) == {"stream", "codec", "relay"}
    assert all(us > 0 for us in stages.values())
    # Spread over agents: 5 sessions, 10 notifications each, each relayed as one frame.
    spread = measure(50, sessions=5)
    assert all(us > 0 for us in spread.values())
