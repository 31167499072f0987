"""`mobagent demo`: the whole lab on loopback for a bounded time, watched live.

Starts the simulated Finesse with live traffic, the Generic Connector and a swarm of
simulated mobile agents as separate processes; shows a dashboard (calls offered, answered,
abandoned, in queue; agents by state; event latency through the connector), redrawn every
second on a terminal, one line every 5 s otherwise; stops everything cleanly; prints a
summary and writes a report (JSON and a self-contained HTML page with charts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from finesse_sim.cli import speed as sim_speed
from finesse_sim.traffic import ProfileError, load_profile
from mobagent import args as cli_args
from mobile_sim import personas
from mobile_sim.cli import PLAIN_EVERY, TTY_EVERY
from scenarios.bench.procs import ROOT, BenchError, connector_command, running
from scenarios.demo import report

PY = sys.executable
SAMPLE_EVERY = 1.0  # seconds between two samples of the report (and terminal redraws)


@dataclass
class Sample:
    t: float  # wall seconds since the start
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    in_queue: int = 0
    service_level: float | None = None
    asa: float | None = None
    agents: dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    events_out: int = 0


def histogram_quantile(text: str, name: str, q: float) -> float | None:
    """A quantile from a Prometheus histogram (linear within the bucket)."""
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        m = re.match(rf'{name}_bucket\{{le="([^"]+)"\}} (\S+)', line)
        if m:
            bound = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            buckets.append((bound, float(m.group(2))))
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            width = count - lower_count
            frac = (rank - lower_count) / width if width else 1.0
            return lower_bound + (bound - lower_bound) * frac
        lower_bound, lower_count = bound, count
    return lower_bound


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def traffic_totals(body: dict[str, Any]) -> dict[str, Any]:
    """Sum the simulator's per-queue traffic counters (GET /sim/v1/traffic)."""
    total = body.get("totals") or {}
    if total:
        return total
    out: dict[str, Any] = {"offered": 0, "answered": 0, "abandoned": 0, "inQueue": 0}
    for queue in body.get("queues", []):
        for key in out:
            out[key] += int(queue.get(key, 0) or 0)
    return out


async def sample(
    http: aiohttp.ClientSession, sim: str, api: str, t: float, staff: int | None = None
) -> Sample:
    """One reading of the simulator and the connector. `staff`: the demo's agents, so that
    roster agents it never signs in are not shown as LOGOUT."""
    s = Sample(t=t)
    async with http.get(f"{sim}/sim/v1/traffic") as r:
        if r.status == 200:
            totals = traffic_totals(await r.json())
            s.offered = int(totals.get("offered", 0))
            s.answered = int(totals.get("answered", 0))
            s.abandoned = int(totals.get("abandoned", 0))
            s.service_level = totals.get("serviceLevel")
            s.asa = totals.get("asa")
    async with http.get(f"{sim}/sim/v1/queues") as r:
        for queue in (await r.json())["queues"]:
            s.in_queue += queue["callsInQueue"]
            for state, n in queue["agentsByState"].items():
                s.agents[state] = s.agents.get(state, 0) + n
    outside = sum(s.agents.values()) - staff if staff is not None else 0
    if outside > 0 and s.agents.get("LOGOUT"):
        s.agents["LOGOUT"] -= min(outside, s.agents["LOGOUT"])
    async with http.get(f"{api}/metrics") as r:
        text = await r.text()
    p50 = histogram_quantile(text, "connector_event_latency_seconds", 0.5)
    p99 = histogram_quantile(text, "connector_event_latency_seconds", 0.99)
    s.latency_p50_ms = None if p50 is None else p50 * 1000
    s.latency_p99_ms = None if p99 is None else p99 * 1000
    s.events_out = int(metric(text, "connector_events_out_total"))
    return s


def dashboard(s: Sample, duration: float, tty: bool) -> str:
    order = ("READY", "RESERVED", "TALKING", "HOLD", "WORK_READY", "WORK", "NOT_READY", "LOGOUT")
    agents = "  ".join(f"{k} {s.agents[k]}" for k in order if s.agents.get(k))
    sl = "-" if s.service_level is None else f"{100 * s.service_level:.0f}%"
    asa = "-" if s.asa is None else f"{s.asa:.1f}s"
    p50 = "-" if s.latency_p50_ms is None else f"{s.latency_p50_ms:.1f}"
    p99 = "-" if s.latency_p99_ms is None else f"{s.latency_p99_ms:.1f}"
    lines = [
        f"mobagent demo  {s.t:5.0f}s / {duration:.0f}s",
        f"  calls    offered {s.offered}  answered {s.answered}  abandoned {s.abandoned}  "
        f"in queue {s.in_queue}  service level {sl}  ASA {asa}",
        f"  agents   {agents or '-'}",
        f"  latency  Finesse notification -> app: p50 {p50} ms  p99 {p99} ms  "
        f"({s.events_out} events)",
    ]
    if tty:
        return "\x1b[H\x1b[2J" + "\n".join(lines)
    return " | ".join(line.strip() for line in lines)


async def watch(
    sim: str, api: str, duration: float, done: asyncio.Event, staff: int | None = None
) -> list[Sample]:
    samples: list[Sample] = []
    tty = sys.stdout.isatty()
    every = TTY_EVERY if tty else PLAIN_EVERY  # the same pace as `mobagent agents`
    start = time.monotonic()
    shown = -every
    async with aiohttp.ClientSession() as http:
        while True:
            t = time.monotonic() - start
            try:
                s = await sample(http, sim, api, t, staff)
            except (aiohttp.ClientError, OSError, KeyError, ValueError):
                s = None
            if s is not None:
                samples.append(s)
                if t - shown >= every - SAMPLE_EVERY / 2:
                    print(dashboard(s, duration, tty), flush=True)
                    shown = t
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), SAMPLE_EVERY)  # the next sample
            if done.is_set():
                return samples


async def live_vs_model(sim: str, agents: int) -> dict[str, Any] | None:
    """The live KPIs beside the offline model's prediction for the same profile and staffing
    (scenarios.traffic.report); None if it cannot be made (the demo still reports)."""
    from scenarios.traffic import report as traffic_report

    try:
        result = await traffic_report.collect(sim, agents)
    except Exception as exc:  # the comparison is a bonus; the demo's own report stands
        print(f"mobagent demo: no live-vs-model comparison: {exc}", file=sys.stderr)
        return None
    result["text"] = traffic_report.render(result)
    return result


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--duration", type=cli_args.positive_float, default=60.0, help="wall seconds (default 60)"
    )
    p.add_argument(
        "--agents",
        type=cli_args.positive_int,
        default=8,
        help="simulated mobile agents (default 8)",
    )
    p.add_argument(
        "--profile",
        type=traffic_profile,
        default="busy_monday",
        help="traffic profile: a shipped name (quiet_hour, busy_monday, burst) or a TOML file "
        "(default busy_monday)",
    )
    p.add_argument(
        "--speed", type=sim_speed, default=20.0, help="simulator clock speed (default 20)"
    )
    p.add_argument(
        "--persona",
        type=persona_spec,
        default="mixed",
        help="a persona, a comma list (handed out in turn) or 'mixed' (default mixed)",
    )
    p.add_argument("--seed", type=int, default=1, help="repeatable behaviour (default 1)")
    p.add_argument("--report", default="reports/demo", help="report folder (default reports/demo)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def traffic_profile(text: str) -> str:
    """A profile the simulator will load (checked now, not a minute into the demo)."""
    try:
        load_profile(text)
    except ProfileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def persona_spec(text: str) -> str:
    try:
        personas.resolve(text)
    except (KeyError, ValueError) as exc:
        raise argparse.ArgumentTypeError(exc.args[0] if exc.args else str(exc)) from None
    return text


def main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:  # the report is written at the end: a folder that cannot be made fails now
        Path(args.report).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        p.error(f"argument --report: cannot make the folder: {exc}")
    return asyncio.run(demo(args))


async def demo(args: argparse.Namespace) -> int:
    sim_cmd = [
        PY,
        "-m",
        "mobagent",
        "sim",
        "--rest-port",
        "0",
        "--xmpp-port",
        "0",
        "--json",
        "--speed",
        str(args.speed),
        "--traffic",
        args.profile,
    ]
    try:
        with running(sim_cmd, name="simulator", cpus=None) as (_, sim_info):
            sim = sim_info["control"].removesuffix("/sim/v1")
            finesse = sim_info["sides"]["A"]["rest"].removesuffix("/finesse/api")
            conn_cmd = connector_command(finesse, head=[PY, "-m", "mobagent", "connector"])
            with running(conn_cmd, name="connector", cpus=None) as (_, conn_info):
                api = conn_info["api"].removesuffix("/api/v1")
                return await run_shift(args, sim, api)
    except BenchError as exc:
        print(f"mobagent demo: {exc}", file=sys.stderr)
        return 1


async def run_shift(args: argparse.Namespace, sim: str, api: str) -> int:
    swarm_cmd = [
        PY,
        "-m",
        "mobagent",
        "agents",
        "--connector",
        api,
        "--sim",
        sim,
        "--count",
        str(args.agents),
        "--persona",
        args.persona,
        "--duration",
        str(args.duration),
        "--time-scale",
        str(1 / args.speed),
        "--calls-per-minute",
        "0",
        "--seed",
        str(args.seed),
        "--json",
    ]
    swarm = await asyncio.create_subprocess_exec(
        *swarm_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    done = asyncio.Event()
    watcher = asyncio.ensure_future(watch(sim, api, args.duration, done, args.agents))
    out, _ = await swarm.communicate()
    done.set()
    samples = await watcher
    try:
        agents_summary = json.loads(out.decode() or "{}")
    except ValueError:
        agents_summary = {}
    comparison = await live_vs_model(sim, args.agents)
    summary = report.summarise(
        args,
        samples,
        agents_summary,
        swarm.returncode or 0,
        live=comparison["live"] if comparison else None,
    )
    summary["liveVsModel"] = comparison
    folder = Path(args.report)
    paths = report.write(folder, summary, samples)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(report.text(summary))
        if comparison:
            print(comparison["text"])
        print(f"report: {paths['html']} and {paths['json']}")
    return 0 if swarm.returncode == 0 else 1
