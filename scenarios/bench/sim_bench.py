"""Benchmark of the simulated Finesse: REST GET User and notification fan-out.

    python -m scenarios.bench.sim_bench [--json] [--quick]

Targets (from the issue): notification fan-out >= 5,000 notifications/s per core to
subscribed clients; REST GET User >= 5,000 requests/s per core.

How it measures: the simulator runs as its own process (`mobagent sim`, ports picked by the
OS), pinned to CPU 0; the load generator (this process) is pinned to CPU 1. The simulator's
CPU time is read from /proc/<pid>/stat (utime + stime, all threads) before and after each
timed phase, so every result comes both per wall second and per simulator CPU-second (the
"per core" figure the targets are about). Utilisation of both cores is reported too: when
the load generator's core is the saturated one, the wall-clock rate is the client's limit and
the per-CPU-second figure is the one that describes the simulator.

1. REST: keep-alive aiohttp connections loop on GET /finesse/api/User/{id} with Basic auth
   (agents 1001-1010); every answer must be a 200.
2. Fan-out: raw-socket XMPP clients (SASL PLAIN, bind, session, presence, then count
   ``</message>``; several resources per agent) and, over REST, one driver per agent that
   flips it between READY and NOT_READY; every flip publishes one User notification to each
   session of that agent. No call is ever injected, so nothing gets routed. All expected
   notifications must arrive.
3. Publish path: `finesse_sim.xmpp.bench_fanout` (the notification service alone, in a
   process of its own, one delivery per publish), for the fan-out cost without REST.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, cast

import aiohttp

from scenarios.bench.procs import (
    ROOT,
    BenchError,
    child_setup,
    core_busy,
    cpu_model,
    log,
    pinning,
    proc_cpu_seconds,
    running,
)
from scenarios.bench.procs import (
    table as aligned,
)

HOST = "127.0.0.1"
AGENTS = [str(1000 + i) for i in range(1, 11)]  # the default roster: 1001-1010
PASSWORD = "password"
TARGET_PER_CORE = 5000
SATURATED = 0.85  # a core busier than this is the bottleneck


@dataclasses.dataclass(frozen=True)
class Settings:
    rest_seconds: float
    rest_warmup: float
    rest_connections: int
    fanout_clients: int
    fanout_seconds: float
    publish_clients: int
    publish_notifications: int

    @classmethod
    def full(cls) -> Settings:
        return cls(10.0, 1.0, 32, 500, 10.0, 200, 200_000)

    @classmethod
    def quick(cls) -> Settings:
        return cls(2.0, 0.3, 16, 100, 2.0, 50, 5_000)


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


# -- the simulator process -------------------------------------------------------------------


@dataclasses.dataclass
class SimProcess:
    proc: subprocess.Popen[bytes]
    info: dict[str, Any]
    cores: tuple[int, int] | None  # (the simulator's CPU, the load generator's) when pinned

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def rest_base(self) -> str:
        return self.info["sides"]["A"]["rest"]  # http://127.0.0.1:PORT/finesse/api

    @property
    def xmpp_port(self) -> int:
        return int(self.info["sides"]["A"]["xmpp"].rpartition(":")[2])

    @property
    def xmpp_domain(self) -> str:
        return self.info["sides"]["A"]["xmppDomain"]

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)


@contextlib.contextmanager
def simulator(cores: tuple[int, int] | None) -> Iterator[SimProcess]:
    """`mobagent sim` on free ports, pinned to the first of `cores`; SIGINT at the end,
    killed on failure."""
    cmd = [sys.executable, "-m", "mobagent", "sim", "--host", HOST]
    cmd += ["--rest-port", "0", "--xmpp-port", "0", "--json"]
    with running(cmd, name="simulator", cpus={cores[0]} if cores else None) as (proc, info):
        yield SimProcess(proc, info, cores)


# -- measuring -------------------------------------------------------------------------------


@dataclasses.dataclass
class Meter:
    """Wall time, simulator CPU time and load-generator CPU time over one phase."""

    sim: SimProcess
    wall0: float = 0.0
    sim_cpu0: float = 0.0
    client_cpu0: float = 0.0
    wall: float = 0.0
    sim_cpu: float = 0.0
    client_cpu: float = 0.0
    core_busy0: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    core_busy1: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def start(self) -> None:
        self.core_busy0 = core_busy()
        self.sim_cpu0 = self.sim.cpu_seconds()
        self.client_cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def stop(self) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.sim_cpu = self.sim.cpu_seconds() - self.sim_cpu0
        self.client_cpu = time.process_time() - self.client_cpu0
        self.core_busy1 = core_busy()

    def report(self, count: int) -> dict[str, Any]:
        sim_util = self.sim_cpu / self.wall
        client_util = self.client_cpu / self.wall
        # Whatever else ran on the two CPUs meanwhile (other processes, interrupts).
        others = {}
        if self.sim.cores and self.core_busy0:
            for role, cpu, ours in zip(
                ("sim", "client"), self.sim.cores, (sim_util, client_util), strict=True
            ):
                (b0, t0), (b1, t1) = self.core_busy0[cpu], self.core_busy1[cpu]
                others[role] = max(0.0, (b1 - b0) / max(1, t1 - t0) - ours)
        if sim_util >= SATURATED and client_util >= SATURATED:
            bottleneck = "both cores saturated (the simulator's and the load generator's)"
        elif sim_util >= SATURATED:
            bottleneck = "simulator (its core is saturated)"
        elif client_util >= SATURATED:
            bottleneck = (
                "load generator (its core is saturated, the simulator's is not): the wall "
                "rate is the client's limit; per_sim_cpu_second is the simulator's capacity"
            )
        elif any(v >= 0.1 for v in others.values()):
            bottleneck = (
                "other processes on the benchmark's CPUs (neither process saturated its core):"
                " the wall rate is depressed; per_sim_cpu_second is unaffected"
            )
        else:
            bottleneck = "neither core saturated (latency-bound)"
        return {
            "seconds": round(self.wall, 3),
            "per_wall_second": round(count / self.wall),
            "per_sim_cpu_second": round(count / self.sim_cpu) if self.sim_cpu > 0 else None,
            "sim_cpu_seconds": round(self.sim_cpu, 3),
            "sim_cpu_utilisation": round(sim_util, 3),
            "client_cpu_utilisation": round(client_util, 3),
            "other_load": {k: round(v, 3) for k, v in others.items()},
            "bottleneck": bottleneck,
        }


# -- phase 1: REST GET User ------------------------------------------------------------------


async def _get_users(
    http: aiohttp.ClientSession, base: str, connections: int, seconds: float
) -> tuple[int, dict[int, int], list[str]]:
    """`connections` workers loop on GET User for `seconds`; (200s, other statuses, errors)."""
    deadline = time.perf_counter() + seconds
    ok = 0
    bad: dict[int, int] = {}
    errors: list[str] = []

    async def worker(i: int) -> None:
        nonlocal ok
        agent = AGENTS[i % len(AGENTS)]
        url = f"{base}/User/{agent}"
        headers = {"Authorization": basic(agent)}
        while time.perf_counter() < deadline:
            try:
                async with http.get(url, headers=headers) as r:
                    await r.read()
                    status = r.status
            except aiohttp.ClientError as exc:
                errors.append(repr(exc))
                return
            if status == 200:
                ok += 1
            else:
                bad[status] = bad.get(status, 0) + 1

    await asyncio.gather(*(worker(i) for i in range(connections)))
    return ok, bad, errors


async def rest_phase(sim: SimProcess, s: Settings) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _get_users(http, sim.rest_base, s.rest_connections, s.rest_warmup)  # warm-up
        meter = Meter(sim)
        meter.start()
        ok, bad, errors = await _get_users(http, sim.rest_base, s.rest_connections, s.rest_seconds)
        meter.stop()
    failures: dict[str, Any] = {f"HTTP {k}": v for k, v in bad.items()}
    if errors:
        failures["errors"] = errors[:5]
    return {
        "requests": ok,
        "failed": sum(bad.values()) + len(errors),
        "failures": failures,
        "connections": s.rest_connections,
        **meter.report(ok),
    }


# -- phase 2: notification fan-out -----------------------------------------------------------

_END = b"</message>"
_KEEP = len(_END) - 1  # a tail this long cannot hold a whole marker


class XmppCounter(asyncio.Protocol):
    """A minimal XMPP client: logs in, sends presence, then only counts notifications."""

    def __init__(self, domain: str, user: str, resource: str) -> None:
        self.header = (
            f"<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client'"
            " xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        ).encode()
        self.user = user
        self.resource = resource
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.step = "features"
        self.buf = bytearray()
        self.count = 0
        self.tail = b""
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.write(self.header)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.ready.done():
            self.ready.set_exception(BenchError(f"{self.user}/{self.resource}: connection lost"))

    def data_received(self, data: bytes) -> None:
        if self.step == "counting":
            # Markers wholly inside `data`, plus one straddling the previous chunk's end.
            self.count += data.count(_END) + (self.tail + data[:_KEEP]).count(_END)
            self.tail = (self.tail + data)[-_KEEP:] if len(data) < _KEEP else data[-_KEEP:]
            return
        self.buf += data
        try:
            self._login()
        except BenchError as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            assert self.transport is not None
            self.transport.abort()

    def _take(self, marker: bytes) -> bool:
        """Consume the buffer up to and including `marker`, if it has arrived."""
        if b"<failure" in self.buf or b"<stream:error" in self.buf:
            raise BenchError(f"{self.user}/{self.resource}: {bytes(self.buf)[:300]!r}")
        at = self.buf.find(marker)
        if at < 0:
            return False
        del self.buf[: at + len(marker)]
        return True

    def _login(self) -> None:
        assert self.transport is not None
        write = self.transport.write
        while True:
            if self.step == "features" and self._take(b"</stream:features>"):
                token = base64.b64encode(f"\0{self.user}\0{PASSWORD}".encode())
                write(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>")
                write(token + b"</auth>")
                self.step = "auth"
            elif self.step == "auth" and self._take(b"<success"):
                write(self.header)  # stream restart
                self.step = "features2"
            elif self.step == "features2" and self._take(b"</stream:features>"):
                write(
                    b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                    b"<resource>%s</resource></bind></iq>"
                    b"<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
                    b"</iq><presence/>" % self.resource.encode()
                )
                self.step = "presence"
            elif self.step == "presence" and self._take(b"<presence"):
                # The 'finesse' user's presence answers ours; notifications come after it.
                rest = bytes(self.buf)
                self.buf.clear()
                self.step = "counting"
                self.ready.set_result(None)
                if rest:
                    self.data_received(rest)
                return
            else:
                return

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"</stream:stream>")
            self.transport.close()


async def connect_clients(sim: SimProcess, n: int) -> list[XmppCounter]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)  # do not overrun the listen backlog

    async def one(i: int) -> XmppCounter:
        client = XmppCounter(sim.xmpp_domain, AGENTS[i % len(AGENTS)], f"r{i}")
        async with gate:
            await loop.create_connection(lambda: client, HOST, sim.xmpp_port)
            await asyncio.wait_for(client.ready, 30)
        return client

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    clients = [c for c in results if isinstance(c, XmppCounter)]
    failures = [c for c in results if isinstance(c, BaseException)]
    if failures:
        for c in clients:
            c.close()
        raise BenchError(f"{len(failures)} of {n} XMPP clients failed to log in: {failures[0]!r}")
    return clients


def _received(clients: list[XmppCounter]) -> int:
    return sum(c.count for c in clients)


async def _wait_count(clients: list[XmppCounter], pred: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not pred(_received(clients)):
        if any(c.lost for c in clients):
            raise BenchError(f"an XMPP client was disconnected while waiting for {what}")
        if time.perf_counter() > deadline:
            got = _received(clients)
            raise BenchError(f"timed out after {timeout:g}s waiting for {what} (got {got})")
        await asyncio.sleep(0.002)


async def _put_user(http: aiohttp.ClientSession, base: str, agent: str, body: str) -> int:
    headers = {"Authorization": basic(agent), "Content-Type": "application/xml"}
    async with http.put(f"{base}/User/{agent}", data=body, headers=headers) as r:
        await r.read()
        return r.status


@dataclasses.dataclass
class Flips:
    ok: dict[str, int] = dataclasses.field(default_factory=dict)
    bad: dict[int, int] = dataclasses.field(default_factory=dict)


async def _flip(
    http: aiohttp.ClientSession, base: str, agent: str, seconds: float, flips: Flips
) -> None:
    """READY, NOT_READY, READY, ... for `seconds`: one state change (one publish) each."""
    bodies = (
        "<User><state>READY</state></User>",
        "<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>",
    )
    deadline = time.perf_counter() + seconds
    n = 0
    try:
        while time.perf_counter() < deadline:
            status = await _put_user(http, base, agent, bodies[n % 2])
            if status != 202:
                flips.bad[status] = flips.bad.get(status, 0) + 1
                return  # the agent's state is unknown now: stop flipping it
            n += 1
    finally:
        flips.ok[agent] = n


async def fanout_phase(sim: SimProcess, s: Settings) -> dict[str, Any]:
    clients = await connect_clients(sim, s.fanout_clients)
    sessions = {a: sum(1 for c in clients if c.user == a) for a in AGENTS}
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            base = sim.rest_base
            for i, agent in enumerate(AGENTS, start=1):
                login = f"<User><state>LOGIN</state><extension>{5000 + i}</extension></User>"
                status = await _put_user(http, base, agent, login)
                if status != 202:
                    raise BenchError(f"LOGIN of agent {agent} answered {status}")
            # Every session hears about its agent's login (NOT_READY); then let it settle.
            await _wait_count(clients, lambda n: n >= len(clients), 30, "login notifications")
            await asyncio.sleep(0.3)
            if any(c.count < 1 for c in clients):
                raise BenchError("a session did not receive its agent's login notification")
            baseline = _received(clients)

            meter = Meter(sim)
            meter.start()
            flips = Flips()
            await asyncio.gather(*(_flip(http, base, a, s.fanout_seconds, flips) for a in AGENTS))
            expected = sum(n * sessions[a] for a, n in flips.ok.items())
            await _wait_count(
                clients, lambda n: n - baseline >= expected, 60, f"{expected} notifications"
            )
            meter.stop()
            await asyncio.sleep(0.2)  # anything beyond the expected count shows up here
            deliveries = _received(clients) - baseline
    finally:
        for c in clients:
            c.close()
    state_changes = sum(flips.ok.values())
    return {
        "clients": len(clients),
        "sessions_per_agent": round(len(clients) / len(AGENTS), 1),
        "state_changes": state_changes,
        "deliveries": deliveries,
        "expected": expected,
        "failed": sum(flips.bad.values()) + abs(deliveries - expected),
        "failures": {f"HTTP {k}": v for k, v in flips.bad.items()},
        "state_changes_per_wall_second": round(state_changes / meter.wall),
        "state_changes_per_sim_cpu_second": (
            round(state_changes / meter.sim_cpu) if meter.sim_cpu > 0 else None
        ),
        **meter.report(deliveries),
    }


# -- phase 3: the publish path alone (finesse_sim.xmpp.bench_fanout) -------------------------


def publish_path(s: Settings, cpus: set[int] | None) -> dict[str, Any] | None:
    """The notification service without REST, via its own benchmark helper (if present)."""
    module = "finesse_sim.xmpp.bench_fanout"
    if importlib.util.find_spec(module) is None:
        return None
    cmd = [sys.executable, "-m", module, "--mode", "user"]
    cmd += ["--clients", str(s.publish_clients), "--notifications", str(s.publish_notifications)]
    run = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        # Its server and its client child share both cores; it times its server CPU itself.
        preexec_fn=child_setup(cpus),
    )
    lines = run.stdout.strip().splitlines()
    if not lines:
        raise BenchError(f"{module} printed nothing (status {run.returncode}): {run.stderr[-500:]}")
    try:
        out = json.loads(lines[-1])
        return {
            "helper": f"python -m {module} --mode user",
            "clients": out["clients"],
            "deliveries": out["deliveries"],
            "received": out["received"],
            "failed": out["deliveries"] - out["received"],
            "seconds": out["wall_s"],
            "per_wall_second": out["deliveries_per_s"],
            "per_sim_cpu_second": out["deliveries_per_server_cpu_s"],
            "sim_cpu_seconds": out["server_cpu_s"],
        }
    except (ValueError, KeyError) as exc:
        raise BenchError(f"unexpected output from {module}: {lines[-1][:300]!r}") from exc


# -- driver ----------------------------------------------------------------------------------

METHOD = (
    "Simulator = `python -m mobagent sim --rest-port 0 --xmpp-port 0` in its own process "
    "pinned to CPU {sim}; load generator = this process pinned to CPU {client}. Simulator "
    "CPU = utime+stime from /proc/<pid>/stat around each timed phase; per_sim_cpu_second = "
    "count / that CPU time (the per-core figure). REST: {conns} keep-alive aiohttp "
    "connections looping GET /finesse/api/User/{{id}} (Basic auth, agents 1001-1010) for "
    "{rest:g}s after a {warm:g}s warm-up; only 200s count, anything else fails. Fan-out: "
    "{clients} raw-socket XMPP sessions (SASL PLAIN, bind, session, presence; agents "
    "1001-1010, resources r0..), agents logged in over REST, then one REST driver per agent "
    "flipping READY/NOT_READY for {fan:g}s (no calls injected); each flip publishes one User "
    "notification to every session of the agent; deliveries = `</message>` counted by the "
    "clients, timed until the last expected one arrived. Publish path: "
    "finesse_sim.xmpp.bench_fanout (server alone, one delivery per publish, its own CPU "
    "time)."
)


async def run_async(sim: SimProcess, s: Settings) -> dict[str, Any]:
    log("REST GET User ...")
    rest = await rest_phase(sim, s)
    log(f"  {rest['per_wall_second']}/s wall, {rest['per_sim_cpu_second']}/sim-CPU-s")
    log(f"fan-out to {s.fanout_clients} XMPP sessions ...")
    fanout = await fanout_phase(sim, s)
    log(f"  {fanout['per_wall_second']}/s wall, {fanout['per_sim_cpu_second']}/sim-CPU-s")
    return {"rest_get_user": rest, "fanout": fanout}


def run(s: Settings) -> dict[str, Any]:
    allowed, cores = pinning()
    if cores:
        os.sched_setaffinity(0, {cores[1]})
    else:
        log("fewer than 2 usable CPUs: no pinning, simulator and clients share the CPU")
    try:
        with simulator(cores) as sim:
            result = asyncio.run(run_async(sim, s))
    finally:
        if cores:
            os.sched_setaffinity(0, allowed)
    log("publish path alone (finesse_sim.xmpp.bench_fanout) ...")
    result["fanout_publish_path"] = publish_path(s, allowed or None)
    result["machine"] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "sim_cpu": cores[0] if cores else None,
        "client_cpu": cores[1] if cores else None,
    }
    result["method"] = METHOD.format(
        sim=cores[0] if cores else "(unpinned)",
        client=cores[1] if cores else "(unpinned)",
        conns=s.rest_connections,
        rest=s.rest_seconds,
        warm=s.rest_warmup,
        clients=s.fanout_clients,
        fan=s.fanout_seconds,
    )
    result["targets"] = {"per_core": TARGET_PER_CORE}
    return result


COLUMNS = ("", "count", "seconds", "/wall s", "/sim CPU s", "sim CPU", "client CPU")
COLUMNS += ("others", "target")


def table(r: dict[str, Any]) -> str:
    def fmt(x: Any) -> str:
        return f"{x:,}" if isinstance(x, int) else "-" if x is None else str(x)

    def verdict(per_core: Any) -> str:
        if per_core is None:
            return "-"
        return "meets" if per_core >= TARGET_PER_CORE else "BELOW"

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

    def row(name: str, count: int, phase: dict[str, Any]) -> tuple[str, ...]:
        other = phase.get("other_load") or {}
        return (
            name,
            fmt(count),
            fmt(phase["seconds"]),
            fmt(phase["per_wall_second"]),
            fmt(phase["per_sim_cpu_second"]),
            pct(phase.get("sim_cpu_utilisation")),
            pct(phase.get("client_cpu_utilisation")),
            "/".join(pct(other.get(k)) for k in ("sim", "client")) if other else "-",
            verdict(phase["per_sim_cpu_second"]),
        )

    rest, fan, pub = r["rest_get_user"], r["fanout"], r.get("fanout_publish_path")
    rows = [
        COLUMNS,
        row("REST GET User", rest["requests"], rest),
        row(f"Fan-out ({fan['clients']} sessions)", fan["deliveries"], fan),
    ]
    if pub:
        rows.append(row("Publish path alone", pub["deliveries"], pub))
    lines = aligned(rows)
    m = r["machine"]
    pinned = (
        f"simulator on CPU {m['sim_cpu']}, load generator on CPU {m['client_cpu']}"
        if m["sim_cpu"] is not None
        else "not pinned"
    )
    lines += [
        "",
        f"Target: >= {TARGET_PER_CORE:,} per simulator CPU-second (per core).",
        f"REST bottleneck: {rest['bottleneck']}.",
        f"Fan-out bottleneck: {fan['bottleneck']}.",
        f"Fan-out: {fan['state_changes']:,} state changes over REST "
        f"({fan['state_changes_per_wall_second']:,}/wall s, "
        f"{fmt(fan['state_changes_per_sim_cpu_second'])}/sim CPU s) x "
        f"{fan['sessions_per_agent']:g} sessions per agent.",
        "Columns: sim CPU / client CPU = each process's CPU time / wall time; others = CPU "
        "time other processes took on the simulator's / load generator's CPU.",
        f"Machine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, {pinned}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m scenarios.bench.sim_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="a few-second version (smoke test)")
    p.add_argument("--clients", type=int, default=None, help="XMPP sessions for the fan-out")
    args = p.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings.full()
    if args.clients is not None:
        if args.clients < 1:
            p.error("--clients must be >= 1")
        settings = dataclasses.replace(settings, fanout_clients=args.clients)
    try:
        result = run(settings)
    except (BenchError, aiohttp.ClientError, OSError) as exc:
        print(f"sim_bench: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else table(result))
    pub = result["fanout_publish_path"] or {}
    failed = result["rest_get_user"]["failed"] + result["fanout"]["failed"] + pub.get("failed", 0)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
