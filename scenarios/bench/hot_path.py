"""The connector's cost per relayed notification, stage by stage, in one process, no sockets.

`python -m scenarios.bench.hot_path [--notifications N] [--runs K] [--json]`

Feeds the bytes the simulator sends for a User notification (a READY / NOT_READY flip with
a reason code, a request id every other time) to an agent's XMPP stream
(`connector.finesse.xmpp_stream.XmppStream`) as it reads them off a socket, and times, in
microseconds per notification (median of K runs):

- `stream`: the stream parser (bytes -> the top-level element handed to the session);
- `codec`: + the session's filter and `codec.parse_update` (the wire dataclasses);
- `relay`: + the agent's session (what changed, the mobile event) and the event stream
  (the frame's JSON, the reader woken) - everything up to the WebSocket write.

What the end-to-end `mobagent bench` adds on top is the event loop, the socket reads and the
WebSocket frame write; `scenarios.bench.relay_floor` measures what those cost alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from connector.finesse import codec
from connector.finesse.models import ReasonCode, Update, User
from connector.finesse.xmpp import NotificationSession, XmppEndpoint
from connector.session.agent_session import AgentSession
from connector.stream import EventStream
from finesse_sim.xmpp.stanzas import Notification

DOMAIN = "finesse.example.com"
ENDPOINT = XmppEndpoint("127.0.0.1", 5222, DOMAIN)
AGENT = "1001"
STREAM_HEADER = (
    f"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    f"from='{DOMAIN}' id='s1' version='1.0'>"
).encode()


def notifications(n: int) -> list[bytes]:
    """N deliveries as the simulator renders them: alternately READY and NOT_READY."""
    reason = ReasonCode(
        id="1", category="NOT_READY", code="1", label="Break", uri="/finesse/api/ReasonCode/1"
    )
    out = []
    for i in range(n):
        ready = i % 2 == 0
        user = User(
            login_id=AGENT,
            login_name="agent1001",
            first_name="Agent",
            last_name="A1001",
            state="READY" if ready else "NOT_READY",
            extension="20001",
            team_id="1",
            team_name="Sales",
            reason_code=None if ready else reason,
            reason_code_id="" if ready else "1",
            state_change_time="2026-12-07T05:00:00.000Z",
        )
        rid = f"rid-{i}" if i % 4 < 2 else ""
        update = codec.update_to_xml(Update("PUT", f"/finesse/api/User/{AGENT}", user, rid))
        note = Notification.build(f"pubsub.{DOMAIN}", f"/finesse/api/User/{AGENT}", update)
        out.append(note.render(f"{AGENT}@{DOMAIN}/mobileagent' id='".encode(), b"x"))
    return out


class _Sink(asyncio.Transport):
    """Takes what the stream writes (its header) and drops it."""

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _client(take: Callable[[ET.Element], bool]) -> Any:
    """The session's XMPP stream, open, `take` offered every stanza."""
    session = NotificationSession(
        AGENT, "secret", ENDPOINT, ssl_context=ssl.create_default_context(), on_update=print
    )
    conn = session._build(ENDPOINT)
    stream = conn.stream
    stream.take = take
    stream.connection_made(_Sink())
    stream._restart()
    stream.data_received(STREAM_HEADER)
    return stream, session, conn


def _time(feed: Callable[[bytes], None], data: list[bytes]) -> float:
    t0 = time.perf_counter()
    for chunk in data:
        feed(chunk)
    return (time.perf_counter() - t0) / len(data) * 1e6


def measure(n: int) -> dict[str, float]:
    data = notifications(n)

    xmpp, _, _ = _client(lambda _xml: True)
    stream_us = _time(xmpp.data_received, data)

    parsed = 0

    def count(_node: str, _update: Update) -> None:
        nonlocal parsed
        parsed += 1

    xmpp, session, conn = _client(lambda xml: session._take(conn, xml))
    session._conn = conn
    session._on_update = count
    codec_us = _time(xmpp.data_received, data)

    core = AgentSession(AGENT, "20001", call_control=False)
    stream = EventStream(core.snapshot, buffer_size=50, agent_id=AGENT)
    reader = stream.reader(since=0)

    frames = 0

    def relay(_node: str, update: Update) -> None:
        nonlocal frames
        for event in core.apply(update):
            stream.publish(event)
        frames += len(reader.take())

    xmpp, session, conn = _client(lambda xml: session._take(conn, xml))
    session._conn = conn
    session._on_update = relay
    relay_us = _time(xmpp.data_received, data)
    # Every notification parsed and relayed as one frame, or the timings mean nothing.
    if parsed != n or frames != n:
        raise RuntimeError(f"{n} notifications: {parsed} parsed, {frames} frames")
    return {"stream": stream_us, "codec": codec_us, "relay": relay_us}


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    runs = [measure(args.notifications) for _ in range(args.runs)]
    return {
        "notifications": args.notifications,
        "runs": args.runs,
        "bytes_per_notification": len(notifications(1)[0]),
        "us_per_notification": {
            stage: round(statistics.median(r[stage] for r in runs), 1) for stage in runs[0]
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['bytes_per_notification']} bytes per notification")
    for stage, us in result["us_per_notification"].items():
        print(f"  {stage:7} {us:7.1f} us (cumulative)")


if __name__ == "__main__":
    main()
