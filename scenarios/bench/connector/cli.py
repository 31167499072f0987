"""`mobagent bench`: push latency, loss, memory and CPU of the Generic Connector under load.

The command line; what each figure means, how it is measured and the measured results are
in docs/benchmarks.md ("Connector latency and throughput").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mobagent import args as cli_args
from scenarios.bench.connector.chart import chart
from scenarios.bench.connector.cluster import run_cluster
from scenarios.bench.connector.run import run
from scenarios.bench.connector.settings import APP_PROCS, CONCURRENCY, DRAIN, IDLE, WARMUP, Settings
from scenarios.bench.connector.verdict import cluster_verdict_lines, verdict_lines
from scenarios.bench.procs import report
from scenarios.bench.roster import MAX_AGENTS


def text(r: dict[str, Any]) -> str:
    lines = [
        f"agents {r['agents']}, {r['events_per_second']:g} events/s for {r['seconds']:g}s "
        f"(achieved {r['achieved_per_second']}/s)",
        f"events sent {r['events_sent']}, received {r['events_received']}, lost {r['lost']} "
        f"(of them arrived late, after the drain: {r['late']})",
        f"e2e ms {r['e2e_ms']}",
        f"direct ms {r['direct_ms']}",
        f"from before the PUT (upper bound, includes REST): e2e {r['e2e_from_put_ms']}, "
        f"direct {r['direct_from_put_ms']}; events read before their 202: "
        f"{r['events_before_ack']}",
        f"command rtt ms {r['command_rtt_ms']}",
        f"login {r['login_seconds']}s; connector RSS {r['connector_rss_mib']} MiB, "
        f"{r['rss_per_agent_kib']} KiB per agent; CPU {r['connector_cpu_percent']}%, "
        f"{r['connector_cpu_us_per_event']} us per event "
        f"({r['connector_cpu_us_per_event_split']}); idle CPU % {r['idle_cpu_percent']}",
        f"machine {r['machine']['cpu']}, yardstick {r['machine']['yardstick_us']} us "
        "(python -m scenarios.bench.yardstick: compare runs on different hardware by it)",
    ]
    if r["burst"]:
        b = r["burst"]
        lines.append(f"burst {b['events']} in {b['seconds']}s: lost {b['lost']}, e2e {b['e2e_ms']}")
    if r["push"]:
        pu = r["push"]
        lines.append(
            f"push: {pu['calls_per_second']:g} calls/s to backgrounded apps: placed "
            f"{pu['placed']}, pushed {pu['pushed']}, lost {pu['lost']} (not routed: "
            f"{pu['not_routed']}); push ms {pu['push_ms']}"
        )
        lines.append(
            f"relay p99 ms without push {pu['relay_p99_ms_without_push']}, with push "
            f"{pu['relay_p99_ms_with_push']} (x{pu['relay_p99_ratio']}); relay lost with push "
            f"{pu['relay']['lost']}; connector added p99 ms without push "
            f"{pu['connector_added_p99_ms_without_push']}, with push "
            f"{pu['connector_added_p99_ms_with_push']}"
        )
    if r["sweep"]:
        lines.append(f"sweep: highest rate meeting p99 <= 25 ms, 0 lost: {r['sweep']}")
    lines += verdict_lines(r)
    if r["cluster"]:
        lines += cluster_lines(r)
    return "\n".join(lines)


def cluster_lines(r: dict[str, Any]) -> list[str]:
    c = r["cluster"]
    single, e2e = c["single"], r["e2e_ms"]
    lines = [
        f"{c['connectors']} connector processes, state in Redis, behind one address "
        f"(CPU {r['connector_cpu_percent']}%, waiting for a CPU {r['connector_wait_percent']}%)",
        f"  e2e p50/p99 ms {e2e['p50']}/{e2e['p99']} beside the single in-memory process's "
        f"{single['e2e_ms']['p50']}/{single['e2e_ms']['p99']} (CPU "
        f"{single['connector_cpu_percent']}%, waiting {single['connector_wait_percent']}%): "
        f"p99 x{c['p99_vs_single']}; lost {r['lost']} (single: {single['lost']})",
        "  memory per agent: "
        + "; ".join(
            f"process {k + 1}: {m['kib_per_agent']} KiB ({m['agents']} agents, {m['rss_mib']} MiB)"
            for k, m in enumerate(c["memory"])
        )
        + f" (single: {single['rss_per_agent_kib']} KiB)",
    ]
    t = c["takeover"]
    if t:
        lines.append(
            f"  take-over: process 1 killed holding {t['agents']} agents: first claimed after "
            f"{t['first_claim_s']} s, {t['up']}/{t['of']} notification sessions up after "
            f"{t['seconds']} s; forced logouts {t['forced_logouts']} (Finesse's verdict "
            f"{t['verdict_after_s']:g} s after the kill); the survivors grew "
            f"{t['survivors_kib_per_agent_taken']} KiB per agent taken"
        )
    return lines + cluster_verdict_lines(r)


DESCRIPTION = """\
Push latency, loss, memory and CPU of the Generic Connector under load. Starts the
simulator (a generated roster) and the connector, each on a core of its own; N apps sign
in through the mobile API; agents are flipped READY/NOT_READY at a given rate and each
event is timed from Finesse to the app. Exit status 1 if an event was lost or a request
failed. Definitions, targets and measured figures: docs/benchmarks.md."""


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent bench",
        description=DESCRIPTION,
        formatter_class=cli_args.DefaultsHelpFormatter,
    )
    p.add_argument(
        "--agents",
        metavar="N",
        type=cli_args.positive_int,
        default=2000,
        help=f"apps signed in through the connector (at most {MAX_AGENTS:,})",
    )
    p.add_argument(
        "--events-per-second",
        metavar="R",
        type=cli_args.positive_float,
        default=2000,
        help="state flips per second in the steady phase (the top rate with --sweep)",
    )
    p.add_argument(
        "--seconds",
        metavar="S",
        type=cli_args.positive_float,
        default=60,
        help="length of the steady phase",
    )
    p.add_argument(
        "--direct",
        metavar="N",
        type=cli_args.non_negative_int,
        default=20,
        help="plain slixmpp subscribers straight to the simulator, as some of the agents "
        "(the baseline without the connector)",
    )
    p.add_argument(
        "--commands",
        metavar="N",
        type=cli_args.non_negative_int,
        default=None,
        help="agents driven through the connector's API instead, for the command round trip "
        "(default: 1 %% of --agents, 1..20)",
    )
    p.add_argument(
        "--burst",
        metavar="N",
        type=cli_args.non_negative_int,
        default=0,
        help="events in a burst after the steady phase (0: no burst)",
    )
    p.add_argument(
        "--burst-seconds",
        metavar="S",
        type=cli_args.positive_float,
        default=2.0,
        help="seconds the burst is spread over",
    )
    p.add_argument(
        "--sweep",
        action="store_true",
        help="run the steady phase at 500, 1000, 2000, 4000, ... up to --events-per-second "
        "and report the highest rate with p99 <= 25 ms and 0 lost",
    )
    p.add_argument(
        "--inject",
        choices=["rest", "bulk"],
        default="bulk",
        help="how the steady phases make their events: the simulator's bulk state change "
        "(the default: the rate asked is reached), or one REST PUT as the agent each (the "
        "simulator's REST API and this injector top out near 1,500 a second here)",
    )
    p.add_argument(
        "--push-agents",
        metavar="N",
        type=cli_args.non_negative_int,
        default=0,
        help="more agents, their app in the background and subscribed to the simulated push "
        "service: after the steady phase, it runs again while calls are routed to them and "
        "pushed (0: no push phase)",
    )
    p.add_argument(
        "--push-calls-per-second",
        metavar="R",
        type=cli_args.positive_float,
        default=100.0,
        help="calls a second routed to the backgrounded agents in the push phase",
    )
    p.add_argument(
        "--push-process",
        action="store_true",
        help="the connector sends its pushes from a process of its own (`--push-process`), "
        "which may run on either core (the connector itself is pinned to one)",
    )
    p.add_argument(
        "--connectors",
        metavar="N",
        type=cli_args.positive_int,
        default=1,
        help="connector processes behind one address (more than 1 needs --state redis); "
        "then one is killed and the take-over of its agents measured",
    )
    p.add_argument(
        "--state",
        choices=["memory", "redis"],
        default="memory",
        help="the connectors' state: in memory, or in a redis-server the run starts (then "
        "the run measures the single in-memory process first, as the baseline)",
    )
    p.add_argument(
        "--forced-logout",
        metavar="S",
        type=cli_args.positive_float,
        default=60.0,
        help="the simulated Finesse's forced-logout window after a lost presence (Finesse's "
        "is 60 s; shorter only for a quick run): the take-over is judged within it",
    )
    p.add_argument(
        "--warmup",
        metavar="S",
        type=cli_args.non_negative_float,
        default=WARMUP,
        help="seconds of events at the (first) measured rate before measuring, not counted",
    )
    p.add_argument(
        "--idle",
        metavar="S",
        type=cli_args.non_negative_float,
        default=IDLE,
        help="seconds with every agent signed in and nothing happening, after the warm-up: "
        "the connector's CPU then (idle_cpu_percent) is part of every per-event figure",
    )
    p.add_argument(
        "--drain",
        metavar="S",
        type=cli_args.non_negative_float,
        default=DRAIN,
        help="seconds to wait for the last events before counting the missing ones lost",
    )
    p.add_argument(
        "--concurrency",
        metavar="N",
        type=cli_args.positive_int,
        default=CONCURRENCY,
        help="sign-ins in flight at a time",
    )
    p.add_argument(
        "--app-procs",
        metavar="N",
        type=cli_args.positive_int,
        default=APP_PROCS,
        help="processes holding the app WebSockets",
    )
    p.add_argument(
        "--chart",
        metavar="PATH",
        type=cli_args.output_file,
        help="write a PNG of latency against load to PATH",
    )
    diagnosis = p.add_mutually_exclusive_group()
    diagnosis.add_argument(
        "--cprofile",
        metavar="PATH",
        type=cli_args.output_file,
        help="run the connector under cProfile and write its stats (pstats) to PATH",
    )
    diagnosis.add_argument(
        "--gc-stats",
        metavar="PATH",
        type=cli_args.output_file,
        help="record the connector's garbage-collection pauses (JSON) to PATH",
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    p = parser()
    args = p.parse_args(args_in)
    if args.agents + args.push_agents > MAX_AGENTS:
        p.error(f"argument --agents: {args.agents} with --push-agents: at most {MAX_AGENTS}")
    if args.commands is None:
        args.commands = min(20, max(1, args.agents // 100))
    if not args.commands < args.agents:
        p.error("argument --commands: must be below --agents")
    if not args.direct <= args.agents - args.commands:
        p.error("argument --direct: the watchers are app agents: at most --agents minus --commands")
    if args.connectors > 1 and args.state != "redis":
        p.error("argument --connectors: several processes share their state: add --state redis")
    if args.state == "redis":
        for name in ("sweep", "push_agents", "push_process", "cprofile", "gc_stats"):
            if getattr(args, name):
                p.error(f"argument --{name.replace('_', '-')}: not with --state redis")
    settings = Settings(
        agents=args.agents,
        rate=args.events_per_second,
        seconds=args.seconds,
        direct=args.direct,
        commands=args.commands,
        burst=args.burst,
        burst_seconds=args.burst_seconds,
        sweep=args.sweep,
        drain=args.drain,
        warmup=args.warmup,
        idle=args.idle,
        concurrency=args.concurrency,
        cprofile=args.cprofile,
        app_procs=args.app_procs,
        gc_stats=args.gc_stats,
        inject=args.inject,
        push_agents=args.push_agents,
        push_rate=args.push_calls_per_second,
        push_process=args.push_process,
        connectors=args.connectors,
        state=args.state,
        forced_logout=args.forced_logout,
    )

    def show(result: dict) -> str:
        if args.chart:
            chart(result, args.chart)
        return json.dumps(result) if args.json else text(result)

    return report(
        "mobagent bench",
        lambda: run_cluster(settings) if settings.state == "redis" else run(settings),
        show,
        failed,
    )


def failed(result: dict[str, Any]) -> bool:
    """Something lost or failed (not a target missed: the figures say that)."""
    push, cluster = result["push"], result["cluster"]
    return bool(
        result["failure_count"]
        or result["lost"]
        or (push and (push["lost"] or push["relay"]["lost"]))
        or (
            cluster
            and (
                cluster["single"]["lost"]
                or cluster["single"]["failure_count"]
                or (cluster["takeover"] and cluster["takeover"]["forced_logouts"])
            )
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
