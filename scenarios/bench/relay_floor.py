"""The floor under the connector's CPU per event: what a relay that does nothing costs here.

`python -m scenarios.bench.relay_floor [--connections 2000] [--rate 2000] [--seconds 10]
[--size 1000] [--uvloop] [--json]`

An asyncio process (pinned to CPU 1) holds N inbound and N outbound loopback connections
and writes every message it reads on connection i to outbound connection i, unchanged: no
parsing, no JSON, no WebSocket framing. A feeder and a sink (one process, CPU 0) send
`--rate` messages a second round-robin over the inbound connections and read the outbound
ones. The relay's CPU (utime, stime from /proc) per message is what the event loop, the
socket read and the socket write cost on this machine at this rate, one message per
connection at a time as the connector sees Finesse's notifications: the connector cannot
relay an event for less. `--uvloop` runs the relay on uvloop (when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import selectors
import socket
import time
from typing import Any

from scenarios.bench.procs import proc_cpu_times

HOST = "127.0.0.1"


class _Out(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


class _In(asyncio.Protocol):
    def __init__(self, out: _Out) -> None:
        self.out = out

    def data_received(self, data: bytes) -> None:
        self.out.transport.write(data)  # type: ignore[attr-defined]


async def _relay(
    n: int, relay_listener: socket.socket, sink_port: int, ready: int, buffered: bool
) -> None:
    loop = asyncio.get_running_loop()
    outs = []
    for _ in range(n):
        _, out = await loop.create_connection(_Out, HOST, sink_port)
        outs.append(out)
    relay_listener.setblocking(False)
    for i in range(n):
        conn, _ = await loop.sock_accept(relay_listener)
        inbound = _BufferedIn if buffered else _In
        await loop.connect_accepted_socket(lambda out=outs[i], p=inbound: p(out), conn)
    os.write(ready, b"1")
    await asyncio.Event().wait()  # until killed


_SHARED = memoryview(bytearray(1 << 16))


class _BufferedIn(asyncio.BufferedProtocol):
    """The same, reading into one buffer shared by every connection (reads are
    synchronous on the loop) instead of a fresh `max_size` bytes object per read."""

    def __init__(self, out: _Out) -> None:
        self.out = out

    def get_buffer(self, sizehint: int) -> memoryview:
        return _SHARED

    def buffer_updated(self, nbytes: int) -> None:
        self.out.transport.write(bytes(_SHARED[:nbytes]))  # type: ignore[attr-defined]


def _relay_process(
    args: argparse.Namespace, listener: socket.socket, port: int, ready: int
) -> None:
    os.sched_setaffinity(0, {1})
    main = _relay(args.connections, listener, port, ready, args.buffered)
    if args.uvloop:
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    sink_listener = socket.create_server((HOST, 0), backlog=4096)
    relay_listener = socket.create_server((HOST, 0), backlog=4096)
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the relay
        try:
            _relay_process(args, relay_listener, sink_listener.getsockname()[1], ready_w)
        finally:
            os._exit(0)
    try:
        os.sched_setaffinity(0, {0})
        sinks = []
        for _ in range(args.connections):
            conn, _ = sink_listener.accept()
            conn.setblocking(False)
            sinks.append(conn)
        port = relay_listener.getsockname()[1]
        feeds = [socket.create_connection((HOST, port)) for _ in range(args.connections)]
        os.read(ready_r, 1)
        selector = selectors.DefaultSelector()
        for conn in sinks:
            selector.register(conn, selectors.EVENT_READ)
        message = b"x" * args.size
        expected = received = 0

        def drain(timeout: float) -> None:
            nonlocal received
            for key, _ in selector.select(timeout):
                received += len(key.fileobj.recv(1 << 16))  # type: ignore[union-attr]

        before, t0 = proc_cpu_times(pid), time.monotonic()
        sent = 0
        while time.monotonic() - t0 < args.seconds:
            feeds[sent % args.connections].sendall(message)
            sent += 1
            while (delay := t0 + sent / args.rate - time.monotonic()) > 0:
                drain(delay)  # read what arrives until the next message is due
        expected = sent * args.size
        deadline = time.monotonic() + 10
        while received < expected and time.monotonic() < deadline:
            drain(0.1)
        wall = time.monotonic() - t0
        after = proc_cpu_times(pid)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    user, system = ((a - b) * 1e6 / sent for a, b in zip(after, before, strict=True))
    return {
        "loop": "uvloop" if args.uvloop else "asyncio",
        "buffered": args.buffered,
        "connections": args.connections,
        "messages": sent,
        "achieved_per_second": round(sent / wall, 1),
        "all_relayed": received == expected,
        "relay_cpu_us_per_message": round(user + system, 1),
        "split_us": {"user": round(user, 1), "system": round(system, 1)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--size", type=int, default=1000, help="bytes per message")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument(
        "--buffered", action="store_true", help="read into one shared buffer (BufferedProtocol)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args)
    if args.json:
        print(json.dumps(result))
    else:
        loop = result["loop"] + (" buffered" if args.buffered else "")
        print(
            f"{loop}: {result['messages']} messages over {args.connections} connections at "
            f"{result['achieved_per_second']}/s, all relayed: {result['all_relayed']}; "
            f"relay CPU {result['relay_cpu_us_per_message']} us per message "
            f"({result['split_us']})"
        )


if __name__ == "__main__":
    main()
