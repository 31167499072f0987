"""One `mobagent bench` run: the simulator and the connector as pinned processes, the load
generator as worker processes (`workers`), and the phases (warm-up, steady rates, burst)
with the connector's memory and everyone's CPU around them.

Processes: `mobagent sim --config <generated roster>` pinned to CPU 0, `mobagent connector`
pinned to CPU 1, the workers unpinned. This process only merges the workers' timestamps
(`stats`) and reads /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from mobagent import event_loop
from scenarios.bench.connector import stats
from scenarios.bench.connector.agents import LoadAgent
from scenarios.bench.connector.settings import HOST, STOP_TIMEOUT, Settings, sweep_rates
from scenarios.bench.connector.stats import Marks, cpu_per_event, cpu_percent
from scenarios.bench.connector.verdict import (
    TARGET_BURST,
    TARGET_RUN,
    TARGETS,
    highest_meeting,
    judged,
    verdicts,
)
from scenarios.bench.connector.workers import Worker
from scenarios.bench.connector_memory import settled_rss
from scenarios.bench.procs import (
    BenchError,
    connector_command,
    log,
    machine,
    pinning,
    proc_children,
    proc_cpu_seconds,
    proc_cpu_times,
    proc_rss_kib,
    proc_wait_seconds,
    running,
)
from scenarios.bench.roster import ROSTER_NAME, roster_toml
from scenarios.stack.processes import free_port


async def measure(
    conn_pids: list[int],
    sim_pid: int,
    sim: dict[str, Any],
    api: str,
    settings: Settings,
    push_port: int = 0,
    push_pid: int = 0,
) -> dict[str, Any]:
    """The load generator as separate processes: `app_procs` processes holding the N app
    WebSockets (sharded round-robin), one holding the direct slixmpp subscribers, one driving
    the PUTs. All stamp time.monotonic() (CLOCK_MONOTONIC, one clock for every process on
    the machine); this process only merges their timestamps and counts. `conn_pids`: the
    connector's processes (several behind `api` with shared state), their memory and CPU
    summed (and each one's memory apart, `rss_kib_each`); `push_pid`: its push process
    (`--push-process`), whose CPU is reported apart."""
    n = settings.agents  # app agents; the direct watchers are more sessions of some
    agents = [LoadAgent(i, "command" if i <= settings.commands else "app") for i in range(1, n + 1)]
    by_id = {agent.id: agent for agent in agents}
    # Direct watchers: second sessions of app agents spread over the roster, sharing their
    # twins' flip times, so that direct_ms covers the very events the apps receive.
    plain = [agent for agent in agents if agent.kind == "app"]
    chosen = (
        plain[:: max(1, len(plain) // settings.direct)][: settings.direct]
        if settings.direct
        else []
    )
    watchers = [
        LoadAgent(agent.index, "direct", acks=agent.acks, puts=agent.puts, twin=agent)
        for agent in chosen
    ]
    everyone = agents + watchers
    each_before = [(await settled_rss(pid))[0] for pid in conn_pids]
    shards = [agents[k :: settings.app_procs] for k in range(settings.app_procs)]
    groups = [(f"apps{k}", shard) for k, shard in enumerate(shards) if shard]

    def spec(role: str, members: list[LoadAgent]) -> dict[str, Any]:
        return {
            "role": role,
            "sim": sim,
            "api": api,
            # Behind the balancer, a connection of its own for each request (as nginx
            # balances each request), so that about half the apps' WebSockets land on a
            # process that does not hold their agent; a kept-alive connection would carry
            # the WebSocket to the process that took the sign-in: its holder.
            "fresh_connections": settings.connectors > 1,
            "agents": [[agent.index, agent.kind] for agent in members],
        }

    receivers: list[tuple[Worker, list[LoadAgent]]] = []
    driver: Worker | None = None
    pusher: Worker | None = None
    push_step: dict[str, Any] | None = None
    children: list[Worker] = []
    failures: list[str] = []
    # Each measured phase's figures with its marks (since, until): the events counted lost
    # that arrive before the run is over are counted late in them at the end.
    windows: list[tuple[dict[str, Any], Marks, Marks]] = []

    def cpu() -> dict[str, float]:
        out = {worker.name: worker.cpu_seconds() for worker in children}
        # Summed over the connector's processes (one, or several sharing their state).
        times = [proc_cpu_times(pid) for pid in conn_pids]
        out["connector_user"] = sum(user for user, _ in times)
        out["connector_system"] = sum(system for _, system in times)
        out["connector"] = out["connector_user"] + out["connector_system"]
        out["connector_wait"] = sum(map(proc_wait_seconds, conn_pids))
        if push_pid:
            out["push_process"] = proc_cpu_seconds(push_pid)
            out["push_process_wait"] = proc_wait_seconds(push_pid)
        out["simulator"] = proc_cpu_seconds(sim_pid)
        out["simulator_wait"] = proc_wait_seconds(sim_pid)
        return out

    try:
        if settings.push_agents:
            pusher = await Worker.start("push", push_spec(sim, api, settings, push_port), PUSH_LOAD)
            children.append(pusher)
            log(f"signing in {settings.push_agents} apps that go to the background ...")
            reply = await pusher.call({"cmd": "login", "concurrency": settings.concurrency})
            log(f"  in after {reply['login_seconds']:.2f}s")
        for name, members in groups:
            child = await Worker.start(name, spec("receive", members))
            children.append(child)
            receivers.append((child, members))
        driver = await Worker.start("driver", spec("drive", agents))
        children.append(driver)
        log(
            f"signing in {n} apps ({len(shards)} processes) and "
            f"{settings.direct} direct subscribers ..."
        )
        per = max(1, settings.concurrency // max(1, len(receivers)))
        cpu0, t0 = cpu(), time.monotonic()
        replies = await asyncio.gather(
            *(worker.call({"cmd": "login", "concurrency": per}) for worker, _ in receivers)
        )
        login_seconds = time.monotonic() - t0
        cpu1 = cpu()
        # Who was busy while the apps signed in (percent of one core), and the connector's
        # CPU per sign-in: a sign-in bound by the connector's core shows it at ~100 %.
        login_cpu = cpu_percent(cpu0, cpu1, login_seconds)
        login_cpu_ms = round(1000 * (cpu1["connector"] - cpu0["connector"]) / max(1, n), 2)
        if watchers:  # once their agents are in: they see no login notifications
            child = await Worker.start("direct", spec("receive", watchers))
            children.append(child)
            receivers.append((child, watchers))
            await child.call({"cmd": "login", "concurrency": len(watchers)})
        tokens: dict[str, str] = {}
        for reply in replies:
            tokens.update(reply["tokens"])
        login_failures = [f for worker, _ in receivers for f in worker.failures]
        if login_failures:
            raise BenchError(f"{len(login_failures)} logins failed: {login_failures[:3]}")
        await driver.call({"cmd": "tokens", "tokens": tokens})
        each_after = [(await settled_rss(pid))[0] for pid in conn_pids]
        log(
            f"  in after {login_seconds:.2f}s; RSS {each_before} -> {each_after} KiB; "
            f"CPU % while signing in {login_cpu}; connector {login_cpu_ms} ms per sign-in"
        )

        async def drive(
            rate: float, seconds: float, via: str = "rest", commands: bool = True
        ) -> None:
            """Flips through the driver; `commands`: the command agents' share is commands
            through the connector (always with REST injection; the burst has none)."""
            assert driver is not None
            reply = await driver.call(
                {"cmd": "drive", "rate": rate, "seconds": seconds, "via": via, "commands": commands}
            )
            for aid, times in reply["agents"].items():
                agent = by_id[aid]
                agent.acks.extend(times["acks"])
                agent.puts.extend(times["puts"])
                agent.rids.update(times["rids"])
                agent.sent += len(times["acks"])

        async def drain(timeout: float) -> None:
            async def one(worker: Worker, members: list[LoadAgent]) -> None:
                expected = {agent.id: (agent.twin or agent).sent for agent in members}
                reply = await worker.call({"cmd": "wait", "expected": expected, "timeout": timeout})
                mine = {agent.id: agent for agent in members}
                for aid, times in reply["agents"].items():
                    mine[aid].recv.extend(times["recv"])
                    mine[aid].rid_recv.update(times["rid_recv"])

            await asyncio.gather(*(one(worker, members) for worker, members in receivers))

        # Warm-up, not counted: one flip each (NOT_READY -> READY), then `warmup` seconds at
        # the first measured rate, so that a plain run measures a process as warm as a
        # sweep's later steps do (caches, the allocator's pools, the collector's generations).
        warm = stats.mark(everyone)
        await drive(min(settings.rate, 2000), len(agents) / min(settings.rate, 2000))
        if settings.warmup:
            first = sweep_rates(settings.rate)[0] if settings.sweep else settings.rate
            log(f"warming up at {first:g} events/s for {settings.warmup:g}s ...")
            await drive(first, settings.warmup, via=settings.inject)
        await drain(settings.drain)
        stats.phase(everyone, warm)
        # Idle: every agent signed in and nothing happening. What the connector spends then
        # (keep-alives, heartbeats, reconciliation) is a cost of having agents, not of events;
        # the per-event figures below include it, this says how much of them it is.
        idle = None
        if settings.idle:
            log(f"idle for {settings.idle:g}s ...")
            cpu0, t0 = cpu(), time.monotonic()
            await asyncio.sleep(settings.idle)  # the quiet being measured, not a wait for one
            wall, cpu1 = time.monotonic() - t0, cpu()
            shares = cpu_percent(cpu0, cpu1, wall, digits=2)
            idle = {key: shares[key] for key in ("connector", "simulator")}
            log(f"  idle CPU % {idle}")
        rates = sweep_rates(settings.rate) if settings.sweep else [settings.rate]
        steps: list[dict[str, Any]] = []
        for rate in rates:
            since = stats.mark(everyone)
            cpu0, t0 = cpu(), time.monotonic()
            log(
                f"driving {rate:g} events/s for {settings.seconds:g}s (from monotonic {t0:.3f}) ..."
            )
            await drive(rate, settings.seconds, via=settings.inject)
            wall = time.monotonic() - t0
            cpu1 = cpu()
            await drain(settings.drain)
            used = cpu_percent(cpu0, cpu1, wall)
            phase = stats.phase(everyone, since)
            step = {
                "events_per_second": rate,
                "achieved_per_second": None,
                **phase,
                **cpu_per_event(cpu0, cpu1, phase["events_received"]),
                "connector_cpu_percent": used.pop("connector"),
                "connector_user_percent": used.pop("connector_user"),
                "connector_system_percent": used.pop("connector_system"),
                "connector_wait_percent": used.pop("connector_wait"),
                "simulator_cpu_percent": used.pop("simulator"),
                "simulator_wait_percent": used.pop("simulator_wait"),
                "push_process_cpu_percent": used.pop("push_process", None),
                "push_process_wait_percent": used.pop("push_process_wait", None),
                "generator_cpu_percent": used,
            }
            step["achieved_per_second"] = round(step["events_sent"] / wall, 1)
            windows.append((step, since, stats.mark(everyone)))
            log(
                f"  sent {step['events_sent']} ({step['achieved_per_second']}/s), lost "
                f"{step['lost']}, e2e {step['e2e_ms']}, direct {step['direct_ms']}, "
                f"connector added {step['connector_added_ms']}, "
                f"rtt {step['command_rtt_ms']}, cpu {step['connector_cpu_percent']}% "
                f"(waiting for a CPU {step['connector_wait_percent']}%; "
                f"{step['connector_cpu_us_per_event']} us per event), "
                f"generator {used}"
            )
            steps.append(step)
        if pusher is not None:
            push_step = await with_push_load(
                pusher,
                everyone,
                settings,
                lambda: drive(settings.rate, settings.seconds, via=settings.inject),
                drain,
                cpu,
                windows,
            )
        burst = None
        if settings.burst:
            log(f"burst: {settings.burst} events in {settings.burst_seconds:g}s ...")
            await asyncio.sleep(1.0)
            since = stats.mark(everyone)
            cpu0, t0 = cpu(), time.monotonic()
            await drive(
                settings.burst / settings.burst_seconds,
                settings.burst_seconds,
                via="bulk",
                commands=False,
            )
            sent_in = time.monotonic() - t0
            cpu1 = cpu()
            await drain(max(settings.drain, 30.0))
            until = stats.mark(everyone)
            burst = {
                "events": settings.burst,
                "seconds": settings.burst_seconds,
                "sent_in_seconds": round(sent_in, 2),
                "drained_in_seconds": round(time.monotonic() - t0, 2),
                **stats.phase(everyone, since),
                "cpu_percent_while_sending": cpu_percent(cpu0, cpu1, sent_in),
            }
            windows.append((burst, since, until))
            log(
                f"  sent in {burst['sent_in_seconds']}s, lost {burst['lost']}, "
                f"e2e {burst['e2e_ms']}, CPU while sending {burst['cpu_percent_while_sending']}"
            )
        if any(figures["lost"] for figures, _, _ in windows):
            log("waiting for the events counted lost, to tell the late from the lost ...")
            await drain(settings.drain)
        for figures, since, until in windows:
            figures["late"] = stats.late(everyone, since, until, figures["events_received"])
        each_end = [proc_rss_kib(pid) for pid in conn_pids]
    finally:
        await asyncio.gather(*(worker.close() for worker in children), return_exceptions=True)
        failures = [f for worker in children for f in worker.failures]
    return {
        "login_seconds": round(login_seconds, 2),
        "login_cpu_percent": login_cpu,
        "connector_cpu_ms_per_login": login_cpu_ms,
        "rss_kib": {
            "before": sum(each_before),
            "after_login": sum(each_after),
            "end": sum(each_end),
        },
        "rss_kib_each": {"before": each_before, "after_login": each_after, "end": each_end},
        "idle_cpu_percent": idle,
        "steps": steps,
        "push_step": push_step,
        "burst": burst,
        "failures": failures[:20],
        "failure_count": len(failures),
    }


PUSH_LOAD = "scenarios.bench.connector.push_load"


def push_spec(sim: dict[str, Any], api: str, settings: Settings, port: int) -> dict[str, Any]:
    control = sim["sides"]["A"]["rest"].removesuffix("/finesse/api") + "/sim/v1"
    return {
        "api": api,
        "sim": control,
        "first": settings.agents + 1,
        "count": settings.push_agents,
        "port": port,
    }


async def with_push_load(
    pusher: Worker,
    everyone: list[LoadAgent],
    settings: Settings,
    drive: Callable[[], Awaitable[None]],
    drain: Callable[[float], Awaitable[None]],
    cpu: Callable[[], dict[str, float]],
    windows: list[tuple[dict[str, Any], Marks, Marks]],
) -> dict[str, Any]:
    """The steady phase again, with calls routed to the backgrounded agents meanwhile: the
    relay's latency beside the push load, and the pushes' latency and losses."""
    since = stats.mark(everyone)
    log(
        f"driving {settings.rate:g} events/s with {settings.push_rate:g} calls/s pushed to "
        f"{settings.push_agents} backgrounded apps, for {settings.seconds:g}s ..."
    )
    calls = pusher.call(
        {
            "cmd": "calls",
            "rate": settings.push_rate,
            "seconds": settings.seconds,
            "drain": settings.drain,
        }
    )
    cpu0, t0 = cpu(), time.monotonic()
    pushed, _ = await asyncio.gather(calls, drive())
    wall = time.monotonic() - t0
    cpu1 = cpu()
    await drain(settings.drain)
    relay = stats.phase(everyone, since)
    windows.append((relay, since, stats.mark(everyone)))
    latencies = pushed.pop("latencies")
    step = {
        "calls_per_second": settings.push_rate,
        **pushed,
        "push_ms": stats.summary(latencies, stats.E2E_Q),
        "relay": relay,
        "cpu_percent": cpu_percent(cpu0, cpu1, wall),
    }
    log(
        f"  calls {step['placed']}, pushed {step['pushed']}, lost {step['lost']}, push "
        f"{step['push_ms']}; relay e2e {relay['e2e_ms']}, lost {relay['lost']}; "
        f"CPU % {step['cpu_percent']}"
    )
    return step


@contextlib.contextmanager
def simulator(
    settings: Settings, tmp: str, cpus: set[int] | None
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """`mobagent sim` on a generated roster of the run's agents, until the block ends."""
    roster = Path(tmp) / ROSTER_NAME
    roster.write_text(roster_toml(settings.agents, settings.push_agents, settings.forced_logout))
    sim_cmd = [sys.executable, "-m", "mobagent", "sim", "--host", HOST, "--rest-port", "0"]
    sim_cmd += ["--xmpp-port", "0", "--json", "--config", str(roster)]
    with running(sim_cmd, name="simulator", cpus=cpus, start_timeout=60) as (proc, info):
        yield proc, info


def finesse_of(sim_info: dict[str, Any]) -> str:
    return sim_info["sides"]["A"]["rest"].removesuffix("/finesse/api")


def run(settings: Settings) -> dict[str, Any]:
    allowed, cores = pinning()
    sim_cpus = {cores[0]} if cores else None
    conn_cpus = {cores[1]} if cores else None
    push_port = free_port(HOST) if settings.push_agents else 0
    with (
        tempfile.TemporaryDirectory(prefix="connector-bench-") as tmp,
        simulator(settings, tmp, sim_cpus) as (sim_proc, sim_info),
    ):
        finesse = finesse_of(sim_info)
        head = [sys.executable, "-m", "mobagent", "connector"]
        if settings.cprofile:
            head = [sys.executable, "-m", "scenarios.bench.connector.profiled"]
            head += [os.path.abspath(settings.cprofile)]
        if settings.gc_stats:
            head = [sys.executable, "-m", "scenarios.bench.gc_connector"]
            head += [os.path.abspath(settings.gc_stats)]
        conn_cmd = connector_command(
            finesse,
            head=head,
            host=HOST,
            state_dir=str(Path(tmp) / "state"),
            push_allow=f"http://{HOST}:{push_port}" if push_port else "",
            push_process=settings.push_process,
        )
        with running(conn_cmd, name="connector", cpus=conn_cpus, stop_timeout=STOP_TIMEOUT) as (
            conn,
            conn_info,
        ):
            push_pid = push_process_of(conn.pid, allowed) if settings.push_process else 0
            measured = event_loop.run(  # uvloop where installed: less of the machine for the driver
                measure(
                    [conn.pid],
                    sim_proc.pid,
                    sim_info,
                    conn_info["api"],
                    settings,
                    push_port,
                    push_pid,
                )
            )
            conn.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                conn.wait(STOP_TIMEOUT)
    return result_of(settings, measured, cores)


def push_process_of(conn_pid: int, cpus: set[int]) -> int:
    """The connector's push process, let run on any of `cpus`: it inherited the connector's
    pinning to one core, and is there to take work off that core."""
    children = proc_children(conn_pid)
    if len(children) != 1:
        raise BenchError(f"the connector has {len(children)} child processes, not its push process")
    if cpus:
        os.sched_setaffinity(children[0], cpus)
    return children[0]


def result_of(
    settings: Settings, measured: dict[str, Any], cores: tuple[int, int] | None
) -> dict[str, Any]:
    """The report of a run from what `measure` measured."""
    main_step = (
        measured["steps"][-1] if not settings.sweep else _at_rate(measured["steps"], settings.rate)
    )
    rss = measured["rss_kib"]
    result: dict[str, Any] = {
        "agents": settings.agents,
        "events_per_second": settings.rate,
        "seconds": settings.seconds,
        "warmup_seconds": settings.warmup,
        "events_sent": main_step["events_sent"],
        "events_received": main_step["events_received"],
        "lost": main_step["lost"],
        "late": main_step["late"],  # of the lost: arrived after the drain, before the end
        "e2e_ms": main_step["e2e_ms"],
        "direct_ms": main_step["direct_ms"],
        "command_rtt_ms": main_step["command_rtt_ms"],
        "login_seconds": measured["login_seconds"],
        "login_cpu_percent": measured["login_cpu_percent"],
        "connector_cpu_ms_per_login": measured["connector_cpu_ms_per_login"],
        "connector_rss_mib": round(rss["after_login"] / 1024, 1),
        "rss_per_agent_kib": round((rss["after_login"] - rss["before"]) / settings.agents, 1),
        "connector_cpu_percent": main_step["connector_cpu_percent"],
        "idle_cpu_percent": measured["idle_cpu_percent"],
        "connector_wait_percent": main_step["connector_wait_percent"],
        "connector_cpu_us_per_event": main_step["connector_cpu_us_per_event"],
        "connector_cpu_us_per_event_split": main_step["connector_cpu_us_per_event_split"],
        "generator_cpu_percent": main_step["generator_cpu_percent"],
        "generator_processes": {
            "apps": settings.app_procs,
            "direct": 1 if settings.direct else 0,
            "driver": 1,
        },
        "inject": settings.inject,
        "achieved_per_second": main_step["achieved_per_second"],
        "events_before_ack": main_step["events_before_ack"],
        "e2e_from_put_ms": main_step["e2e_from_put_ms"],
        "direct_from_put_ms": main_step["direct_from_put_ms"],
        "samples": main_step["samples"],
        "rss_kib": rss,
        "direct_subscribers": settings.direct,
        "command_agents": settings.commands,
        "burst": measured["burst"],
        "push": _push_result(main_step, measured["push_step"]),
        "sweep": (
            {
                "steps": measured["steps"],
                "highest_rate_meeting_p99_25ms_0_lost": highest_meeting(measured["steps"]),
            }
            if settings.sweep
            else None
        ),
        "cluster": None,
        "failures": measured["failures"],
        "failure_count": measured["failure_count"],
        "targets": TARGETS,
        "targets_for": {**TARGET_RUN, "burst": TARGET_BURST},
        "machine": machine(cores),
        "steps": measured["steps"],
    }
    result["meets"] = verdicts(result)  # every target against this run's figures
    result["judged"] = judged(result)  # True only where the run is the size it was set for
    return result


def _push_result(without: dict[str, Any], step: dict[str, Any] | None) -> dict[str, Any] | None:
    """The push phase's figures beside the relay's p99 without the push load."""
    if step is None:
        return None
    before, during = without["e2e_ms"]["p99"], step["relay"]["e2e_ms"]["p99"]
    # What the connector adds (the app's time minus a direct subscriber's for the same
    # event): the simulator serves both loads on one core, and its delays show in e2e.
    added_before = without["connector_added_ms"]["p99"]
    added_during = step["relay"]["connector_added_ms"]["p99"]
    return {
        **step,
        "relay_p99_ms_without_push": before,
        "relay_p99_ms_with_push": during,
        "relay_p99_ratio": round(during / before, 2) if before and during else None,
        "connector_added_p99_ms_without_push": added_before,
        "connector_added_p99_ms_with_push": added_during,
    }


def _at_rate(steps: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    return next((st for st in steps if st["events_per_second"] == rate), steps[-1])
