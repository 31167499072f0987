"""`mobagent bench --connectors N --state redis`: the connector as N processes sharing their
state in Redis, beside the single in-memory process in the same run.

1. The baseline: the plain `mobagent bench` run (`run.run`): one in-memory connector.
2. The cluster: a fresh simulator, a `redis-server` on a free loopback port, N connector
   processes (`--state redis://...`, a state key made for the run) behind one address (the
   TCP balancer of the cluster tests, `scenarios.stack.balancer`, in this process): the
   apps' sign-ins, commands and WebSockets are spread over the processes with no
   stickiness, so about half the WebSockets read a stream another process writes. The same
   events phase (warm-up, steady rate) as the baseline.
3. The first process is killed (-9) and the others take its agents over: how long until all
   the notification sessions are up again, and Finesse's verdict past its 60 s window
   (`scenarios.bench.takeover`); the memory each process holds per agent.

The connectors are not pinned here (N processes are meant to use N cores; the simulator
keeps its own); the baseline's connector is pinned as in the plain run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import tempfile
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from connector.store.sealing import generate_key
from scenarios.bench.connector.run import finesse_of, measure, result_of, run, simulator
from scenarios.bench.connector.settings import HOST, STOP_TIMEOUT, Settings
from scenarios.bench.connector.verdict import CLUSTER_RUN, CLUSTER_TARGETS, cluster_verdicts
from scenarios.bench.procs import connector_command, log, pinning, proc_rss_kib, running
from scenarios.bench.takeover import await_takeover, forced_logouts, health
from scenarios.stack.balancer import Balancer
from scenarios.stack.redis_lab import redis_server

Connector = tuple[subprocess.Popen[bytes], str]  # a process and its root URL


def run_cluster(settings: Settings) -> dict[str, Any]:
    log("baseline: the single in-memory connector ...")
    single = run(dataclasses.replace(settings, connectors=1, state="memory"))
    _allowed, cores = pinning()
    with (
        tempfile.TemporaryDirectory(prefix="connector-bench-") as tmp,
        simulator(settings, tmp, {cores[0]} if cores else None) as (sim_proc, sim_info),
        redis_server() as redis,
        contextlib.ExitStack() as stack,
    ):
        env = {
            **os.environ,
            "MOBAGENT_CONNECTOR_STATE_KEY": generate_key(),  # this run's, never kept
            "MOBAGENT_CONNECTOR_MAX_SESSIONS": str(max(settings.agents, 5000)),
        }
        command = connector_command(finesse_of(sim_info), host=HOST, state_dir=f"{tmp}/state")
        connectors: list[Connector] = []
        log(f"the cluster: {settings.connectors} connector processes on Redis at {redis.url}")
        for k in range(settings.connectors):  # one by one: the first makes the VAPID keys
            proc, info = stack.enter_context(
                running(
                    [*command, "--state", redis.url],
                    name=f"connector {k + 1}",
                    cpus=None,
                    env=env,
                    stop_timeout=STOP_TIMEOUT,
                )
            )
            connectors.append((proc, info["api"].removesuffix("/api/v1")))
        measured, taken = asyncio.run(
            _measure(connectors, sim_proc.pid, sim_info, finesse_of(sim_info), settings)
        )
    result = result_of(settings, measured, cores)
    result["machine"]["connector_cpu"] = None  # N processes, not pinned (the baseline's was)
    single_p99, p99 = single["e2e_ms"]["p99"], result["e2e_ms"]["p99"]
    result["cluster"] = {
        "connectors": settings.connectors,
        "state": "redis",
        "single": {
            key: single[key]
            for key in (
                "e2e_ms",
                "lost",
                "events_sent",
                "login_seconds",
                "rss_per_agent_kib",
                "connector_cpu_percent",
                "connector_wait_percent",
                "failure_count",
            )
        },
        "p99_vs_single": round(p99 / single_p99, 2) if p99 and single_p99 else None,
        "memory": _memory(measured),
        "takeover": taken,
        "targets": CLUSTER_TARGETS,
        "targets_for": CLUSTER_RUN,
    }
    result["cluster"]["meets"] = cluster_verdicts(result)
    return result


async def _measure(
    connectors: list[Connector],
    sim_pid: int,
    sim_info: dict[str, Any],
    finesse: str,
    settings: Settings,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The events phase through the balancer, then the take-over of a killed process."""
    upstreams = [(HOST, urlsplit(root).port or 80) for _, root in connectors]
    balancer = await Balancer(upstreams).start()
    try:
        pids = [proc.pid for proc, _ in connectors]
        api = balancer.url("/api/v1")
        measured = await measure(pids, sim_pid, sim_info, api, settings)
    finally:
        await balancer.stop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        held = [(await health(http, root))["sessions"] for _, root in connectors]
        measured["held"] = held
        if len(connectors) < 2:
            return measured, None
        return measured, await _kill_one(http, connectors, held, finesse, settings)


async def _kill_one(
    http: aiohttp.ClientSession,
    connectors: list[Connector],
    held: list[int],
    finesse: str,
    settings: Settings,
) -> dict[str, Any]:
    """Kill (-9) the first process; the others take its agents over."""
    agents, window = settings.agents, settings.forced_logout
    (victim, _), survivors = connectors[0], connectors[1:]
    rss_before = [proc_rss_kib(proc.pid) for proc, _ in survivors]
    log(f"killing a connector process holding {held[0]} agents ...")
    victim.kill()
    killed = time.monotonic()
    victim.wait()
    taken = await await_takeover(http, [root for _, root in survivors], agents, killed, window)
    log(
        f"  taken over: {taken.up}/{agents} notification sessions up after "
        f"{taken.takeover_s:.1f} s (first claimed after {taken.first_claim_s or 0:.1f} s); "
        f"waiting for Finesse's verdict ..."
    )
    rss_after = [proc_rss_kib(proc.pid) for proc, _ in survivors]
    out = await forced_logouts(http, finesse, agents, killed, window)
    return {
        "agents": held[0],
        "first_claim_s": round(taken.first_claim_s, 2) if taken.first_claim_s else None,
        "seconds": round(taken.takeover_s, 2),
        "up": taken.up,
        "of": agents,
        "forced_logouts": len(out),
        "verdict_after_s": window + 5,
        "survivors_kib_per_agent_taken": [
            round((after - before) / held[0], 1) if held[0] else None
            for before, after in zip(rss_before, rss_after, strict=True)
        ],
    }


def _memory(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """Each process: the agents it held, its RSS after the sign-ins, and the growth per
    agent held (it also holds the WebSockets of apps whose agent another process holds)."""
    each = measured["rss_kib_each"]
    return [
        {
            "agents": n,
            "rss_mib": round(after / 1024, 1),
            "kib_per_agent": round((after - before) / n, 1) if n else None,
        }
        for n, before, after in zip(
            measured["held"], each["before"], each["after_login"], strict=True
        )
    ]
