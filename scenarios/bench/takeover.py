"""Take-over time: N agents signed in through one of two connector processes on one Redis;
that process is killed (-9); how long until the other holds every agent's notification
session again, whether Finesse logged anyone out (checked after its 60 s window), and
the memory each process holds per agent.

    python -m scenarios.bench.takeover --agents 2000 [--lease 6] [--json]

The simulator, Redis and both connectors run on this machine (the simulator pinned to the
first CPU, the connectors to the second).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from connector.store.sealing import generate_key
from scenarios.bench import roster
from scenarios.bench.procs import log, pinning, proc_cpu_seconds, proc_rss_kib, running
from scenarios.stack.connector_process import ConnectorProcess
from scenarios.stack.redis_lab import RedisServer

FORCED_LOGOUT_WINDOW = 60.0  # s: Finesse's, from the loss of presence


async def sign_in_all(http: aiohttp.ClientSession, api: str, n: int, at_once: int = 32) -> None:
    gate = asyncio.Semaphore(at_once)

    async def one(i: int) -> None:
        body = {
            "agentId": roster.agent_id(i),
            "password": roster.PASSWORD,
            "extension": roster.extension(i),
            "mobile": {"mode": "CALL_BY_CALL", "dialNumber": roster.dial_number(i)},
        }
        async with gate, http.post(f"{api}/sessions", json=body) as r:
            if r.status != 201:
                raise RuntimeError(f"sign-in of {body['agentId']}: {r.status} {await r.text()}")

    await asyncio.gather(*(one(i) for i in range(1, n + 1)))


async def health(http: aiohttp.ClientSession, root: str) -> dict[str, Any]:
    """A connector process's /healthz (`root`: its `http://host:port`)."""
    async with http.get(f"{root}/healthz") as r:
        return await r.json()


@dataclass(frozen=True)
class TakenOver:
    first_claim_s: float | None  # from the kill until a survivor held a first session more
    takeover_s: float  # ... until every session was held with its notifications up (or gave up)
    up: int  # notification sessions up on the survivors at the end


async def await_takeover(
    http: aiohttp.ClientSession,
    survivors: list[str],
    total: int,
    killed: float,
    window: float = FORCED_LOGOUT_WINDOW,
) -> TakenOver:
    """Poll the surviving processes (`root` URLs) from the kill (time.monotonic()) until
    they hold all `total` sessions with their notifications up, or Finesse's `window` is
    over. The first claim: the first session more than they held when this began."""
    before = sum([(await health(http, root))["sessions"] for root in survivors])
    first = None
    while True:  # other processes: polled
        states = [await health(http, root) for root in survivors]
        if first is None and sum(s["sessions"] for s in states) > before:
            first = time.monotonic() - killed
        up = sum(s["notificationsUp"] for s in states)
        if up >= total or time.monotonic() - killed > window:
            return TakenOver(first, time.monotonic() - killed, up)
        await asyncio.sleep(0.1)


async def logged_out(http: aiohttp.ClientSession, finesse: str, n: int) -> list[str]:
    """The agents Finesse shows logged out (its REST API, as each agent)."""
    out = []
    for i in range(1, n + 1):
        agent = roster.agent_id(i)
        auth = base64.b64encode(f"{agent}:{roster.PASSWORD}".encode()).decode()
        url = f"{finesse}/finesse/api/User/{agent}"
        async with http.get(url, headers={"Authorization": f"Basic {auth}"}) as r:
            if "<state>LOGOUT</state>" in await r.text():
                out.append(agent)
    return out


async def forced_logouts(
    http: aiohttp.ClientSession,
    finesse: str,
    n: int,
    killed: float,
    window: float = FORCED_LOGOUT_WINDOW,
) -> list[str]:
    """Finesse's verdict: once its `window` since the kill is over, who is logged out."""
    await asyncio.sleep(max(0.0, window + 5 - (time.monotonic() - killed)))
    return await logged_out(http, finesse, n)


async def measure(
    finesse: str, sim_pid: int, redis: RedisServer, n: int, lease: float, profile: str = ""
) -> dict[str, Any]:
    env = {
        "MOBAGENT_CONNECTOR_STATE_KEY": generate_key(),
        "MOBAGENT_CONNECTOR_LEASE_TTL": str(lease),
        "MOBAGENT_CONNECTOR_RECONCILE_INTERVAL": "0",
        "MOBAGENT_CONNECTOR_MAX_SESSIONS": str(max(n, 5000)),
    }
    victim = ConnectorProcess(finesse, args=["--state", redis.url], env=env)
    head = (
        [sys.executable, "-m", "scenarios.bench.connector.profiled", profile] if profile else None
    )
    survivor = ConnectorProcess(finesse, args=["--state", redis.url], env=env, head=head)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        for process in (victim, survivor):
            await asyncio.to_thread(process.start)
        started = time.monotonic()
        await sign_in_all(http, victim.api, n)
        signed_in = time.monotonic() - started
        log(f"{n} agents signed in through one process in {signed_in:.1f} s")
        idle_rss = proc_rss_kib(survivor.pid)
        victim_rss = proc_rss_kib(victim.pid)
        cpu = {"survivor": proc_cpu_seconds(survivor.pid), "simulator": proc_cpu_seconds(sim_pid)}
        victim.kill()
        killed = time.monotonic()
        taken = await await_takeover(http, [survivor.root], n, killed)
        log(
            f"taken over: {taken.up}/{n} in {taken.takeover_s:.1f} s "
            f"(first claimed after {taken.first_claim_s or 0:.1f} s)"
        )
        survivor_rss = proc_rss_kib(survivor.pid)
        cpu = {
            "survivor": proc_cpu_seconds(survivor.pid) - cpu["survivor"],
            "simulator": proc_cpu_seconds(sim_pid) - cpu["simulator"],
        }
        out = await forced_logouts(http, finesse, n, killed)
        return {
            "agents": n,
            "lease_s": lease,
            "sign_in_s": round(signed_in, 1),
            "first_claim_s": round(taken.first_claim_s or 0, 2),
            "takeover_s": round(taken.takeover_s, 2),
            "taken_over": taken.up,
            "forced_logouts": len(out),
            # CPU seconds spent from the kill to the end of the take-over: where it went.
            "cpu_s_survivor": round(cpu["survivor"], 1),
            "cpu_s_simulator": round(cpu["simulator"], 1),
            "kib_per_agent_holder": round((victim_rss - idle_rss) / n, 1),
            "kib_per_agent_after_takeover": round((survivor_rss - idle_rss) / n, 1),
        }
    finally:
        await http.close()
        victim.close()
        survivor.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scenarios.bench.takeover", description=__doc__)
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--lease", type=float, default=6.0, help="lease_ttl of the connectors (s)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--cprofile", default="", help="profile the process that takes over, to FILE")
    args = p.parse_args(argv)
    _allowed, cores = pinning()
    with tempfile.TemporaryDirectory(prefix="takeover-bench-") as tmp:
        path = Path(tmp) / roster.ROSTER_NAME
        path.write_text(roster.roster_toml(args.agents))
        sim_cmd = [sys.executable, "-m", "mobagent", "sim", "--host", "127.0.0.1"]
        sim_cmd += ["--rest-port", "0", "--xmpp-port", "0", "--json", "--config", str(path)]
        redis = RedisServer().start()
        try:
            with running(
                sim_cmd, name="simulator", cpus={cores[0]} if cores else None, start_timeout=60
            ) as (sim, info):
                finesse = info["sides"]["A"]["rest"].removesuffix("/finesse/api")
                result = asyncio.run(
                    measure(finesse, sim.pid, redis, args.agents, args.lease, args.cprofile)
                )
        finally:
            redis.stop()
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    ok = result["taken_over"] == args.agents and result["forced_logouts"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
