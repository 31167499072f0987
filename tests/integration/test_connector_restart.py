"""A connector process killed (-9) in the middle of calls and started again on the same
Redis: Finesse logs nobody out, every app's token still works, and each app's stream
resumes with `since` and gets what happened in the gap as ordinary events.

The simulator runs in this process (its model is inspected directly: a forced logout is a
timer the model arms when an agent's presence goes); the connector is a real process."""

from __future__ import annotations

import asyncio
import time
import tomllib

import aiohttp
import pytest

from finesse_sim.config import config_from_dict
from mobile_sim.api import Mobile
from mobile_sim.app import AppClient
from scenarios.bench import roster
from scenarios.stack.connector_process import ConnectorProcess
from scenarios.stack.finesse_lab import FinesseLab
from scenarios.stack.redis_lab import RedisServer

pytestmark = pytest.mark.integration
AGENTS = 20
KEY = "rfAoCzWyZ4yQ3kqWXNb1nQm8fsr8NdO1F3zCkpFFJ8w"  # a state key for tests only
TIMEOUT = 20.0


def connector(finesse: FinesseLab, redis_lab: RedisServer, port: int = 0) -> ConnectorProcess:
    side = finesse.sim.sides[0]
    return ConnectorProcess(
        f"http://127.0.0.1:{side.rest_port}",
        port=port,
        args=["--state", redis_lab.url],
        env={"MOBAGENT_CONNECTOR_STATE_KEY": KEY, "MOBAGENT_CONNECTOR_RECONCILE_INTERVAL": "0"},
    )


async def customer_calls(finesse: FinesseLab) -> str:
    status, body = await finesse.control("POST", "/calls", {"dn": "8000", "from": "+15550100"})
    assert status == 201, body
    return body["callId"]


async def answered(finesse: FinesseLab, app: AppClient, i: int, call_id: str) -> None:
    await app.wait_for("dialog.created", lambda d: d["id"] == call_id, TIMEOUT)
    status, _ = await finesse.control("POST", f"/phones/{roster.dial_number(i)}/answer")
    assert status == 200
    await app.wait_for_state("TALKING", TIMEOUT)


def present(finesse: FinesseLab) -> set[str]:
    return set(finesse.sim.sides[0].xmpp.available_users())


@pytest.mark.timeout(180)
async def test_a_killed_connector_restarted_within_20_s_loses_no_agent_token_or_event(redis_lab):
    ids = [roster.agent_id(i) for i in range(1, AGENTS + 1)]
    config = config_from_dict(tomllib.loads(roster.roster_toml(AGENTS)))
    async with FinesseLab(config) as finesse:
        model = finesse.sim.model
        first = connector(finesse, redis_lab)
        await asyncio.to_thread(first.start)  # the simulator answers meanwhile
        second = connector(finesse, redis_lab, port=first.port)
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        apps: list[AppClient] = []
        try:
            for i in range(1, AGENTS + 1):
                app = AppClient(first.api, http=http)
                apps.append(app)
                mobile = Mobile("CALL_BY_CALL", roster.dial_number(i))
                await app.login(roster.agent_id(i), roster.PASSWORD, roster.extension(i), mobile)
            # Calls in progress: agents 1-5 each get one (the only agent READY at the time).
            calls = {}
            for i in range(1, 6):
                await apps[i - 1].ready()
                await apps[i - 1].wait_for_state("READY", TIMEOUT)
                calls[i] = await customer_calls(finesse)
                await answered(finesse, apps[i - 1], i, calls[i])
            await apps[5].ready()  # agent 6 is the one READY when the connector dies
            await apps[5].wait_for_state("READY", TIMEOUT)
            before = {app.agent_id: app.last_seq for app in apps}

            first.kill()
            killed = time.monotonic()
            await finesse.sim.wait_until(lambda: not present(finesse) & set(ids), TIMEOUT)
            # Finesse has begun counting down to a forced logout for every agent.
            assert all(model.agents[a].presence_timer is not None for a in ids)
            # The gap: a call routed (and answered) and a call ended while nobody listened.
            routed = await customer_calls(finesse)
            status, _ = await finesse.control("POST", f"/phones/{roster.dial_number(6)}/answer")
            assert status == 200
            status, _ = await finesse.control("POST", f"/calls/{calls[1]}/hangup")
            assert status == 200

            await asyncio.to_thread(second.start)
            await finesse.sim.wait_until(lambda: set(ids) <= present(finesse), TIMEOUT)
            back = time.monotonic() - killed
            # The apps reconnect by themselves (`since` their last seq) and see the gap as
            # ordinary events.
            created = await apps[5].wait_for("dialog.created", lambda d: d["id"] == routed, TIMEOUT)
            assert created["state"] == "ACTIVE"
            # The ended call: Finesse keeps it as DROPPED while the agent wraps up, as the
            # live notifications would have said.
            await apps[0].wait_for(
                "dialog.updated", lambda d: d["id"] == calls[1] and d["state"] == "DROPPED", TIMEOUT
            )
            await apps[0].wait_for_state("WORK_READY", TIMEOUT)
            resumed = time.monotonic() - killed
            assert back < 20.0, f"notification sessions back {back:.1f} s after the kill"

            for app in apps:
                # Every app is back on its stream (each has at least the "notifications
                # connected" status of the gap to receive).
                assert await app.wait_until(lambda app=app: app.resumes >= 1, TIMEOUT)
                after = [e for e in app.history if e["seq"] > before[app.agent_id]]
                assert after, app.agent_id
                assert "session.resync" not in [e["type"] for e in after], app.agent_id
                seqs = [e["seq"] for e in app.history]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), app.agent_id
                # The token from before the crash works on the new process.
                agent = await app.get_agent()
                assert agent["state"] != "LOGOUT"
            # Nobody logged out, no forced logout pending.
            for agent_id in ids:
                agent = model.agents[agent_id]
                assert agent.logged_in and agent.presence_timer is None, agent_id
            for i in range(2, 6):
                assert apps[i - 1].agent_state == "TALKING"
            print(f"restart: sessions back {back:.2f} s, gap events at the apps {resumed:.2f} s")
        finally:
            for app in apps:
                await app.close()
            await http.close()
            first.close()
            second.close()
