"""Two connector processes on one Redis behind one address (a balancer with no
stickiness): any process serves any agent; a process killed (-9) or paused (SIGSTOP) has
its agents taken over by the other before Finesse's forced logout, and the apps miss
nothing; a token revoked through one is refused by the other at once.

The simulator runs in this process (its model tells whether a forced logout is pending);
the connectors are real processes."""

from __future__ import annotations

import asyncio
import contextlib
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil
import pytest
import redis.asyncio as aioredis

from connector.push import VapidKeys
from finesse_sim.config import config_from_dict
from mobile_sim.api import AppError, Mobile, service_root
from mobile_sim.app import AppClient
from mobile_sim.push_service import SimPushService
from scenarios.bench import roster
from scenarios.stack.balancer import Balancer
from scenarios.stack.connector_process import ConnectorProcess
from scenarios.stack.finesse_lab import FinesseLab
from scenarios.stack.redis_lab import RedisServer

pytestmark = pytest.mark.integration
AGENTS = 20
KEY = "rfAoCzWyZ4yQ3kqWXNb1nQm8fsr8NdO1F3zCkpFFJ8w"  # a state key for tests only
LEASE = 3.0  # s: short, so that a take-over is quick to test
TIMEOUT = 20.0


@dataclass
class Cluster:
    finesse: FinesseLab
    redis: aioredis.Redis
    processes: list[ConnectorProcess]
    balancer: Balancer
    http: aiohttp.ClientSession
    apps: list[AppClient] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [app.agent_id for app in self.apps]

    def app(self, agent_id: str) -> AppClient:
        return next(app for app in self.apps if app.agent_id == agent_id)

    async def metric(self, process: ConnectorProcess, name: str) -> float:
        async with self.http.get(f"http://127.0.0.1:{process.port}/metrics") as r:
            for line in (await r.text()).splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise AssertionError(f"no {name} in the metrics of the process on {process.port}")

    async def holders(self) -> dict[str, int]:
        """agent -> the port of the process holding its lease (0: none)."""
        out = {}
        for agent in self.ids:
            lease = await self.redis.get(f"mobagent:lease:{agent}")
            out[agent] = int(lease.split("|")[0].rsplit(":", 1)[1]) if lease else 0
        return out

    def present(self) -> set[str]:
        return set(self.finesse.sim.sides[0].xmpp.available_users())

    def no_forced_logout(self) -> None:
        for agent_id in self.ids:
            agent = self.finesse.sim.model.agents[agent_id]
            assert agent.logged_in and agent.presence_timer is None, agent_id

    async def customer_calls(self) -> str:
        status, body = await self.finesse.control(
            "POST", "/calls", {"dn": "8000", "from": "+15550100"}
        )
        assert status == 201, body
        return body["callId"]


@contextlib.asynccontextmanager
async def cluster(
    redis_lab: RedisServer, push: SimPushService | None = None, state_dir: Path | None = None
) -> AsyncIterator[Cluster]:
    """With `push`: the processes may send to it, and share one VAPID key pair (made in
    `state_dir`), as every process of a cluster must (docs/deploy-cluster.md)."""
    config = config_from_dict(tomllib.loads(roster.roster_toml(AGENTS)))
    async with FinesseLab(config) as finesse:
        side = finesse.sim.sides[0]
        env = {
            "MOBAGENT_CONNECTOR_STATE_KEY": KEY,
            "MOBAGENT_CONNECTOR_LEASE_TTL": str(LEASE),
            "MOBAGENT_CONNECTOR_RECONCILE_INTERVAL": "0",
        }
        args = ["--state", redis_lab.url]
        if push is not None:
            assert state_dir is not None
            VapidKeys.load(state_dir, "mailto:test@localhost")  # made once, for both
            args += ["--push-allow", push.origin, "--state-dir", str(state_dir)]
        processes = [
            ConnectorProcess(f"http://127.0.0.1:{side.rest_port}", args=args, env=env)
            for _ in range(2)
        ]
        balancer = Balancer([("127.0.0.1", p.port) for p in processes])
        redis = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True))
        lab = Cluster(finesse, redis, processes, balancer, http)
        try:
            for process in processes:
                await asyncio.to_thread(process.start)  # the simulator answers meanwhile
            await balancer.start()
            for i in range(1, AGENTS + 1):
                # Signed in through each process in turn (so both hold agents); from then
                # on, every request and stream goes through the balancer.
                app = AppClient(processes[i % 2].api, http=http)
                lab.apps.append(app)
                mobile = Mobile("CALL_BY_CALL", roster.dial_number(i))
                await app.login(
                    roster.agent_id(i), roster.PASSWORD, roster.extension(i), mobile, listen=False
                )
                app.base_url = service_root(balancer.url("/api/v1"))
                await app.listen()
            yield lab
        finally:
            for app in lab.apps:
                await app.close()
            await http.close()
            await balancer.stop()
            for process in processes:
                process.close()
            await redis.aclose()


async def eventually(check: Callable[[], object], timeout: float = TIMEOUT) -> None:
    """Poll an outside view (another process's state) until `check()` holds."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 (another process: no event to wait for)
            await asyncio.sleep(0.1)


def in_order(app: AppClient) -> None:
    seqs = [e["seq"] for e in app.history]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), (app.agent_id, seqs)


@pytest.mark.timeout(180)
async def test_a_killed_process_agents_are_taken_over_and_their_apps_miss_nothing(redis_lab):
    async with cluster(redis_lab) as lab:
        victim, survivor = lab.processes
        holders = await lab.holders()
        theirs = [a for a in lab.ids if holders[a] == victim.port]
        ours = [a for a in lab.ids if holders[a] == survivor.port]
        assert theirs and ours and len(theirs) + len(ours) == AGENTS  # spread over both
        apps = {app.agent_id: app for app in lab.apps}
        # A call in progress for one of the victim's agents, and one of them READY.
        talking, ready = apps[theirs[0]], apps[theirs[1]]
        await talking.ready()
        await talking.wait_for_state("READY", TIMEOUT)
        call = await lab.customer_calls()
        await talking.wait_for("dialog.created", lambda d: d["id"] == call, TIMEOUT)
        number = roster.dial_number(int(talking.agent_id) - 1000)
        assert (await lab.finesse.control("POST", f"/phones/{number}/answer"))[0] == 200
        await talking.wait_for_state("TALKING", TIMEOUT)
        await ready.ready()
        await ready.wait_for_state("READY", TIMEOUT)
        before = {app.agent_id: app.last_seq for app in lab.apps}

        victim.kill()
        killed = time.monotonic()
        await lab.finesse.sim.wait_until(lambda: not lab.present() & set(theirs), TIMEOUT)
        routed = await lab.customer_calls()  # to `ready`, the one READY agent
        await lab.finesse.sim.wait_until(lambda: set(theirs) <= lab.present(), TIMEOUT)
        taken_over = time.monotonic() - killed
        assert taken_over < 15.0, f"taken over {taken_over:.1f} s after the kill"
        assert set((await lab.holders()).values()) == {survivor.port}

        created = await ready.wait_for("dialog.created", lambda d: d["id"] == routed, TIMEOUT)
        assert created["state"] == "ALERTING"
        for app in lab.apps:
            assert await app.wait_until(lambda app=app: app.stream_open, TIMEOUT)
            # Still signed in with the same token, through whichever process answers.
            assert (await app.get_agent())["id"] == app.agent_id
            after = [e["type"] for e in app.history if e["seq"] > before[app.agent_id]]
            assert "session.resync" not in after, app.agent_id
            in_order(app)
        assert talking.agent_state == "TALKING"
        lab.no_forced_logout()
        print(f"take-over of {len(theirs)} agents: {taken_over:.2f} s after the kill")


@pytest.mark.timeout(180)
async def test_a_paused_process_gives_up_what_it_lost_and_nothing_is_published_twice(
    redis_lab, monkeypatch
):
    async with cluster(redis_lab) as lab:
        paused, other = lab.processes
        holders = await lab.holders()
        theirs = [a for a in lab.ids if holders[a] == paused.port]
        assert theirs
        apps = {app.agent_id: app for app in lab.apps}
        ready = apps[theirs[0]]
        await ready.ready()
        await ready.wait_for_state("READY", TIMEOUT)

        paused.pause()
        stopped = time.monotonic()

        # Its leases lapse; the other process takes its agents over (Finesse replaces the
        # paused process's notification sessions with the new ones).
        async def taken() -> bool:
            return set((await lab.holders()).values()) == {other.port}

        await eventually(taken)
        taken_over = time.monotonic() - stopped
        routed = await lab.customer_calls()
        await ready.wait_for("dialog.created", lambda d: d["id"] == routed, TIMEOUT)

        async def all_up() -> bool:  # the take-over's logins are all done (claimed is not)
            async with lab.http.get(f"{other.root}/healthz") as r:
                return (await r.json())["notificationsUp"] == AGENTS

        await eventually(all_up)
        # Every XMPP login (resource bind) the simulator sees from the resume on, and
        # whether it came from the resumed process (its sockets, looked up at the bind).
        logins: list[tuple[str, str]] = []  # (agent, "resumed" or "holder")
        registry = lab.finesse.sim.sides[0].xmpp.registry
        bind = registry.bind

        def login(session) -> None:
            ports = {c.laddr.port for c in psutil.Process(paused.pid).net_connections("tcp")}
            mine = int(session.peer.rpartition(":")[2]) in ports
            logins.append((session.user, "resumed" if mine else "holder"))
            bind(session)

        monkeypatch.setattr(registry, "bind", login)
        paused.resume()

        async def let_go() -> bool:
            async with lab.http.get(f"http://127.0.0.1:{paused.port}/healthz") as r:
                return (await r.json())["sessions"] == 0

        await eventually(let_go)
        # Nothing the resumed process still had is published: the app's stream goes on
        # in order, each seq once, and the call goes on.
        number = roster.dial_number(int(ready.agent_id) - 1000)
        assert (await lab.finesse.control("POST", f"/phones/{number}/answer"))[0] == 200
        await ready.wait_for_state("TALKING", TIMEOUT)
        for app in lab.apps:
            in_order(app)
        assert set((await lab.holders()).values()) == {other.port}
        # The resumed process asked Redis before reconnecting the sessions it had lost, and
        # gave them up: no login of those agents since (neither its own, nor the holder's
        # again after being replaced by it). It let go of all of them, so none can follow.
        again = [(agent, peer) for agent, peer in logins if agent in theirs]
        assert again == [], f"XMPP logins of agents it lost after the resume: {again}"
        assert set(theirs) <= lab.present()
        lab.no_forced_logout()
        print(f"take-over after SIGSTOP: {taken_over:.2f} s")


@pytest.mark.timeout(120)
async def test_a_token_revoked_through_one_process_is_refused_by_the_other(redis_lab):
    async with cluster(redis_lab) as lab:
        one, two = lab.processes
        app = lab.apps[0]
        direct = AppClient(f"http://127.0.0.1:{two.port}/api/v1", http=lab.http)
        direct.token = app.token
        assert (await direct.get_agent())["id"] == app.agent_id
        through_one = AppClient(f"http://127.0.0.1:{one.port}/api/v1", http=lab.http)
        through_one.token = app.token
        await through_one.logout(3)
        with pytest.raises(AppError) as refused:
            await direct.get_agent()
        assert refused.value.status == 401


@pytest.mark.timeout(180)
async def test_redis_restarted_under_load_loses_nothing_and_logs_nobody_out(persistent_redis):
    async with cluster(persistent_redis) as lab:
        holders = await lab.holders()
        before = {app.agent_id: app.last_seq for app in lab.apps}
        persistent_redis.stop()
        stopped = time.monotonic()

        async def not_ready() -> bool:
            for process in lab.processes:
                async with lab.http.get(f"http://127.0.0.1:{process.port}/readyz") as r:
                    body = await r.json()
                    if r.status != 503 or "Redis" not in body.get("reason", ""):
                        return False
            return True

        await eventually(not_ready)
        again = AppClient(lab.processes[0].api, http=lab.http)
        with pytest.raises(AppError) as refused:
            await again.login("1001", roster.PASSWORD, roster.extension(1), listen=False)
        assert (refused.value.status, refused.value.type) == (503, "state_unavailable")
        # Load while Redis is away: every agent changes state four times (Finesse's side).
        states = ["READY", "NOT_READY", "READY", "NOT_READY"]
        for state in states:
            change = {"agents": lab.ids, "state": state}
            if state == "NOT_READY":
                change["reasonCodeId"] = "1"  # Break, in every roster
            status, body = await lab.finesse.control("POST", "/agents/state", change)
            assert status == 200 and all(r["status"] == 202 for r in body["results"]), body
        # The fault lasts longer than the leases (not a wait for an outcome: the length of
        # the outage is what is tested), so that they lapse in Redis meanwhile.
        await asyncio.sleep(max(0.0, LEASE * 1.5 - (time.monotonic() - stopped)))
        persistent_redis.start()
        outage = time.monotonic() - stopped
        for app in lab.apps:
            # Every change reaches every app, in order, whichever process its stream is on.
            def seen(app: AppClient = app) -> list[str]:
                return [
                    e["data"]["state"]
                    for e in app.history
                    if e["type"] == "agent.state" and e["seq"] > before[app.agent_id]
                ]

            assert await app.wait_until(lambda seen=seen: seen()[-4:] == states, TIMEOUT), (
                app.agent_id,
                seen(),
            )
            in_order(app)
        assert await lab.holders() == holders  # nobody's notification session moved
        lab.no_forced_logout()
        print(f"Redis away for {outage:.2f} s under load: nothing lost")


@contextlib.asynccontextmanager
async def subscribed(
    redis_lab: RedisServer, state_dir: Path
) -> AsyncIterator[tuple[Cluster, AppClient]]:
    """A cluster that may push to the simulated push service, and the app of an agent the
    second process holds, READY, its requests and event stream going to the first process
    (not through the balancer), subscribed to push through it (a push does not wake it)."""
    async with (
        SimPushService() as push,
        cluster(redis_lab, push=push, state_dir=state_dir) as lab,
    ):
        front, holder = lab.processes
        holders = await lab.holders()
        app = lab.app(next(a for a in lab.ids if holders[a] == holder.port))
        await app.stop_listening()
        app.base_url = service_root(front.api)
        await app.listen(since=app.last_seq)
        await app.ready()
        await app.wait_for_state("READY", TIMEOUT)
        await app.subscribe_push(push)
        app.wake_on_push = False
        yield lab, app


@pytest.mark.timeout(180)
async def test_the_holder_pushes_from_what_the_app_told_another_process(redis_lab, tmp_path):
    async with subscribed(redis_lab, tmp_path) as (lab, app):
        front, holder = lab.processes

        # On screen, its WebSocket open on the front process: the holder does not push.
        seen = await lab.customer_calls()
        await app.wait_for("dialog.created", lambda d: d["id"] == seen, TIMEOUT)
        assert (await lab.finesse.control("POST", f"/calls/{seen}/hangup"))[0] == 200
        await app.wait_for("dialog.ended", lambda d: d["id"] == seen, TIMEOUT)
        await app.wait_for_state("READY", TIMEOUT)

        # Backgrounded through the front process (its WebSocket closed): the holder pushes.
        await app.background()
        unseen = await lab.customer_calls()
        pushed = await app.wait_for_push("dialog.created", timeout=TIMEOUT)
        assert pushed.payload["data"]["id"] == unseen
        # The first call was not pushed (its push would have been decided long before).
        calls = [p.payload["data"]["id"] for p in app.pushes.history]
        assert calls == [unseen], calls
        assert await lab.metric(holder, "connector_push_sent_total") == 1
        assert await lab.metric(front, "connector_push_sent_total") == 0

        # Unsubscribed through the holder: gone for the front process too.
        subscription = app.push_id
        app.base_url = service_root(holder.api)
        await app.unsubscribe_push()
        app.base_url = service_root(front.api)
        with pytest.raises(AppError) as gone:
            await app.request("DELETE", f"/push-subscriptions/{subscription}")
        assert gone.value.status == 404
        assert await lab.metric(front, "connector_push_subscriptions") == 0


@pytest.mark.timeout(180)
async def test_the_websockets_of_a_killed_process_stop_counting(redis_lab, tmp_path):
    async with subscribed(redis_lab, tmp_path) as (lab, app):
        front = lab.processes[0]  # the app on screen, its WebSocket there
        counts = await lab.redis.hgetall(f"mobagent:watching:{app.agent_id}")
        assert list(counts.values()) == ["1"], counts
        (gone,) = counts  # the front process's key in the counts

        front.kill()  # its WebSocket dies with it; the app cannot reconnect there

        async def expired() -> bool:
            return not await lab.redis.exists(f"mobagent:process:{gone}")

        await eventually(expired)
        call = await lab.customer_calls()
        pushed = await app.wait_for_push("dialog.created", timeout=TIMEOUT)
        assert pushed.payload["data"]["id"] == call
        assert not app.stream_open
