"""Benchmark of the Generic Connector's memory per connected agent.

    python -m scenarios.bench.connector_memory [--agents 1000] [--json]
                                               [--mode state-only|mobile] [--tls]
                                               [--direct-tls] [--profile]

Target (from the connector issue): connector memory per connected agent <= 128 KiB,
measured at 1,000 agents. It is what sharing one `ssl.SSLContext` across every agent's
notification session buys (about 900 KiB per agent with a context each: docs/benchmarks.md), so the
case that matters is XMPP over TLS: `--tls` measures STARTTLS too, after plaintext XMPP (the
default transport), and `--direct-tls` direct TLS (Finesse's port 5223) after those, each
reported.

How it measures, per transport, with fresh processes each time:

1. A temporary roster with N agents (1001..1000+N, password "password", extensions 5001..,
   dial numbers +15551230001.., one team, queue "Sales" on DN 8000 holding every agent).
2. `mobagent sim --config ROSTER` (with `--tls` for STARTTLS) pinned to CPU 0, and
   `mobagent connector` pinned to CPU 1 (with `--xmpp-tls starttls --ca-file <the sim's CA>`
   for TLS, so certificates are really verified through the shared context). This process,
   the mobile apps, runs unpinned.
3. The connector's resident set (VmRSS, /proc/<pid>/status) once it listens and has
   settled: sampled every 0.5 s until two samples differ by < 1 % (at most 5 s).
4. N app logins through the mobile API (POST /api/v1/sessions, ~50 at a time, aiohttp with
   TCPConnector(limit=0)); each app then opens its event WebSocket (GET /api/v1/events with
   `Authorization: Bearer TOKEN`), reads the first message and keeps reading, so every agent
   has a live Finesse XMPP session and a WebSocket. `login_seconds` is the time until all N
   are in. The first agent logs in alone, and the RSS after it (not counted in
   login_seconds) gives the marginal figure, without one-time costs such as lazily imported
   slixmpp plugins.
5. The connector's /healthz and /metrics must show N sessions and N WebSockets; then VmRSS
   again once settled. rss_per_agent_kib = (after - before) / N.
6. Apps close, SIGINT to the connector, then the simulator (killed if they do not stop);
   the roster is removed.

`--profile` runs the connector under tracemalloc (scenarios.bench.traced_connector) and
reports where the Python heap grew between start-up and all agents in. Its RSS figures
include tracemalloc's own overhead: read them as a profile, not as the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp

from mobile_sim.api import AppError, Mobile, send, service_root
from mobile_sim.app import AppClient
from scenarios.bench.procs import (
    ROOT,
    BenchError,
    connector_command,
    log,
    machine,
    pinning,
    proc_rss_kib,
    report,
    running,
)
from scenarios.bench.procs import (
    table as aligned,
)
from scenarios.bench.roster import (
    MAX_AGENTS,
    PASSWORD,
    ROSTER_NAME,
    agent_id,
    dial_number,
    extension,
    roster_toml,
)
from scenarios.bench.traced_connector import SNAPSHOT_DIR_ENV, SNAPSHOT_NAME

HOST = "127.0.0.1"
TARGET_KIB_PER_AGENT = 128
TARGET_AT_AGENTS = 1000
CONCURRENCY = 50
SETTLE_INTERVAL = 0.5
SETTLE_TOLERANCE = 0.01
SETTLE_MAX = 5.0
LOGIN_TIMEOUT = 60.0  # one app's login and first WebSocket message
MODES = ("state-only", "mobile")
STOP_TIMEOUT = 60.0  # SIGINT to exit: the connector closes every session first


@dataclasses.dataclass(frozen=True)
class Settings:
    agents: int = 1000
    mode: str = "state-only"
    transports: tuple[str, ...] = ("plain",)
    concurrency: int = CONCURRENCY
    profile: bool = False


# -- measuring --------------------------------------------------------------------------------


async def settled_rss(pid: int) -> tuple[int, bool]:
    """VmRSS (KiB) once two samples SETTLE_INTERVAL apart differ by < SETTLE_TOLERANCE, or
    the last sample after SETTLE_MAX seconds; and whether it settled."""
    previous = proc_rss_kib(pid)
    deadline = time.monotonic() + SETTLE_MAX
    while True:
        await asyncio.sleep(SETTLE_INTERVAL)
        current = proc_rss_kib(pid)
        if abs(current - previous) < SETTLE_TOLERANCE * max(previous, 1):
            return current, True
        if time.monotonic() >= deadline:
            return current, False
        previous = current


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


# -- the apps ---------------------------------------------------------------------------------


class Apps:
    """The N phone apps (`mobile_sim.app.AppClient`), each signed in and reading its event
    stream for as long as the measurement lasts (and so answering the connector's pings)."""

    def __init__(self, http: aiohttp.ClientSession, api: str, settings: Settings) -> None:
        self.http = http
        self.api = api  # http://127.0.0.1:PORT/api/v1
        self.settings = settings
        self.clients: list[AppClient] = []
        self.signed_in = 0  # logged in, and the first event message arrived
        self.failures: list[str] = []

    async def login(self, i: int) -> None:
        try:
            async with asyncio.timeout(LOGIN_TIMEOUT):
                await self._login(i)
        except (aiohttp.ClientError, TimeoutError, AppError, BenchError, ValueError) as exc:
            self.failures.append(f"agent {agent_id(i)}: {type(exc).__name__}: {exc}"[:300])

    async def _login(self, i: int) -> None:
        # Only the first event is read back: small inboxes keep this process lean.
        app = AppClient(self.api, http=self.http, history=1, pending=1)
        self.clients.append(app)
        mobile = Mobile("CALL_BY_CALL", dial_number(i)) if self.settings.mode == "mobile" else None
        await app.login(agent_id(i), PASSWORD, extension(i), mobile)
        first = await app.next_event(LOGIN_TIMEOUT)
        if first is None:
            raise BenchError("no first event message")
        if "seq" not in first or "type" not in first:
            raise BenchError(f"unexpected first event message: {str(first)[:200]}")
        self.signed_in += 1

    def closed_early(self) -> int:
        """Apps whose stream closed (and resumed, or is resuming) before the end."""
        return sum(1 for app in self.clients if app.resumes or (app.token and not app.stream_open))

    async def close(self) -> None:
        await asyncio.gather(*(app.close() for app in self.clients), return_exceptions=True)


async def connector_counts(http: aiohttp.ClientSession, api: str) -> dict[str, int]:
    """Sessions (/healthz) and open WebSockets (/metrics) as the connector counts them."""
    root = service_root(api)
    sessions = int((await send(http, "GET", f"{root}/healthz")).accepted_body()["sessions"])
    text = (await send(http, "GET", f"{root}/metrics")).accepted_body()
    gauges = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("connector_websockets", "connector_reconnects_total"):
            gauges[name] = int(float(value))
    return {
        "sessions": sessions,
        "websockets": gauges.get("connector_websockets", -1),
        "xmpp_connects": gauges.get("connector_reconnects_total", -1),
    }


async def measure(
    connector_pid: int, sim_pid: int, api: str, s: Settings, snapshots: Path | None = None
) -> dict[str, Any]:
    """RSS after start-up, N apps in, RSS again; with `snapshots`, a tracemalloc snapshot
    of the (traced) connector at each of the two points too."""
    if snapshots is not None:
        await snapshot(connector_pid, snapshots, 1)
    before, before_settled = await settled_rss(connector_pid)
    log(f"  connector RSS after start-up: {mib(before)} MiB")
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        apps = Apps(http, api, s)
        try:
            # The first agent alone: one-time costs (lazy imports, first connections) land
            # here, so the RSS after it gives the marginal cost of the others.
            t0 = time.perf_counter()
            await apps.login(1)
            first_seconds = time.perf_counter() - t0
            after_first, _ = await settled_rss(connector_pid)
            gate = asyncio.Semaphore(s.concurrency)

            async def one(i: int) -> None:
                async with gate:
                    await apps.login(i)

            t1 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(2, s.agents + 1)))
            login_seconds = first_seconds + time.perf_counter() - t1
            log(f"  {len(apps.clients)} apps in after {login_seconds:.1f}s")
            counts = await connector_counts(http, api)
            after, after_settled = await settled_rss(connector_pid)
            sim_rss = proc_rss_kib(sim_pid)
            counts_end = await connector_counts(http, api)
            if snapshots is not None:
                await snapshot(connector_pid, snapshots, 2)
            early = apps.closed_early()
        finally:
            await apps.close()
    failures = list(apps.failures)  # one per failed login
    failed = len(failures) + early
    if early:
        failures.append(f"{early} WebSockets closed before the measurement ended")
    for key in ("sessions", "websockets"):
        for when, c in (("after the logins", counts), ("after the measurement", counts_end)):
            if c[key] != s.agents:
                failed += 1
                failures.append(f"the connector counts {c[key]} {key} {when}, not {s.agents}")
    reconnects = counts_end["xmpp_connects"] - s.agents  # the counter includes first connects
    if reconnects > 0:
        failed += 1
        failures.append(f"{reconnects} XMPP sessions were re-established during the benchmark")
    logins = apps.signed_in
    per_agent = (after - before) / s.agents
    marginal = (after - after_first) / (s.agents - 1) if s.agents > 1 else None
    return {
        "agents": s.agents,
        "logins": logins,
        "failures": failed,
        "failure_samples": failures[:5],
        "connector_rss_mib": {
            "before": mib(before),
            "after_first_agent": mib(after_first),
            "after": mib(after),
        },
        "rss_settled": before_settled and after_settled,
        "rss_per_agent_kib": round(per_agent, 1),
        "rss_per_agent_kib_marginal": round(marginal, 1) if marginal is not None else None,
        "login_seconds": round(login_seconds, 2),
        "logins_per_second": round(logins / login_seconds, 1) if login_seconds > 0 else None,
        "connector_counts": counts_end,
        "sim_rss_mib": mib(sim_rss),
        # Under tracemalloc the RSS is not the connector's own: no verdict then.
        "meets_target": None if snapshots is not None else per_agent <= TARGET_KIB_PER_AGENT,
    }


# -- profiling (--profile) --------------------------------------------------------------------


async def snapshot(pid: int, directory: Path, number: int, timeout: float = 300.0) -> Path:
    """Ask the traced connector for its snapshot `number` (SIGUSR1) and wait for the file
    (scenarios.bench.traced_connector numbers them 1, 2, ...)."""
    path = directory / SNAPSHOT_NAME.format(number)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise BenchError(f"no tracemalloc snapshot from the connector within {timeout:g}s")
        await asyncio.sleep(0.2)
    return path


_STDLIB = sysconfig.get_paths()["stdlib"] + "/"


def _where(filename: str) -> tuple[str, str]:
    """(a short file name, the package it belongs to) for a traced frame."""
    if "site-packages/" in filename:
        short = filename.split("site-packages/", 1)[1]
        return short, short.split("/", 1)[0]
    if filename.startswith(_STDLIB):
        short = filename.removeprefix(_STDLIB)
        return f"stdlib/{short}", f"stdlib {short.split('/', 1)[0].removesuffix('.py')}"
    if filename.startswith(str(ROOT) + "/"):
        short = filename.removeprefix(str(ROOT) + "/")
        return short, "project " + short.split("/", 1)[0]
    return filename, filename


def profile_report(before: Path, after: Path, agents: int, top: int = 25) -> dict[str, Any]:
    """Where the traced (Python) heap grew between the two snapshots, per agent: by
    package, by file and by line (the line that allocated)."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    old = tracemalloc.Snapshot.load(str(before)).filter_traces(ignore)
    new = tracemalloc.Snapshot.load(str(after)).filter_traces(ignore)

    def per_agent(size: int) -> float:
        return round(size / 1024 / agents, 2)

    def rows(key: str) -> list[dict[str, Any]]:
        out = []
        for st in new.compare_to(old, key)[:top]:
            frame = st.traceback[0]
            where = _where(frame.filename)[0] + (f":{frame.lineno}" if key == "lineno" else "")
            out.append(
                {
                    "where": where,
                    "kib_per_agent": per_agent(st.size_diff),
                    "blocks_per_agent": round(st.count_diff / agents, 1),
                }
            )
        return out

    packages: dict[str, int] = {}
    for st in new.compare_to(old, "filename"):
        package = _where(st.traceback[0].filename)[1]
        packages[package] = packages.get(package, 0) + st.size_diff
    ranked = sorted(packages.items(), key=lambda kv: -kv[1])
    return {
        "traced_kib_per_agent": round(sum(packages.values()) / 1024 / agents, 1),
        "by_package_kib_per_agent": {k: per_agent(v) for k, v in ranked[:15]},
        "by_file": rows("filename"),
        "by_line": rows("lineno"),
    }


# -- driver -----------------------------------------------------------------------------------


def run_transport(tmp: Path, transport: str, s: Settings, cores: Any) -> dict[str, Any]:
    """One transport with fresh processes; `tmp` holds the roster (and the snapshots)."""
    tls = transport in ("starttls", "direct")
    roster = tmp / ROSTER_NAME
    sim_cmd = [sys.executable, "-m", "mobagent", "sim", "--host", HOST]
    sim_cmd += ["--rest-port", "0", "--xmpp-port", "0", "--json", "--config", str(roster)]
    if tls:
        sim_cmd.append("--tls")
    if transport == "direct":
        sim_cmd += ["--xmpp-tls-port", "0"]  # its port reaches the connector in SystemInfo
    sim_cpus = {cores[0]} if cores else None
    conn_cpus = {cores[1]} if cores else None
    snapshots = None
    with running(sim_cmd, name="simulator", cpus=sim_cpus, start_timeout=60) as (sim, sim_info):
        finesse = sim_info["sides"]["A"]["rest"].removesuffix("/finesse/api")
        env = None
        module = ["-m", "mobagent", "connector"]
        if s.profile:
            snapshots = tmp / transport
            snapshots.mkdir()
            env = {**os.environ, SNAPSHOT_DIR_ENV: str(snapshots)}
            module = ["-m", "scenarios.bench.traced_connector"]
        conn_cmd = connector_command(finesse, head=[sys.executable, *module], host=HOST)
        if tls:
            if not sim_info.get("caFile"):
                raise BenchError("the simulator started with --tls printed no caFile")
            conn_cmd += ["--xmpp-tls", transport, "--ca-file", sim_info["caFile"]]
        with running(
            conn_cmd, name="connector", cpus=conn_cpus, env=env, stop_timeout=STOP_TIMEOUT
        ) as (conn, conn_info):
            result = asyncio.run(measure(conn.pid, sim.pid, conn_info["api"], s, snapshots))
            # Stopped here rather than by running(), to time it: every session closes.
            t0 = time.perf_counter()
            conn.send_signal(signal.SIGINT)
            try:
                status: int | None = conn.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                conn.kill()
                conn.wait()
                status = None
            result["connector_stop_seconds"] = round(time.perf_counter() - t0, 2)
            result["connector_exit_status"] = status  # None: killed after STOP_TIMEOUT
            if snapshots is not None:
                result["profile"] = profile_report(
                    snapshots / SNAPSHOT_NAME.format(1),
                    snapshots / SNAPSHOT_NAME.format(2),
                    s.agents,
                )
    return {"transport": transport, "mode": s.mode, **result}


METHOD = (
    "Per transport, fresh processes: `mobagent sim --config <temp roster of {n} agents>"
    "{simtls}` pinned to CPU {sim}; `mobagent connector --finesse <sim> --listen "
    "127.0.0.1:0{conntls}` pinned to CPU {conn}; the apps (this process) unpinned. Connector "
    "RSS = VmRSS from /proc/<pid>/status, sampled every {iv:g}s until two samples differ by "
    "< {tol:.0%} (at most {mx:g}s): once after start-up, once after all {n} agents logged in "
    "({mode}) through POST /api/v1/sessions ({conc} at a time) and each holds its event "
    "WebSocket open (first message read, then kept reading). rss_per_agent_kib = (after - "
    "before) / {n}; the marginal figure starts from after the first agent. /healthz and "
    "/metrics must count {n} sessions and {n} WebSockets."
)


def run(s: Settings) -> dict[str, Any]:
    _allowed, cores = pinning()
    if not cores:
        log("fewer than 2 usable CPUs: no pinning, the simulator and the connector share one")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="connector-memory-") as tmp:
        (Path(tmp) / ROSTER_NAME).write_text(roster_toml(s.agents))
        for transport in s.transports:
            log(f"{transport}: {s.agents} agents ({s.mode}) ...")
            runs[transport] = r = run_transport(Path(tmp), transport, s, cores)
            log(
                f"  {r['rss_per_agent_kib']} KiB per agent "
                f"({r['connector_rss_mib']['before']} -> {r['connector_rss_mib']['after']} MiB)"
                f", {r['failures']} failures"
            )
    return {
        "agents": s.agents,
        "mode": s.mode,
        "runs": runs,
        "target": {
            "kib_per_agent": TARGET_KIB_PER_AGENT,
            "at_agents": TARGET_AT_AGENTS,
            "text": "connector memory per connected agent <= 128 KiB at 1,000 agents",
        },
        "profiled": s.profile,
        "machine": machine(cores),
        "method": METHOD.format(
            n=s.agents,
            sim=cores[0] if cores else "(unpinned)",
            conn=cores[1] if cores else "(unpinned)",
            simtls=" [--tls [--xmpp-tls-port 0]]" if len(s.transports) > 1 else "",
            conntls=" [--xmpp-tls starttls|direct --ca-file <sim CA>]"
            if len(s.transports) > 1
            else "",
            iv=SETTLE_INTERVAL,
            tol=SETTLE_TOLERANCE,
            mx=SETTLE_MAX,
            mode=s.mode,
            conc=s.concurrency,
        ),
    }


# -- output -----------------------------------------------------------------------------------

COLUMNS = ("XMPP", "agents", "logins", "failures", "RSS before", "RSS after", "KiB/agent")
COLUMNS += ("marginal", "login s", "target")


def table(r: dict[str, Any]) -> str:
    rows = [COLUMNS]
    for name, run_ in r["runs"].items():
        rss = run_["connector_rss_mib"]
        marginal = run_["rss_per_agent_kib_marginal"]
        rows.append(
            (
                name,
                f"{run_['agents']:,}",
                f"{run_['logins']:,}",
                str(run_["failures"]),
                f"{rss['before']} MiB",
                f"{rss['after']} MiB",
                f"{run_['rss_per_agent_kib']}",
                "-" if marginal is None else f"{marginal}",
                f"{run_['login_seconds']}",
                {True: "meets", False: "ABOVE", None: "n/a"}[run_["meets_target"]],
            )
        )
    lines = aligned(rows)
    m = r["machine"]
    pinned = (
        f"simulator on CPU {m['sim_cpu']}, connector on CPU {m['connector_cpu']}"
        if m["sim_cpu"] is not None
        else "not pinned"
    )
    lines += [
        "",
        f"Target: <= {TARGET_KIB_PER_AGENT} KiB of connector RSS per connected agent at "
        f"{TARGET_AT_AGENTS:,} agents (mode {r['mode']}: every agent has an XMPP session "
        "and an event WebSocket).",
        "KiB/agent = (RSS after - RSS before) / agents; marginal = the same from the RSS "
        "after the first agent (without one-time costs).",
    ]
    for name, run_ in r["runs"].items():
        c = run_["connector_counts"]
        lines.append(
            f"{name}: connector counted {c['sessions']:,} sessions, {c['websockets']:,} "
            f"WebSockets; simulator RSS {run_['sim_rss_mib']} MiB; connector stopped in "
            f"{run_['connector_stop_seconds']}s"
            + ("" if run_["rss_settled"] else "; RSS did not settle within 5 s")
        )
        for failure in run_["failure_samples"]:
            lines.append(f"  failure: {failure}")
    if r["profiled"]:
        lines.append("")
        lines.append("tracemalloc (RSS above includes its overhead):")
        for name, run_ in r["runs"].items():
            p = run_["profile"]
            lines.append(f"{name}: Python heap +{p['traced_kib_per_agent']} KiB per agent")
            for pkg, kib in p["by_package_kib_per_agent"].items():
                lines.append(f"  {kib:8.2f} KiB  {pkg}")
            lines.append("  top lines:")
            for row in p["by_line"][:15]:
                lines.append(
                    f"  {row['kib_per_agent']:8.2f} KiB {row['blocks_per_agent']:7.1f} blocks"
                    f"  {row['where']}"
                )
    lines.append(f"Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, {pinned}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m scenarios.bench.connector_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--agents", type=int, default=1000, help="agents to log in (default 1000)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mode", choices=MODES, default="state-only", help="app login kind")
    p.add_argument(
        "--tls", action="store_true", help="also measure XMPP over STARTTLS (after plaintext)"
    )
    p.add_argument(
        "--direct-tls",
        action="store_true",
        help="also measure XMPP over direct TLS (Finesse's port 5223), after the others",
    )
    p.add_argument("--profile", action="store_true", help="run the connector under tracemalloc")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not 1 <= args.agents <= MAX_AGENTS:
        p.error(f"--agents must be between 1 and {MAX_AGENTS}")
    if args.concurrency < 1:
        p.error("--concurrency must be >= 1")
    settings = Settings(
        agents=args.agents,
        mode=args.mode,
        transports=("plain", *(("starttls",) if args.tls else ()))
        + (("direct",) if args.direct_tls else ()),
        concurrency=args.concurrency,
        profile=args.profile,
    )
    return report(
        "connector_memory",
        lambda: run(settings),
        lambda result: json.dumps(result) if args.json else table(result),
        lambda result: any(r["failures"] for r in result["runs"].values()),
    )


if __name__ == "__main__":
    raise SystemExit(main())
