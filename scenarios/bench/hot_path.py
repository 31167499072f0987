"""The connector's cost per relayed notification, stage by stage, in one process, no sockets.

`python -m scenarios.bench.hot_path [--notifications N] [--runs K] [--sessions S] [--json]`

Feeds the bytes the simulator sends for a User notification (a READY / NOT_READY flip with
a reason code, a request id every other time) to an agent's XMPP stream
(`connector.finesse.xmpp_stream.XmppStream`) as it reads them off a socket, and times, in
microseconds per notification (median of K runs):

- `stream`: the stream parser (bytes -> the top-level element handed to the session);
- `codec`: + the session's filter and `codec.parse_update` (the wire dataclasses);
- `relay`: + the agent's session (what changed, the mobile event) and the event stream
  (the frame's JSON, the reader woken) - everything up to the WebSocket write.

`--sessions S` feeds S agents' pipelines in turn instead of one: with one, all the path
touches stays in the CPU's caches, which the connector with 2,000 agents never has.

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


_TLS = ssl.create_default_context()  # one for all: making one reads the CA store


def _client(take: Callable[[ET.Element], bool]) -> Any:
    """The session's XMPP stream, open, `take` offered every stanza."""
    session = NotificationSession(AGENT, "secret", ENDPOINT, ssl_context=_TLS, on_update=print)
    conn = session._build(ENDPOINT)
    stream = conn.stream
    stream.take = take
    stream.connection_made(_Sink())
    stream._restart()
    stream.data_received(STREAM_HEADER)
    return stream, session, conn


def _session_feed(on_update: Callable[[str, Update], None]) -> Callable[[bytes], None]:
    """Where a session's bytes go: its stream, filtered by the session (`_take`, the codec)
    and each update handed to `on_update`."""
    xmpp, session, conn = _client(lambda xml: session._take(conn, xml))
    session._conn = conn
    session._on_update = on_update
    return xmpp.data_received


def _time(feeds: list[Callable[[bytes], None]], data: list[bytes]) -> float:
    """Microseconds per notification: the whole of `data` to each of `feeds`, round-robin
    (each feed sees the notifications in order, one at a time as the agents do)."""
    t0 = time.perf_counter()
    for chunk in data:
        for feed in feeds:
            feed(chunk)
    return (time.perf_counter() - t0) / (len(data) * len(feeds)) * 1e6


def measure(n: int, sessions: int = 1) -> dict[str, float]:
    """Each stage over `sessions` agents' pipelines, fed in turn: with one, everything the
    path touches stays in the CPU's caches; with thousands, each notification meets its
    agent's objects cold, as in the connector."""
    data = notifications(max(1, n // sessions))
    total = len(data) * sessions

    stream_us = _time([_client(lambda _xml: True)[0].data_received for _ in range(sessions)], data)

    parsed = 0

    def count(_node: str, _update: Update) -> None:
        nonlocal parsed
        parsed += 1

    codec_us = _time([_session_feed(count) for _ in range(sessions)], data)

    frames = 0

    def relaying() -> Callable[[bytes], None]:
        core = AgentSession(AGENT, "20001", call_control=False)
        stream = EventStream(core.snapshot, buffer_size=50, agent_id=AGENT)
        reader = stream.reader(since=0)

        def relay(_node: str, update: Update) -> None:
            nonlocal frames
            for event in core.apply(update):
                stream.publish(event)
            frames += len(reader.take())

        return _session_feed(relay)

    relay_us = _time([relaying() for _ in range(sessions)], data)
    # Every notification parsed and relayed as one frame, or the timings mean nothing.
    if parsed != total or frames != total:
        raise RuntimeError(f"{total} notifications: {parsed} parsed, {frames} frames")
    return {"stream": stream_us, "codec": codec_us, "relay": relay_us}


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    runs = [measure(args.notifications, args.sessions) for _ in range(args.runs)]
    return {
        "notifications": args.notifications,
        "sessions": args.sessions,
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
    parser.add_argument(
        "--sessions",
        type=int,
        default=1,
        help="agents' pipelines fed in turn (1: all in the CPU's caches; 2000: cold, as in "
        "the connector with 2,000 agents)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(_main(args))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['bytes_per_notification']} bytes per notification, {args.sessions} sessions")
    for stage, us in result["us_per_notification"].items():
        print(f"  {stage:7} {us:7.1f} us (cumulative)")


if __name__ == "__main__":
    main()
