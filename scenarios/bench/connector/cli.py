"""`mobagent bench`: push latency, loss, memory and CPU of the Generic Connector under load.

    mobagent bench [--agents 2000] [--events-per-second 2000] [--seconds 60] [--json]
                   [--direct 20] [--commands 20] [--burst N --burst-seconds S]
                   [--sweep] [--chart PATH] [--profile PATH] [--gc-stats PATH]

Processes: `mobagent sim --config <generated roster>` pinned to CPU 0, `mobagent connector`
pinned to CPU 1, and the load generator as unpinned child processes (`--app-procs` holding
the app WebSockets, one the direct subscribers, one the driver) that stamp time.monotonic()
(one CLOCK_MONOTONIC for all processes on the machine) and send their timestamps back as
JSON lines; this process merges them. The roster is connector_memory's (N + direct agents).

1. N apps sign in state-only through the connector (POST /api/v1/sessions, 50 at a time) and
   each opens its event WebSocket (aiohttp, TCPConnector(limit=0), compress=0).
   `login_seconds`: all N apps in (first WebSocket message read). Then `direct` watchers
   sign in to the simulator's XMPP with plain slixmpp ClientXMPP (one shared SSLContext) as
   app agents spread over the roster, with a resource of their own: each is auto-subscribed
   to its agent's User node, so it receives the same notifications as the connector's
   session of that agent, without the connector.
2. Events: the driver flips agents READY / NOT_READY (reason code 1) through the
   SIMULATOR's REST API as the agent (PUT /finesse/api/User/{id}, Basic auth,
   application/xml), R per second spread round-robin over the N + direct agents (one PUT in
   flight per agent at a time). Each flip is one User notification, so one `agent.state`
   event at the app (or one pubsub item at the direct client).
3. What `e2e_ms` measures: from the moment this process has read the simulator's 202 to the
   moment the app's reader task got the matching WebSocket message (time.monotonic() in
   the same process). The simulator publishes the notification in the same model input,
   before it writes the 202, so the interval starts no earlier than the publish; it
   excludes the PUT's own REST handling but includes the generator's loop lag. Because the
   202 and the event are read by the same loop, an event can be read before its 202: such
   a negative interval is kept as 0 (counted as `events_before_ack`), so `e2e_ms` is a lower
   bound; `e2e_from_put_ms` (from just before the PUT was sent, REST handling included) is
   the matching upper bound, reported beside it. The k-th flip of an
   agent is matched with its k-th event. `direct_ms` is the same for the direct watchers,
   over the same events; `connector_added_ms` pairs them: for each watched event, the app's
   receipt minus the direct client's (what the connector and its WebSocket add).
4. `command_rtt_ms`: `commands` of the N agents are driven through the connector instead
   (PUT /api/v1/agent/state, 202 with requestId): time from just before the PUT to the
   `agent.state` event carrying that requestId.
5. `lost`: flips whose event had not arrived within `--drain` seconds after the last one.
   Connector RSS (VmRSS) and CPU (utime+stime over the driving phase) from /proc;
   rss_per_agent_kib = (RSS with N agents in - RSS at start-up) / N. Each step also reports
   the simulator's CPU and, for both, the share of the time they were runnable but waiting
   for a core (`*_wait_percent`, schedstat): what the scheduler, not the code, adds.

`--burst N --burst-seconds S` adds a phase of N flips in S seconds after the steady one,
injected through the simulator's bulk state change (POST /sim/v1/agents/state, a batch of
distinct agents every 5 ms, each change exactly what the agent's PUT would do): the
simulator's REST API, on its one core, takes far fewer PUTs a second than a burst needs.
There an event's start is the simulator's own CLOCK_MONOTONIC
stamp just after its notification went out (`e2e_from_put_ms`: from the batch's request).
Connector driven agents sit the burst out.
`--sweep` runs the steady phase at 500, 1000, 2000, 4000, ... (to `--events-per-second`)
on the same signed-in agents and reports the highest rate with p99 <= 25 ms and 0 lost.
`--inject bulk` makes the steady phases' events the burst's way (below), for rates beyond
the simulator's REST API.
`--chart PATH` writes a PNG of latency against load. `--profile PATH` runs the connector
under cProfile and writes the stats (pstats) to PATH when it stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from scenarios.bench.connector.chart import chart
from scenarios.bench.connector.run import run
from scenarios.bench.connector.settings import APP_PROCS, CONCURRENCY, DRAIN, Settings
from scenarios.bench.procs import report
from scenarios.bench.roster import MAX_AGENTS


def text(r: dict[str, Any]) -> str:
    lines = [
        f"agents {r['agents']}, {r['events_per_second']:g} events/s for {r['seconds']:g}s "
        f"(achieved {r['achieved_per_second']}/s)",
        f"events sent {r['events_sent']}, received {r['events_received']}, lost {r['lost']}",
        f"e2e ms {r['e2e_ms']}",
        f"direct ms {r['direct_ms']}",
        f"from before the PUT (upper bound, includes REST): e2e {r['e2e_from_put_ms']}, "
        f"direct {r['direct_from_put_ms']}; events read before their 202: "
        f"{r['events_before_ack']}",
        f"command rtt ms {r['command_rtt_ms']}",
        f"login {r['login_seconds']}s; connector RSS {r['connector_rss_mib']} MiB, "
        f"{r['rss_per_agent_kib']} KiB per agent; CPU {r['connector_cpu_percent']}%",
    ]
    if r["burst"]:
        b = r["burst"]
        lines.append(f"burst {b['events']} in {b['seconds']}s: lost {b['lost']}, e2e {b['e2e_ms']}")
    if r["sweep"]:
        lines.append(f"sweep: highest rate meeting p99 <= 25 ms, 0 lost: {r['sweep']}")
    lines.append(f"meets: {r['meets']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(
        prog="mobagent bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--events-per-second", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--direct", type=int, default=20, help="plain slixmpp subscribers")
    p.add_argument(
        "--commands",
        type=int,
        default=None,
        help="agents driven through the connector (default: 1 %% of --agents, 1..20)",
    )
    p.add_argument("--burst", type=int, default=0, help="events in a burst after the run")
    p.add_argument("--burst-seconds", type=float, default=2.0)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--chart", help="write a PNG of latency against load")
    p.add_argument("--drain", type=float, default=DRAIN, help="seconds to wait for stragglers")
    p.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="sign-ins in flight at a time"
    )
    p.add_argument("--profile", help="run the connector under cProfile, stats to this path")
    p.add_argument(
        "--app-procs", type=int, default=APP_PROCS, help="processes holding the app WebSockets"
    )
    p.add_argument(
        "--inject",
        choices=["rest", "bulk"],
        default="rest",
        help="steady phases' events: agents' REST PUTs (default) or the simulator's bulk "
        "state change (rates beyond what its REST API takes on one core)",
    )
    p.add_argument("--gc-stats", help="record the connector's GC pauses (JSON) to this path")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(args_in)
    if not 1 <= args.agents <= MAX_AGENTS:
        p.error(f"--agents must be between 1 and {MAX_AGENTS}")
    if args.commands is None:
        args.commands = min(20, max(1, args.agents // 100))
    if not 0 <= args.commands < args.agents:
        p.error("--commands must be below --agents")
    if not 0 <= args.direct <= args.agents - args.commands:
        p.error("--direct watchers are app agents: at most --agents minus --commands")
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
        concurrency=max(1, args.concurrency),
        profile=args.profile,
        app_procs=max(1, args.app_procs),
        gc_stats=args.gc_stats,
        inject=args.inject,
    )

    def show(result: dict) -> str:
        if args.chart:
            chart(result, args.chart)
        return json.dumps(result) if args.json else text(result)

    return report(
        "mobagent bench",
        lambda: run(settings),
        show,
        lambda result: bool(result["failure_count"] or result["lost"]),
    )


if __name__ == "__main__":
    raise SystemExit(main())
