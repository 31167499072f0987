"""What a load-generator process does: sign its apps (or its direct XMPP watchers) in and
stamp their events, or flip agents READY / NOT_READY at a paced rate and stamp the acks.

The apps sign in and send commands with `mobile_sim`'s app client; only the event reader is
this module's own (see `Generator._read`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from mobile_sim.api import AppError, parse_event
from mobile_sim.app import AppClient
from scenarios.bench.connector.agents import LoadAgent
from scenarios.bench.connector.settings import TICK
from scenarios.bench.procs import BenchError
from scenarios.bench.roster import PASSWORD, extension

NOT_READY_XML = "<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>"
READY_XML = "<User><state>READY</state></User>"
DIRECT_RESOURCE = "bench-direct"
_SHARED_SSL = ssl.create_default_context()


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


class Generator:
    def __init__(self, sim: dict[str, Any], api: str, agents: list[LoadAgent]) -> None:
        self.sim_rest = sim["sides"]["A"]["rest"]
        self.sim_bulk = self.sim_rest.removesuffix("/finesse/api") + "/sim/v1/agents/state"
        host, _, port = sim["sides"]["A"]["xmpp"].rpartition(":")
        self.xmpp_addr = (host, int(port))
        self.domain = sim["sides"]["A"]["xmppDomain"]
        self.api = api
        self.agents = agents
        self.apps: dict[str, AppClient] = {}  # the command agents' (their requests)
        self.failures: list[str] = []
        self.ws: list[aiohttp.ClientWebSocketResponse] = []
        self.readers: list[asyncio.Task[None]] = []
        self.direct_clients: list[Any] = []
        self.closing = False

    # signing in

    def app(self, http: aiohttp.ClientSession, agent: LoadAgent) -> AppClient:
        """The agent's phone app (`mobile_sim`), on the agent's token once it has one."""
        app = AppClient(self.api, http=http)
        app.token, app.agent_id = agent.token, agent.id
        return app

    async def login_app(self, http: aiohttp.ClientSession, agent: LoadAgent) -> None:
        """Sign in through the app client, then read the event stream with `_read`."""
        app = self.app(http, agent)
        await app.login(agent.id, PASSWORD, extension(agent.index), listen=False)
        agent.token = app.token
        ws = await app.open_stream(heartbeat=None)
        self.ws.append(ws)
        first = await ws.receive()
        if first.type != aiohttp.WSMsgType.TEXT:
            raise BenchError(f"agent {agent.id}: no first event message ({first.type})")
        self.readers.append(asyncio.ensure_future(self._read(agent, ws)))

    async def _read(self, agent: LoadAgent, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Stamp each agent.state event as it is read. Not `AppClient.listen()`: its mirror,
        history and waits would run between the read and the stamp, for every event of
        every app, and add this process's work to the latency the benchmark reports."""
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.monotonic()
                event = parse_event(message.data)
                if event.get("type") != "agent.state":
                    continue
                request_id = (event.get("data") or {}).get("requestId")
                if request_id:
                    agent.rid_recv[request_id] = now
                agent.recv.append(now)
        except Exception as exc:  # a closed stream mid-run is a failure
            if not self.closing:
                self.failures.append(f"agent {agent.id} stream: {type(exc).__name__}: {exc}")

    async def login_direct(self, agent: LoadAgent) -> None:
        """A plain slixmpp client signed in as an agent whose app is already in, with a
        resource of its own: Finesse delivers the agent's User notifications to both
        sessions, so it receives the very events the connector relays (`direct_ms`)."""
        from slixmpp import ClientXMPP
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        client = ClientXMPP(
            f"{agent.id}@{self.domain}/{DIRECT_RESOURCE}",
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
            agent.recv.append(time.monotonic())

        client.add_event_handler("session_start", on_session)
        client.add_event_handler("failed_auth", on_failed)
        # slixmpp's "message" event fires only for messages with a <body>.
        xpath = "{jabber:client}message/{http://jabber.org/protocol/pubsub#event}event"
        client.register_handler(Callback("bench pubsub event", MatchXPath(xpath), on_event))
        client.connect(*self.xmpp_addr)
        self.direct_clients.append(client)
        if not await asyncio.wait_for(started, 30):
            raise BenchError(f"direct client {agent.id}: authentication failed")

    async def login_all(self, http: aiohttp.ClientSession, concurrency: int) -> float:
        t0 = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def one(agent: LoadAgent) -> None:
            async with sem:
                try:
                    if agent.kind == "direct":
                        await self.login_direct(agent)
                    else:
                        await self.login_app(http, agent)
                except (aiohttp.ClientError, TimeoutError, AppError, BenchError, KeyError) as exc:
                    self.failures.append(f"login {agent.id}: {type(exc).__name__}: {exc}"[:300])

        await asyncio.gather(*(one(agent) for agent in self.agents))
        return time.perf_counter() - t0

    # driving

    async def flip(
        self, rest: aiohttp.ClientSession, conn: aiohttp.ClientSession, agent: LoadAgent
    ) -> None:
        """One state change of one agent: through the connector (a command agent, as its
        app) or through the simulator's REST API as the agent."""
        async with agent.lock:
            target = "READY" if agent.state == "NOT_READY" else "NOT_READY"
            try:
                if agent.kind == "command":
                    app = self.apps.get(agent.id) or self.apps.setdefault(
                        agent.id, self.app(conn, agent)
                    )
                    sent = time.monotonic()
                    reason = "1" if target == "NOT_READY" else None
                    agent.rids[await app.set_state(target, reason)] = sent
                    agent.acks.append(sent)
                else:
                    xml = READY_XML if target == "READY" else NOT_READY_XML
                    put = time.monotonic()
                    async with rest.put(
                        f"{self.sim_rest}/User/{agent.id}",
                        data=xml,
                        headers={
                            "Authorization": _basic(agent.id),
                            "Content-Type": "application/xml",
                        },
                    ) as r:
                        text = await r.text()
                        if r.status != 202:
                            raise BenchError(f"simulator PUT answered {r.status}: {text[:200]}")
                        agent.acks.append(time.monotonic())
                        agent.puts.append(put)
                agent.state = target
                agent.sent += 1
            except (aiohttp.ClientError, AppError, BenchError, KeyError, ValueError) as exc:
                self.failures.append(f"flip {agent.id}: {type(exc).__name__}: {exc}"[:300])

    async def drive(
        self,
        rest: aiohttp.ClientSession,
        conn: aiohttp.ClientSession,
        rate: float,
        seconds: float,
    ) -> None:
        """`rate` flips per second for `seconds`, round-robin over the agents, each its own
        PUT."""
        await self._paced(
            self.agents, rate, seconds, 1, lambda batch: self.flip(rest, conn, batch[0])
        )

    async def drive_bulk(
        self,
        rest: aiohttp.ClientSession,
        conn: aiohttp.ClientSession,
        rate: float,
        seconds: float,
        commands: bool = False,
    ) -> None:
        """`rate` flips per second for `seconds` through the simulator's bulk state change
        (POST /sim/v1/agents/state), a batch of distinct agents per tick, round-robin over
        the agents that are not driven through the connector. An agent's ack is the
        simulator's CLOCK_MONOTONIC just after its notification went out. `commands`: the
        command agents keep their share of the rate, each flip a command through the
        connector as with `drive` (a steady phase's command round trips)."""
        agents = [agent for agent in self.agents if agent.kind != "command"]
        driven = [agent for agent in self.agents if agent.kind == "command"] if commands else []
        share = rate * len(driven) / (len(agents) + len(driven)) if driven else 0.0
        jobs = []
        if agents:
            jobs.append(
                self._paced(
                    agents,
                    rate - share,
                    seconds,
                    len(agents),
                    lambda batch: self.flip_batch(rest, batch),
                )
            )
        if driven:
            jobs.append(
                self._paced(driven, share, seconds, 1, lambda b: self.flip(rest, conn, b[0]))
            )
        await asyncio.gather(*jobs)

    async def _paced(
        self,
        agents: list[LoadAgent],
        rate: float,
        seconds: float,
        most: int,
        work: Callable[[list[LoadAgent]], Awaitable[None]],
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
                task = asyncio.ensure_future(work(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                done += len(batch)
            await asyncio.sleep(TICK)
        if tasks:
            await asyncio.gather(*tasks)

    async def flip_batch(self, rest: aiohttp.ClientSession, batch: list[LoadAgent]) -> None:
        async with contextlib.AsyncExitStack() as held:
            for agent in batch:  # in index order, as every batch: no two wait on each other
                await held.enter_async_context(agent.lock)
            to_ready = [agent for agent in batch if agent.state == "NOT_READY"]
            to_not_ready = [agent for agent in batch if agent.state != "NOT_READY"]
            for target, group in (("READY", to_ready), ("NOT_READY", to_not_ready)):
                if not group:
                    continue
                body: dict[str, Any] = {"agents": [agent.id for agent in group], "state": target}
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
                for agent, result in zip(group, answer["results"], strict=True):
                    if result["status"] != 202:
                        self.failures.append(f"flip {agent.id}: {result}"[:300])
                        continue
                    agent.acks.append(result["monotonic"])
                    agent.puts.append(sent)
                    agent.state = target
                    agent.sent += 1

    async def close(self) -> None:
        self.closing = True
        for ws in self.ws:
            with contextlib.suppress(Exception):
                await ws.close()
        for client in self.direct_clients:
            with contextlib.suppress(Exception):
                client.disconnect(wait=0)
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
