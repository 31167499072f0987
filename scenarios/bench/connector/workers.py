"""The load-generator processes and their protocol: the benchmark's process starts each
(`Worker.start`) with a spec (its role and agents), then sends one JSON command a line
(login, tokens, drive, wait, close) and reads one JSON reply a line. The work itself is
`generator`'s; each process stamps time.monotonic(), one clock for every process on the
machine, so the benchmark's process can merge their times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import aiohttp

from mobagent import event_loop
from scenarios.bench.connector.agents import LoadAgent
from scenarios.bench.connector.generator import Generator
from scenarios.bench.procs import ROOT, BenchError, child_setup, proc_cpu_seconds


class Worker:
    """One load-generator process (`python -m scenarios.bench.connector.workers`), as the
    benchmark's process sees it: one JSON request a line to its stdin, one JSON reply a line
    from its stdout; its log goes to our stderr."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.failures: list[str] = []

    @classmethod
    async def start(cls, name: str, spec: dict[str, Any], module: str = __name__) -> Worker:
        """`module`: the process's code (this one's `serve`, or the push load's)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=child_setup(None),
            limit=1 << 28,
        )
        child = cls(name, proc)
        await child.call(spec, timeout=60)
        return child

    async def call(self, msg: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise BenchError(f"load generator {self.name} exited (status {await self.proc.wait()})")
        reply = json.loads(line)
        self.failures.extend(f"{self.name}: {f}" for f in reply.pop("failures", []))
        return reply

    def cpu_seconds(self) -> float:
        try:
            return proc_cpu_seconds(self.proc.pid)
        except OSError:
            return 0.0

    async def close(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                await self.call({"cmd": "close"}, timeout=30)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def serve(spec: dict[str, Any]) -> None:
    """The load-generator process itself: `receive` (sign in its apps or direct clients and
    stamp their events) or `drive` (the flips). Requests on stdin, replies on stdout."""
    agents = [LoadAgent(index, kind) for index, kind in spec["agents"]]
    generator = Generator(spec["sim"], spec["api"], agents)
    timeout = aiohttp.ClientTimeout(total=60)
    fresh = bool(spec.get("fresh_connections"))
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=fresh), timeout=timeout
    )
    conn = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16), timeout=timeout)
    loop = asyncio.get_running_loop()
    reported = {agent.id: 0 for agent in agents}
    rest = http
    if spec["role"] == "drive":
        rest = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), timeout=timeout)

    def reply(out: dict[str, Any]) -> None:
        out["failures"] = generator.failures
        generator.failures = []
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()

    reply({"ready": True})
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            msg = json.loads(line)
            cmd = msg["cmd"]
            out: dict[str, Any] = {}
            if cmd == "close":
                break
            if cmd == "login":
                secs = await generator.login_all(http, msg["concurrency"])
                out = {
                    "login_seconds": secs,
                    "tokens": {
                        agent.id: agent.token for agent in agents if agent.kind == "command"
                    },
                }
            elif cmd == "tokens":
                for agent in agents:
                    agent.token = msg["tokens"].get(agent.id, agent.token)
            elif cmd == "drive":
                if msg.get("via") == "bulk":
                    await generator.drive_bulk(
                        rest, conn, msg["rate"], msg["seconds"], msg.get("commands", False)
                    )
                else:
                    await generator.drive(rest, conn, msg["rate"], msg["seconds"])
                out = {
                    "agents": {
                        agent.id: {"acks": agent.acks, "puts": agent.puts, "rids": agent.rids}
                        for agent in agents
                        if agent.acks
                    }
                }
                for agent in agents:
                    agent.acks, agent.puts, agent.rids = [], [], {}
            elif cmd == "wait":
                expected = msg["expected"]
                deadline = time.monotonic() + msg["timeout"]
                while time.monotonic() < deadline and any(  # noqa: ASYNC110
                    len(agent.recv) < expected.get(agent.id, 0) for agent in agents
                ):
                    await asyncio.sleep(0.05)
                out = {"agents": {}}
                for agent in agents:
                    already = reported[agent.id]
                    out["agents"][agent.id] = {
                        "recv": agent.recv[already:],
                        "rid_recv": agent.rid_recv,
                    }
                    reported[agent.id] = len(agent.recv)
                    agent.rid_recv = {}
            reply(out)
    finally:
        await generator.close()
        for session in {http, conn, rest}:
            await session.close()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us through "close"
    spec = json.loads(sys.stdin.readline())
    event_loop.run(serve(spec))  # uvloop where installed: less of the machine for the load
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
