"""`mobagent bench`: push latency, loss, memory and CPU of the Generic Connector under load.

    mobagent bench [--agents 2000] [--events-per-second 2000] [--seconds 60] [--json]
                   [--direct 20] [--commands 20] [--burst N --burst-seconds S]
                   [--sweep] [--chart PATH] [--profile PATH] [--gc-stats PATH]

Processes: `mobagent sim --config <generated roster>` pinned to CPU 0, `mobagent connector`
pinned to CPU 1, and the load generator as unpinned child processes (`--app-procs` holding
the app WebSockets, one the direct subscribers, one the driver) that stamp time.monotonic()
(one CLOCK_MONOTONIC for all processes on the machine) and send their timestamps back as
JSON lines; this process merges them. The roster is connector_memory's (N + direct agents).

1. N apps sign in state-only through the connector (POST /api/v1/sessions, 50 at a time) and
   each opens its event WebSocket (aiohttp, TCPConnector(limit=0), compress=0).
   `login_seconds`: all N apps in (first WebSocket message read). Then `direct` watchers
   sign in to the simulator's XMPP with plain slixmpp ClientXMPP (one shared SSLContext) as
   app agents spread over the roster, with a resource of their own: each is auto-subscribed
   to its agent's User node, so it receives the same notifications as the connector's
   session of that agent, without the connector.
2. Events: the driver flips agents READY / NOT_READY (reason code 1) through the
   SIMULATOR's REST API as the agent (PUT /finesse/api/User/{id}, Basic auth,
   application/xml), R per second spread round-robin over the N + direct agents (one PUT in
   flight per agent at a time). Each flip is one User notification, so one `agent.state`
   event at the app (or one pubsub item at the direct client).
3. What `e2e_ms` measures: from the moment this process has read the simulator's 202 to the
   moment the app's reader task got the matching WebSocket message (time.monotonic() in
   the same process). The simulator publishes the notification in the same model input,
   before it writes the 202, so the interval starts no earlier than the publish; it
   excludes the PUT's own REST handling but includes the generator's loop lag. Because the
   202 and the event are read by the same loop, an event can be read before its 202: such
   a negative interval is kept as 0 (counted as `events_before_ack`), so `e2e_ms` is a lower
   bound; `e2e_from_put_ms` (from just before the PUT was sent, REST handling included) is
   the matching upper bound, reported beside it. The k-th flip of an
   agent is matched with its k-th event. `direct_ms` is the same for the direct watchers,
   over the same events; `connector_added_ms` pairs them: for each watched event, the app's
   receipt minus the direct client's (what the connector and its WebSocket add).
4. `command_rtt_ms`: `commands` of the N agents are driven through the connector instead
   (PUT /api/v1/agent/state, 202 with requestId): time from just before the PUT to the
   `agent.state` event carrying that requestId.
5. `lost`: flips whose event had not arrived within `--drain` seconds after the last one.
   Connector RSS (VmRSS) and CPU (utime+stime over the driving phase) from /proc;
   rss_per_agent_kib = (RSS with N agents in - RSS at start-up) / N. Each step also reports
   the simulator's CPU and, for both, the share of the time they were runnable but waiting
   for a core (`*_wait_percent`, schedstat): what the scheduler, not the code, adds.

`--burst N --burst-seconds S` adds a phase of N flips in S seconds after the steady one,
injected through the simulator's bulk state change (POST /sim/v1/agents/state, a batch of
distinct agents every 5 ms, each change exactly what the agent's PUT would do): the REST
API on the simulator's one core tops out near 2,700 PUTs a second on the 2-core machine,
too few for 10,000 in 2 s. There an event's start is the simulator's own CLOCK_MONOTONIC
stamp just after its notification went out (`e2e_from_put_ms`: from the batch's request).
Connector driven agents sit the burst out.
`--sweep` runs the steady phase at 500, 1000, 2000, 4000, ... (to `--events-per-second`)
on the same signed-in agents and reports the highest rate with p99 <= 25 ms and 0 lost.
`--inject bulk` makes the steady phases' events the burst's way (below), for rates beyond
the simulator's REST API.
`--chart PATH` writes a PNG of latency against load. `--profile PATH` runs the connector
under cProfile and writes the stats (pstats) to PATH when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from scenarios.bench.connector_memory import settled_rss
from scenarios.bench.procs import (
    ROOT,
    BenchError,
    child_setup,
    log,
    machine,
    pinning,
    proc_cpu_seconds,
    proc_rss_kib,
    proc_wait_seconds,
    running,
)
from scenarios.bench.roster import (
    MAX_AGENTS,
    PASSWORD,
    ROSTER_NAME,
    agent_id,
    extension,
    roster_toml,
)

HOST = "127.0.0.1"
CONCURRENCY = 50
DRAIN = 10.0
TICK = 0.005
STOP_TIMEOUT = 60.0
TARGETS = {
    "p50_ms": 5.0,
    "p99_ms": 25.0,
    "lost": 0,
    "p99_vs_direct": 2.0,
    "kib_per_agent": 128,
    "login_seconds": 10.0,
    "burst_p99_ms": 1000.0,
}
SWEEP_RATES = (500, 1000, 2000, 4000, 8000)
NOT_READY_XML = "<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>"
READY_XML = "<User><state>READY</state></User>"
DIRECT_RESOURCE = "bench-direct"
PROFILE_FLAG = "--connector-under-cprofile"
CHILD_FLAG = "--load-generator-child"
APP_PROCS = 2


@dataclasses.dataclass
class Agent:
    """One agent driven by the benchmark: how it receives (app, direct or command) and the
    times of its flips (202 read, or command sent) and of its events. A `direct` one is a
    watcher: a second session of an app agent, receiving the same events."""

    index: int
    kind: str  # "app" | "direct" | "command"
    state: str = "NOT_READY"
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    acks: list[float] = dataclasses.field(default_factory=list)
    puts: list[float] = dataclasses.field(default_factory=list)  # just before each PUT
    recv: list[float] = dataclasses.field(default_factory=list)
    sent: int = 0
    rids: dict[str, float] = dataclasses.field(default_factory=dict)  # requestId -> sent
    rid_recv: dict[str, float] = dataclasses.field(default_factory=dict)
    token: str = ""
    twin: Agent | None = None  # a direct watcher's app agent (whose acks it shares)

    @property
    def id(self) -> str:
        return agent_id(self.index)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return round(s[k] * 1000, 3)


def summary(values: list[float], qs: dict[str, float]) -> dict[str, float | None]:
    return {name: pct(values, q) for name, q in qs.items()}


E2E_Q = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "p999": 0.999}
SHORT_Q = {"p50": 0.5, "p99": 0.99}


# -- the generator ---------------------------------------------------------------------------


class Generator:
    def __init__(self, sim: dict[str, Any], api: str, agents: list[Agent]) -> None:
        self.sim_rest = sim["sides"]["A"]["rest"]
        self.sim_bulk = self.sim_rest.removesuffix("/finesse/api") + "/sim/v1/agents/state"
        host, _, port = sim["sides"]["A"]["xmpp"].rpartition(":")
        self.xmpp_addr = (host, int(port))
        self.domain = sim["sides"]["A"]["xmppDomain"]
        self.api = api
        self.agents = agents
        self.by_id = {a.id: a for a in agents}
        self.failures: list[str] = []
        self.ws: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.direct_clients: list[Any] = []
        self.closing = False
        self.events_before_ack = 0

    # signing in

    async def login_app(self, http: aiohttp.ClientSession, a: Agent) -> None:
        payload = {"agentId": a.id, "password": PASSWORD, "extension": extension(a.index)}
        async with http.post(f"{self.api}/sessions", json=payload) as r:
            body = await r.text()
            if r.status != 201:
                raise BenchError(f"POST /sessions for {a.id} answered {r.status}: {body[:200]}")
            a.token = json.loads(body)["token"]
        ws = await http.ws_connect(
            f"{self.api}/events", headers={"Authorization": f"Bearer {a.token}"}, compress=0
        )
        self.ws.append(ws)
        first = await ws.receive()
        if first.type != aiohttp.WSMsgType.TEXT:
            raise BenchError(f"agent {a.id}: no first event message ({first.type})")
        self.readers.append(asyncio.ensure_future(self._read(a, ws)))

    async def _read(self, a: Agent, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.monotonic()
                msg = json.loads(message.data)
                if msg.get("type") != "agent.state":
                    continue
                rid = (msg.get("data") or {}).get("requestId")
                if rid:
                    a.rid_recv[rid] = now
                a.recv.append(now)
        except Exception as exc:  # a closed stream mid-run is a failure
            if not self.closing:
                self.failures.append(f"agent {a.id} stream: {type(exc).__name__}: {exc}")

    async def login_direct(self, a: Agent) -> None:
        """A plain slixmpp client signed in as an agent whose app is already in, with a
        resource of its own: Finesse delivers the agent's User notifications to both
        sessions, so it receives the very events the connector relays (`direct_ms`)."""
        from slixmpp import ClientXMPP
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        client = ClientXMPP(
            f"{a.id}@{self.domain}/{DIRECT_RESOURCE}",
            PASSWORD,
            ssl_context=_SHARED_SSL,
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
        )
        client.enable_direct_tls = False
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_session(_e: Any) -> None:
            client.send_presence(ppriority=0)
            if not started.done():
                started.set_result(True)

        def on_failed(_e: Any) -> None:
            if not started.done():
                started.set_result(False)

        def on_event(_msg: Any) -> None:
            # A pubsub event for the agent's own User node, matched on the raw stanza.
            a.recv.append(time.monotonic())

        client.add_event_handler("session_start", on_session)
        client.add_event_handler("failed_auth", on_failed)
        # slixmpp's "message" event fires only for messages with a <body>.
        xpath = "{jabber:client}message/{http://jabber.org/protocol/pubsub#event}event"
        client.register_handler(Callback("bench pubsub event", MatchXPath(xpath), on_event))
        client.connect(*self.xmpp_addr)
        self.direct_clients.append(client)
        if not await asyncio.wait_for(started, 30):
            raise BenchError(f"direct client {a.id}: authentication failed")

    async def login_all(self, http: aiohttp.ClientSession, concurrency: int) -> float:
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def one(a: Agent) -> None:
            async with sem:
                try:
                    if a.kind == "direct":
                        await self.login_direct(a)
                    else:
                        await self.login_app(http, a)
                except (aiohttp.ClientError, TimeoutError, BenchError, KeyError) as exc:
                    self.failures.append(f"login {a.id}: {type(exc).__name__}: {exc}"[:300])

        await asyncio.gather(*(one(a) for a in self.agents))
        return time.perf_counter() - t0

    # driving

    async def flip(self, rest: aiohttp.ClientSession, conn: aiohttp.ClientSession, a: Agent):
        async with a.lock:
            target = "READY" if a.state == "NOT_READY" else "NOT_READY"
            try:
                if a.kind == "command":
                    body: dict[str, Any] = {"state": target}
                    if target == "NOT_READY":
                        body["reasonCodeId"] = "1"
                    sent = time.monotonic()
                    async with conn.put(
                        f"{self.api}/agent/state",
                        json=body,
                        headers={"Authorization": f"Bearer {a.token}"},
                    ) as r:
                        text = await r.text()
                        if r.status != 202:
                            raise BenchError(f"connector PUT answered {r.status}: {text[:200]}")
                        a.rids[json.loads(text)["requestId"]] = sent
                        a.acks.append(sent)
                else:
                    xml = READY_XML if target == "READY" else NOT_READY_XML
                    put = time.monotonic()
                    async with rest.put(
                        f"{self.sim_rest}/User/{a.id}",
                        data=xml,
                        headers={"Authorization": _basic(a.id), "Content-Type": "application/xml"},
                    ) as r:
                        text = await r.text()
                        if r.status != 202:
                            raise BenchError(f"simulator PUT answered {r.status}: {text[:200]}")
                        a.acks.append(time.monotonic())
                        a.puts.append(put)
                a.state = target
                a.sent += 1
            except (aiohttp.ClientError, BenchError, KeyError, ValueError) as exc:
                self.failures.append(f"flip {a.id}: {type(exc).__name__}: {exc}"[:300])

    async def drive(
        self,
        rest: aiohttp.ClientSession,
        conn: aiohttp.ClientSession,
        rate: float,
        seconds: float,
    ) -> None:
        """`rate` flips per second for `seconds`, round-robin over the agents, each its own
        PUT."""
        await self._paced(self.agents, rate, seconds, 1, lambda b: self.flip(rest, conn, b[0]))

    async def drive_bulk(self, rest: aiohttp.ClientSession, rate: float, seconds: float) -> None:
        """`rate` flips per second for `seconds` through the simulator's bulk state change
        (POST /sim/v1/agents/state), a batch of distinct agents per tick, round-robin over
        the agents that are not driven through the connector. An agent's ack is the
        simulator's CLOCK_MONOTONIC just after its notification went out."""
        agents = [a for a in self.agents if a.kind != "command"]
        await self._paced(agents, rate, seconds, len(agents), lambda b: self.flip_batch(rest, b))

    async def _paced(
        self,
        agents: list[Agent],
        rate: float,
        seconds: float,
        most: int,
        work: Callable[[list[Agent]], Awaitable[None]],
    ) -> None:
        """Every TICK, start the flips now due (`rate` a second for `seconds`, round-robin
        over `agents`) as `work(batch)` on batches of at most `most` agents; a batch never
        wraps around the list, so its agents are distinct. Then wait for them all."""
        total = int(rate * seconds)
        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        done = 0
        while done < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while done < due:
                first = done % len(agents)
                batch = agents[first : first + min(due - done, most, len(agents) - first)]
                t = asyncio.ensure_future(work(batch))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                done += len(batch)
            await asyncio.sleep(TICK)
        if tasks:
            await asyncio.gather(*tasks)

    async def flip_batch(self, rest: aiohttp.ClientSession, batch: list[Agent]) -> None:
        async with contextlib.AsyncExitStack() as held:
            for a in batch:  # in index order, as every batch: no two wait on each other
                await held.enter_async_context(a.lock)
            to_ready = [a for a in batch if a.state == "NOT_READY"]
            to_not_ready = [a for a in batch if a.state != "NOT_READY"]
            for target, group in (("READY", to_ready), ("NOT_READY", to_not_ready)):
                if not group:
                    continue
                body: dict[str, Any] = {"agents": [a.id for a in group], "state": target}
                if target == "NOT_READY":
                    body["reasonCodeId"] = "1"
                sent = time.monotonic()
                try:
                    async with rest.post(self.sim_bulk, json=body) as r:
                        answer = await r.json()
                        if r.status != 200:
                            raise BenchError(f"bulk state answered {r.status}: {answer}")
                except (aiohttp.ClientError, BenchError, ValueError) as exc:
                    self.failures.append(f"bulk flip: {type(exc).__name__}: {exc}"[:300])
                    continue
                for a, result in zip(group, answer["results"], strict=True):
                    if result["status"] != 202:
                        self.failures.append(f"flip {a.id}: {result}"[:300])
                        continue
                    a.acks.append(result["monotonic"])
                    a.puts.append(sent)
                    a.state = target
                    a.sent += 1

    async def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(a.recv) >= a.sent for a in self.agents):
                return
            await asyncio.sleep(0.05)

    def mark(self) -> list[tuple[int, int]]:
        """Where each agent's lists stand: a phase reports only what follows."""
        return [(len(a.acks), len(a.recv)) for a in self.agents]

    def phase(self, since: list[tuple[int, int]]) -> dict[str, Any]:
        e2e: list[float] = []
        direct: list[float] = []
        e2e_put: list[float] = []
        direct_put: list[float] = []
        added: list[float] = []  # app receipt - direct receipt of the same event
        rtt: list[float] = []
        sent = received = direct_expected = direct_received = 0
        early = 0
        start = {id(a): mark for a, mark in zip(self.agents, since, strict=True)}
        for a, (k0, r0) in zip(self.agents, since, strict=True):
            acks, recv = a.acks[k0:], a.recv[r0:]
            if a.kind == "direct":
                direct_expected += len(acks)
                direct_received += min(len(acks), len(recv))
                direct += [max(0.0, got - ack) for ack, got in zip(acks, recv, strict=False)]
                direct_put += [got - put for put, got in zip(a.puts[k0:], recv, strict=False)]
                if a.twin is not None:
                    twin_recv = a.twin.recv[start[id(a.twin)][1] :]
                    added += [t - d for t, d in zip(twin_recv, recv, strict=False)]
                continue
            sent += len(acks)
            received += min(len(acks), len(recv))
            if a.kind == "command":
                continue
            for ack, got in zip(acks, recv, strict=False):
                if got < ack:
                    early += 1
                e2e.append(max(0.0, got - ack))
            e2e_put += [got - put for put, got in zip(a.puts[k0:], recv, strict=False)]
        for a in self.agents:
            if a.kind == "command":
                for rid, t_sent in a.rids.items():
                    if rid in a.rid_recv:
                        rtt.append(a.rid_recv[rid] - t_sent)
                a.rids = {rid: t for rid, t in a.rids.items() if rid not in a.rid_recv}
        return {
            "events_sent": sent,
            "events_received": received,
            "lost": sent - received,
            "e2e_ms": summary(e2e, E2E_Q),
            "e2e_mean_ms": round(statistics.fmean(e2e) * 1000, 3) if e2e else None,
            "direct_ms": summary(direct, SHORT_Q),
            "direct_lost": direct_expected - direct_received,
            "connector_added_ms": summary(added, SHORT_Q),
            "e2e_from_put_ms": summary(e2e_put, E2E_Q),
            "direct_from_put_ms": summary(direct_put, SHORT_Q),
            "command_rtt_ms": summary(rtt, SHORT_Q),
            "events_before_ack": early,
            "samples": {"e2e": len(e2e), "direct": len(direct), "command": len(rtt)},
        }

    async def close(self) -> None:
        self.closing = True
        for ws in self.ws:
            with contextlib.suppress(Exception):
                await ws.close()
        for client in self.direct_clients:
            with contextlib.suppress(Exception):
                client.disconnect(wait=0)
        for t in self.readers:
            t.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


_SHARED_SSL = ssl.create_default_context()


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


# -- one benchmark ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Settings:
    agents: int = 2000
    rate: float = 2000
    seconds: float = 60
    direct: int = 20
    commands: int = 20
    burst: int = 0
    burst_seconds: float = 2.0
    sweep: bool = False
    drain: float = DRAIN
    concurrency: int = CONCURRENCY
    profile: str | None = None
    gc_stats: str | None = None
    app_procs: int = APP_PROCS
    inject: str = "rest"  # how the steady phases make their events: "rest" | "bulk"


def sweep_rates(top: float) -> list[float]:
    rates = [r for r in SWEEP_RATES if r < top]
    return [*rates, top]


class Child:
    """One load-generator process (`--load-generator-child`): one JSON request a line on its
    stdin, one JSON reply a line on its stdout; its log goes to our stderr."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.failures: list[str] = []

    @classmethod
    async def start(cls, name: str, spec: dict[str, Any]) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scenarios.bench.connector_bench",
            CHILD_FLAG,
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


async def measure(
    conn_pid: int, sim_pid: int, sim: dict[str, Any], api: str, s: Settings
) -> dict[str, Any]:
    """The load generator as separate processes: `app_procs` processes holding the N app
    WebSockets (sharded round-robin), one holding the direct slixmpp subscribers, one driving
    the PUTs. All stamp time.monotonic() (CLOCK_MONOTONIC, one clock for every process on
    the machine); this process only merges their timestamps and counts."""
    n = s.agents
    agents = [Agent(i, "command" if i <= s.commands else "app") for i in range(1, n + 1)]
    by_id = {a.id: a for a in agents}
    # Direct watchers: second sessions of app agents spread over the roster, sharing their
    # twins' flip times, so that direct_ms covers the very events the apps receive.
    plain = [a for a in agents if a.kind == "app"]
    chosen = plain[:: max(1, len(plain) // s.direct)][: s.direct] if s.direct else []
    watchers = [Agent(a.index, "direct", acks=a.acks, puts=a.puts, twin=a) for a in chosen]
    gen = Generator(sim, api, agents + watchers)  # only for mark() / phase()
    rss_before, _ = await settled_rss(conn_pid)
    shards = [agents[k :: s.app_procs] for k in range(s.app_procs)]
    groups = [(f"apps{k}", shard) for k, shard in enumerate(shards) if shard]

    def spec(role: str, members: list[Agent]) -> dict[str, Any]:
        return {
            "role": role,
            "sim": sim,
            "api": api,
            "agents": [[a.index, a.kind] for a in members],
        }

    receivers: list[tuple[Child, list[Agent]]] = []
    driver: Child | None = None
    children: list[Child] = []
    failures: list[str] = []
    try:
        for name, members in groups:
            child = await Child.start(name, spec("receive", members))
            children.append(child)
            receivers.append((child, members))
        driver = await Child.start("driver", spec("drive", agents))
        children.append(driver)
        log(f"signing in {n} apps ({len(shards)} processes) and {s.direct} direct subscribers ...")
        per = max(1, s.concurrency // max(1, len(receivers)))
        t0 = time.monotonic()
        replies = await asyncio.gather(
            *(c.call({"cmd": "login", "concurrency": per}) for c, _ in receivers)
        )
        login_seconds = time.monotonic() - t0
        if watchers:  # once their agents are in: they see no login notifications
            child = await Child.start("direct", spec("receive", watchers))
            children.append(child)
            receivers.append((child, watchers))
            await child.call({"cmd": "login", "concurrency": len(watchers)})
        tokens: dict[str, str] = {}
        for r in replies:
            tokens.update(r["tokens"])
        login_failures = [f for c, _ in receivers for f in c.failures]
        if login_failures:
            raise BenchError(f"{len(login_failures)} logins failed: {login_failures[:3]}")
        await driver.call({"cmd": "tokens", "tokens": tokens})
        rss_after, _ = await settled_rss(conn_pid)
        log(f"  in after {login_seconds:.2f}s; RSS {rss_before} -> {rss_after} KiB")

        async def drive(rate: float, seconds: float, via: str = "rest") -> None:
            assert driver is not None
            r = await driver.call({"cmd": "drive", "rate": rate, "seconds": seconds, "via": via})
            for aid, d in r["agents"].items():
                a = by_id[aid]
                a.acks.extend(d["acks"])
                a.puts.extend(d["puts"])
                a.rids.update(d["rids"])
                a.sent += len(d["acks"])

        async def drain(timeout: float) -> None:
            async def one(c: Child, members: list[Agent]) -> None:
                expected = {a.id: (a.twin or a).sent for a in members}
                r = await c.call({"cmd": "wait", "expected": expected, "timeout": timeout})
                mine = {a.id: a for a in members}
                for aid, d in r["agents"].items():
                    mine[aid].recv.extend(d["recv"])
                    mine[aid].rid_recv.update(d["rid_recv"])

            await asyncio.gather(*(one(c, m) for c, m in receivers))

        def cpu() -> dict[str, float]:
            out = {c.name: c.cpu_seconds() for c in children}
            out["connector"] = proc_cpu_seconds(conn_pid)
            out["connector_wait"] = proc_wait_seconds(conn_pid)
            out["simulator"] = proc_cpu_seconds(sim_pid)
            out["simulator_wait"] = proc_wait_seconds(sim_pid)
            return out

        # One warm-up flip each (NOT_READY -> READY), not counted.
        warm = gen.mark()
        await drive(min(s.rate, 2000), len(agents) / min(s.rate, 2000))
        await drain(s.drain)
        gen.phase(warm)
        rates = sweep_rates(s.rate) if s.sweep else [s.rate]
        steps: list[dict[str, Any]] = []
        for rate in rates:
            since = gen.mark()
            cpu0, t0 = cpu(), time.monotonic()
            log(f"driving {rate:g} events/s for {s.seconds:g}s (from monotonic {t0:.3f}) ...")
            await drive(rate, s.seconds, via=s.inject)
            wall = time.monotonic() - t0
            cpu1 = cpu()
            await drain(s.drain)
            used = {k: round(100 * (cpu1[k] - cpu0[k]) / wall, 1) for k in cpu1}
            step = {
                "events_per_second": rate,
                "achieved_per_second": None,
                **gen.phase(since),
                "connector_cpu_percent": used.pop("connector"),
                "connector_wait_percent": used.pop("connector_wait"),
                "simulator_cpu_percent": used.pop("simulator"),
                "simulator_wait_percent": used.pop("simulator_wait"),
                "generator_cpu_percent": used,
            }
            step["achieved_per_second"] = round(step["events_sent"] / wall, 1)
            log(
                f"  sent {step['events_sent']} ({step['achieved_per_second']}/s), lost "
                f"{step['lost']}, e2e {step['e2e_ms']}, direct {step['direct_ms']}, "
                f"connector added {step['connector_added_ms']}, "
                f"rtt {step['command_rtt_ms']}, cpu {step['connector_cpu_percent']}% "
                f"(waiting for a CPU {step['connector_wait_percent']}%), "
                f"generator {used}"
            )
            steps.append(step)
        burst = None
        if s.burst:
            log(f"burst: {s.burst} events in {s.burst_seconds:g}s ...")
            await asyncio.sleep(1.0)
            since = gen.mark()
            cpu0, t0 = cpu(), time.monotonic()
            await drive(s.burst / s.burst_seconds, s.burst_seconds, via="bulk")
            sent_in = time.monotonic() - t0
            cpu1 = cpu()
            await drain(max(s.drain, 30.0))
            burst = {
                "events": s.burst,
                "seconds": s.burst_seconds,
                "sent_in_seconds": round(sent_in, 2),
                "drained_in_seconds": round(time.monotonic() - t0, 2),
                **gen.phase(since),
                "cpu_percent_while_sending": {
                    k: round(100 * (cpu1[k] - cpu0[k]) / sent_in, 1) for k in cpu1
                },
            }
            log(
                f"  sent in {burst['sent_in_seconds']}s, lost {burst['lost']}, "
                f"e2e {burst['e2e_ms']}, CPU while sending {burst['cpu_percent_while_sending']}"
            )
        rss_end = proc_rss_kib(conn_pid)
    finally:
        await asyncio.gather(*(c.close() for c in children), return_exceptions=True)
        failures = [f for c in children for f in c.failures]
    return {
        "login_seconds": round(login_seconds, 2),
        "rss_kib": {"before": rss_before, "after_login": rss_after, "end": rss_end},
        "steps": steps,
        "burst": burst,
        "failures": failures[:20],
        "failure_count": len(failures),
    }


async def _child(spec: dict[str, Any]) -> None:
    """A load-generator process: `receive` (sign in its apps or direct clients and stamp
    their events) or `drive` (the PUTs). Requests on stdin, replies on stdout."""
    agents = [Agent(i, kind) for i, kind in spec["agents"]]
    gen = Generator(spec["sim"], spec["api"], agents)
    timeout = aiohttp.ClientTimeout(total=60)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout)
    conn = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16), timeout=timeout)
    loop = asyncio.get_running_loop()
    reported = {a.id: 0 for a in agents}
    rest = http
    if spec["role"] == "drive":
        rest = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64), timeout=timeout)

    def reply(out: dict[str, Any]) -> None:
        out["failures"] = gen.failures
        gen.failures = []
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
                secs = await gen.login_all(http, msg["concurrency"])
                out = {
                    "login_seconds": secs,
                    "tokens": {a.id: a.token for a in agents if a.kind == "command"},
                }
            elif cmd == "tokens":
                for a in agents:
                    a.token = msg["tokens"].get(a.id, a.token)
            elif cmd == "drive":
                if msg.get("via") == "bulk":
                    await gen.drive_bulk(rest, msg["rate"], msg["seconds"])
                else:
                    await gen.drive(rest, conn, msg["rate"], msg["seconds"])
                out = {
                    "agents": {
                        a.id: {"acks": a.acks, "puts": a.puts, "rids": a.rids}
                        for a in agents
                        if a.acks
                    }
                }
                for a in agents:
                    a.acks, a.puts, a.rids = [], [], {}
            elif cmd == "wait":
                expected = msg["expected"]
                deadline = time.monotonic() + msg["timeout"]
                while time.monotonic() < deadline and any(  # noqa: ASYNC110
                    len(a.recv) < expected.get(a.id, 0) for a in agents
                ):
                    await asyncio.sleep(0.05)
                out = {"agents": {}}
                for a in agents:
                    k = reported[a.id]
                    out["agents"][a.id] = {"recv": a.recv[k:], "rid_recv": a.rid_recv}
                    reported[a.id] = len(a.recv)
                    a.rid_recv = {}
            reply(out)
    finally:
        await gen.close()
        for session in {http, conn, rest}:
            await session.close()


def _child_main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us through "close"
    spec = json.loads(sys.stdin.readline())
    asyncio.run(_child(spec))
    return 0


def highest_meeting(steps: list[dict[str, Any]]) -> float | None:
    best = None
    for st in steps:
        p99 = st["e2e_ms"]["p99"]
        if st["lost"] == 0 and p99 is not None and p99 <= TARGETS["p99_ms"]:
            best = st["events_per_second"]
    return best


def verdicts(r: dict[str, Any]) -> dict[str, bool | None]:
    e2e, direct = r["e2e_ms"], r["direct_ms"]
    out: dict[str, bool | None] = {
        "p50_le_5ms": e2e["p50"] is not None and e2e["p50"] <= TARGETS["p50_ms"],
        "p99_le_25ms": e2e["p99"] is not None and e2e["p99"] <= TARGETS["p99_ms"],
        "no_loss": r["lost"] == 0,
        "p99_within_2x_direct": (
            None
            if not (e2e["p99"] and direct["p99"])
            else e2e["p99"] <= TARGETS["p99_vs_direct"] * direct["p99"]
        ),
        "kib_per_agent_le_128": r["rss_per_agent_kib"] <= TARGETS["kib_per_agent"],
        "login_le_10s": r["login_seconds"] <= TARGETS["login_seconds"],
    }
    b = r.get("burst")
    out["burst_no_loss_p99_lt_1s"] = (
        None
        if not b
        else b["lost"] == 0
        and b["e2e_ms"]["p99"] is not None
        and b["e2e_ms"]["p99"] < TARGETS["burst_p99_ms"]
    )
    return out


def run(s: Settings) -> dict[str, Any]:
    _allowed, cores = pinning()
    sim_cpus = {cores[0]} if cores else None
    conn_cpus = {cores[1]} if cores else None
    with tempfile.TemporaryDirectory(prefix="connector-bench-") as tmp:
        roster = Path(tmp) / ROSTER_NAME
        roster.write_text(roster_toml(s.agents))
        sim_cmd = [sys.executable, "-m", "mobagent", "sim", "--host", HOST, "--rest-port", "0"]
        sim_cmd += ["--xmpp-port", "0", "--json", "--config", str(roster)]
        with running(sim_cmd, name="simulator", cpus=sim_cpus, start_timeout=60) as (
            sim_proc,
            sim_info,
        ):
            finesse = sim_info["sides"]["A"]["rest"].removesuffix("/finesse/api")
            head = [sys.executable, "-m", "mobagent", "connector"]
            if s.profile:
                head = [sys.executable, "-m", "scenarios.bench.connector_bench", PROFILE_FLAG]
                head += [os.path.abspath(s.profile)]
            if s.gc_stats:
                head = [sys.executable, "-m", "scenarios.bench.gc_connector"]
                head += [os.path.abspath(s.gc_stats)]
            conn_cmd = [*head, "--finesse", finesse, "--listen", f"{HOST}:0", "--json"]
            with running(conn_cmd, name="connector", cpus=conn_cpus, stop_timeout=STOP_TIMEOUT) as (
                conn,
                conn_info,
            ):
                m = asyncio.run(measure(conn.pid, sim_proc.pid, sim_info, conn_info["api"], s))
                conn.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    conn.wait(STOP_TIMEOUT)
    main_step = m["steps"][-1] if not s.sweep else _at_rate(m["steps"], s.rate)
    rss = m["rss_kib"]
    result: dict[str, Any] = {
        "agents": s.agents,
        "events_per_second": s.rate,
        "seconds": s.seconds,
        "events_sent": main_step["events_sent"],
        "events_received": main_step["events_received"],
        "lost": main_step["lost"],
        "e2e_ms": main_step["e2e_ms"],
        "direct_ms": main_step["direct_ms"],
        "command_rtt_ms": main_step["command_rtt_ms"],
        "login_seconds": m["login_seconds"],
        "connector_rss_mib": round(rss["after_login"] / 1024, 1),
        "rss_per_agent_kib": round((rss["after_login"] - rss["before"]) / s.agents, 1),
        "connector_cpu_percent": main_step["connector_cpu_percent"],
        "generator_cpu_percent": main_step["generator_cpu_percent"],
        "generator_processes": {"apps": s.app_procs, "direct": 1 if s.direct else 0, "driver": 1},
        "inject": s.inject,
        "achieved_per_second": main_step["achieved_per_second"],
        "events_before_ack": main_step["events_before_ack"],
        "e2e_from_put_ms": main_step["e2e_from_put_ms"],
        "direct_from_put_ms": main_step["direct_from_put_ms"],
        "samples": main_step["samples"],
        "rss_kib": rss,
        "direct_subscribers": s.direct,
        "command_agents": s.commands,
        "burst": m["burst"],
        "sweep": (
            {
                "steps": m["steps"],
                "highest_rate_meeting_p99_25ms_0_lost": highest_meeting(m["steps"]),
            }
            if s.sweep
            else None
        ),
        "failures": m["failures"],
        "failure_count": m["failure_count"],
        "targets": TARGETS,
        "machine": machine(cores),
        "steps": m["steps"],
    }
    result["meets"] = verdicts(result)
    return result


def _at_rate(steps: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    return next((st for st in steps if st["events_per_second"] == rate), steps[-1])


# -- output ----------------------------------------------------------------------------------


def chart(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["steps"]
    rates = [st["achieved_per_second"] for st in steps]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (
        ("p50", "connector p50", "o-"),
        ("p99", "connector p99", "s-"),
        ("p999", "connector p99.9", "^-"),
    ):
        ax.plot(rates, [st["e2e_ms"][key] for st in steps], style, label=label)
    ax.plot(rates, [st["direct_ms"]["p99"] for st in steps], "x--", label="direct slixmpp p99")
    ax.axhline(TARGETS["p99_ms"], color="red", lw=0.8, ls=":", label="p99 target 25 ms")
    ax.set_xlabel("events per second (achieved)")
    start = "simulator publish" if result.get("inject") == "bulk" else "simulator 202"
    ax.set_ylabel(f"latency, ms ({start} -> app receives)")
    ax.set_yscale("log")
    ax.set_title(f"Connector push latency, {result['agents']} agents")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def text(r: dict[str, Any]) -> str:
    lines = [
        f"agents {r['agents']}, {r['events_per_second']:g} events/s for {r['seconds']:g}s "
        f"(achieved {r['achieved_per_second']}/s)",
        f"events sent {r['events_sent']}, received {r['events_received']}, lost {r['lost']}",
        f"e2e ms {r['e2e_ms']}",
        f"direct ms {r['direct_ms']}",
        f"from before the PUT (upper bound, includes REST): e2e {r['e2e_from_put_ms']}, "
        f"direct {r['direct_from_put_ms']}; events read before their 202: "
        f"{r['events_before_ack']}",
        f"command rtt ms {r['command_rtt_ms']}",
        f"login {r['login_seconds']}s; connector RSS {r['connector_rss_mib']} MiB, "
        f"{r['rss_per_agent_kib']} KiB per agent; CPU {r['connector_cpu_percent']}%",
    ]
    if r["burst"]:
        b = r["burst"]
        lines.append(f"burst {b['events']} in {b['seconds']}s: lost {b['lost']}, e2e {b['e2e_ms']}")
    if r["sweep"]:
        lines.append(f"sweep: highest rate meeting p99 <= 25 ms, 0 lost: {r['sweep']}")
    lines.append(f"meets: {r['meets']}")
    return "\n".join(lines)


def _connector_under_cprofile(out: str, argv: list[str]) -> int:
    """The connector exactly as `mobagent connector`, under cProfile; stats to `out`."""
    import cProfile

    from mobagent.cli import main as cli

    prof = cProfile.Profile()
    prof.enable()
    try:
        return cli(["connector", *argv])
    finally:
        prof.disable()
        prof.dump_stats(out)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == [PROFILE_FLAG]:
        return _connector_under_cprofile(args_in[1], args_in[2:])
    if args_in[:1] == [CHILD_FLAG]:
        return _child_main()
    p = argparse.ArgumentParser(
        prog="mobagent bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--events-per-second", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--direct", type=int, default=20, help="plain slixmpp subscribers")
    p.add_argument(
        "--commands",
        type=int,
        default=None,
        help="agents driven through the connector (default: 1 %% of --agents, 1..20)",
    )
    p.add_argument("--burst", type=int, default=0, help="events in a burst after the run")
    p.add_argument("--burst-seconds", type=float, default=2.0)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--chart", help="write a PNG of latency against load")
    p.add_argument("--drain", type=float, default=DRAIN, help="seconds to wait for stragglers")
    p.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="sign-ins in flight at a time"
    )
    p.add_argument("--profile", help="run the connector under cProfile, stats to this path")
    p.add_argument(
        "--app-procs", type=int, default=APP_PROCS, help="processes holding the app WebSockets"
    )
    p.add_argument(
        "--inject",
        choices=["rest", "bulk"],
        default="rest",
        help="steady phases' events: agents' REST PUTs (default) or the simulator's bulk "
        "state change (rates beyond what its REST API takes on one core)",
    )
    p.add_argument("--gc-stats", help="record the connector's GC pauses (JSON) to this path")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(args_in)
    if not 1 <= args.agents <= MAX_AGENTS:
        p.error(f"--agents must be between 1 and {MAX_AGENTS}")
    if args.commands is None:
        args.commands = min(20, max(1, args.agents // 100))
    if not 0 <= args.commands < args.agents:
        p.error("--commands must be below --agents")
    if not 0 <= args.direct <= args.agents - args.commands:
        p.error("--direct watchers are app agents: at most --agents minus --commands")
    s = Settings(
        agents=args.agents,
        rate=args.events_per_second,
        seconds=args.seconds,
        direct=args.direct,
        commands=args.commands,
        burst=args.burst,
        burst_seconds=args.burst_seconds,
        sweep=args.sweep,
        drain=args.drain,
        concurrency=max(1, args.concurrency),
        profile=args.profile,
        app_procs=max(1, args.app_procs),
        gc_stats=args.gc_stats,
        inject=args.inject,
    )
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(128 + signal.SIGTERM))
    try:
        result = run(s)
    except (BenchError, aiohttp.ClientError, OSError) as exc:
        print(f"mobagent bench: {exc}", file=sys.stderr)
        return 1
    if args.chart:
        chart(result, args.chart)
    print(json.dumps(result) if args.json else text(result))
    return 1 if result["failure_count"] or result["lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
