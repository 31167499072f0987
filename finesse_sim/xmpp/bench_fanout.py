"""Fan-out benchmark of the notification service.

    python -m finesse_sim.xmpp.bench_fanout --clients 200 --notifications 20000

The server runs in this process; the clients (raw sockets that log in, send presence and
count ``</message>``) run in a child process, so this process's CPU time is the server's
alone. ``--mode user`` publishes each notification to one client's User node (one delivery
each, round robin); ``--mode broadcast`` publishes to SystemInfo, which every client is
subscribed to (one publish, N deliveries). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any

from .server import XmppServer

DOMAIN = "bench.sim.local"
SYSTEMINFO = "/finesse/api/SystemInfo"
_HEADER = (
    f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client'"
    " xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
).encode()
_END = b"</message>"


def user_node(user: str) -> str:
    return f"/finesse/api/User/{user}"


def _payload(node: str, size: int) -> str:
    """A User update of roughly `size` bytes (a real one is ~0.6-1 KiB)."""
    pad = "x" * max(0, size - 260)
    return (
        "<Update><data><user><loginId>1001</loginId><state>READY</state>"
        f"<stateChangeTime>2024-01-01T00:00:00.000Z</stateChangeTime><extension>{pad}"
        f"</extension></user></data><event>PUT</event><requestId></requestId>"
        f"<source>{node}</source></Update>"
    )


# --- client process ---------------------------------------------------------------------------


async def _read_until(reader: asyncio.StreamReader, marker: bytes, buf: bytearray) -> None:
    while marker not in buf:
        chunk = await reader.read(65536)
        if not chunk:
            raise ConnectionError("server closed the connection during login")
        buf += chunk
    del buf[: buf.index(marker) + len(marker)]


async def _client(port: int, user: str, expected: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    buf = bytearray()
    writer.write(_HEADER)
    await _read_until(reader, b"</stream:features>", buf)
    token = base64.b64encode(f"\0{user}\0pw".encode())
    writer.write(
        b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % token
    )
    await _read_until(reader, b"<success", buf)
    writer.write(_HEADER)
    await _read_until(reader, b"</stream:features>", buf)
    writer.write(
        b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        b"<resource>bench</resource></bind></iq><presence><priority>0</priority></presence>"
    )
    await _read_until(reader, b"</iq>", buf)
    # From here on only count: a 9-byte tail cannot hold a whole "</message>" (10 bytes).
    count = bytes(buf).count(_END)
    tail = bytes(buf[-9:])
    while count < expected:
        chunk = await reader.read(262144)
        if not chunk:
            break
        data = tail + chunk
        count += data.count(_END)
        tail = data[-9:]
    writer.close()
    return count


async def _clients_main(port: int, expected: list[int], conn: Connection) -> None:
    counts = await asyncio.gather(
        *(_client(port, str(1000 + i), n) for i, n in enumerate(expected))
    )
    conn.send(sum(counts))
    conn.close()


def _client_process(port: int, expected: list[int], conn: Connection) -> None:
    asyncio.run(_clients_main(port, expected, conn))


# --- server process ---------------------------------------------------------------------------


async def run(clients: int, notifications: int, mode: str, payload_bytes: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    users = [str(1000 + i) for i in range(clients)]
    everyone_up = loop.create_future()
    available: set[str] = set()

    def on_presence(user: str, up: bool) -> None:
        (available.add if up else available.discard)(user)
        if len(available) == clients and not everyone_up.done():
            everyone_up.set_result(None)

    server = XmppServer(
        domain=DOMAIN,
        authenticate=lambda _user, _pw: True,
        on_presence=on_presence,
        auto_nodes=lambda user: [user_node(user), SYSTEMINFO],
        may_subscribe=lambda _user, _node: False,
    )
    port, _ = await server.start()
    if mode == "user":
        expected = [
            notifications // clients + (i < notifications % clients) for i in range(clients)
        ]
        publishes = notifications
    else:
        publishes = max(1, notifications // clients)
        expected = [publishes] * clients
    deliveries = sum(expected)

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_client_process, args=(port, expected, child), daemon=True)
    proc.start()
    child.close()
    finished: asyncio.Future[int] = loop.create_future()

    def on_pipe() -> None:
        loop.remove_reader(parent.fileno())
        try:
            finished.set_result(parent.recv())
        except EOFError as exc:
            finished.set_exception(exc)

    loop.add_reader(parent.fileno(), on_pipe)
    try:
        await asyncio.wait_for(everyone_up, 120)
        payloads = {u: _payload(user_node(u), payload_bytes) for u in users}
        broadcast = _payload(SYSTEMINFO, payload_bytes)
        cpu0, t0 = time.process_time(), time.perf_counter()
        written = 0
        for i in range(publishes):
            if mode == "user":
                user = users[i % clients]
                written += server.publish(user_node(user), payloads[user])
            else:
                written += server.publish(SYSTEMINFO, broadcast)
            if i % 256 == 255:
                await asyncio.sleep(0)  # let the loop flush sockets, as a live sim would
        t_pub = time.perf_counter()
        received = await asyncio.wait_for(finished, 300)
        t1 = time.perf_counter()
        cpu = time.process_time() - cpu0
    finally:
        await server.stop()
        proc.join(10)
        parent.close()
    wall = t1 - t0
    return {
        "mode": mode,
        "clients": clients,
        "publishes": publishes,
        "deliveries": deliveries,
        "written": written,
        "received": received,
        "payload_bytes": len(broadcast),
        "wall_s": round(wall, 4),
        "publish_loop_s": round(t_pub - t0, 4),
        "deliveries_per_s": round(deliveries / wall),
        "server_cpu_s": round(cpu, 4),
        "deliveries_per_server_cpu_s": round(deliveries / cpu) if cpu else None,
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finesse_sim.xmpp.bench_fanout")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=20000, help="total deliveries")
    parser.add_argument("--mode", choices=("user", "broadcast"), default="user")
    parser.add_argument("--payload-bytes", type=int, default=700)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.clients, args.notifications, args.mode, args.payload_bytes))
    print(json.dumps(result))
    return 0 if result["received"] == result["deliveries"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
