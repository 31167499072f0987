"""`mobagent agents`: a swarm of simulated mobile agents works a shift against a connector.

Progress goes to the terminal every second (one refreshing line), or every 5 s as a plain
line when the output is not a terminal; with `--json` it goes to stderr and stdout gets only
the summary as one JSON object. SIGINT/SIGTERM end the shift early, cleanly (a second signal
abandons the sign-out). Exit 0 if every agent logged out and nothing unexpected happened,
1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import sys
from typing import Any, TextIO

from mobagent import args as cli_args
from mobile_sim import personas
from mobile_sim.swarm import Swarm, SwarmConfig

MODES = ("CALL_BY_CALL", "NAILED_CONNECTION", "DESK", "MIXED")
# Progress: redrawn every second on a terminal; a plain line every 5 s otherwise (a log or a
# pipe would fill up). `mobagent demo`'s dashboard keeps the same pace.
TTY_EVERY = 1.0
PLAIN_EVERY = 5.0


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent agents",
        description="Simulated mobile agents work a shift through the Generic Connector, "
        "with customers calling the simulated Finesse's queue.",
    )
    p.add_argument(
        "--connector",
        metavar="URL",
        type=cli_args.url,
        default="http://127.0.0.1:8080",
        help="mobile API base URL (default http://127.0.0.1:8080)",
    )
    p.add_argument(
        "--sim",
        metavar="URL",
        type=cli_args.url,
        default="http://127.0.0.1:8445",
        help="simulator base URL (default http://127.0.0.1:8445)",
    )
    p.add_argument(
        "--count", metavar="N", type=cli_args.positive_int, default=3, help="agents (default 3)"
    )
    p.add_argument(
        "--persona",
        metavar="NAME",
        default="steady",
        help=f"{', '.join(sorted(personas.PERSONAS))}, a comma list (handed out in turn), "
        "or 'mixed' (default steady)",
    )
    p.add_argument(
        "--mode", default="CALL_BY_CALL", choices=MODES, help="how agents sign in (MIXED: in turn)"
    )
    p.add_argument(
        "--duration",
        metavar="S",
        type=cli_args.positive_float,
        default=60.0,
        help="wall seconds (default 60)",
    )
    p.add_argument(
        "--seed", metavar="N", type=int, default=1, help="repeatable behaviour (default 1)"
    )
    p.add_argument(
        "--first-agent",
        metavar="ID",
        type=cli_args.positive_int,
        default=1001,
        help="first agent id (default 1001)",
    )
    p.add_argument(
        "--first-extension", metavar="EXT", default="", help="default: first agent + 4000"
    )
    p.add_argument(
        "--first-dial-number", metavar="NUMBER", default="", help="default: +15551230001 for 1001"
    )
    p.add_argument("--password", metavar="P", default="password", help="(default password)")
    p.add_argument("--queue", metavar="DN", default="8000", help="DN customers dial (default 8000)")
    p.add_argument(
        "--calls-per-minute",
        metavar="R",
        type=cli_args.non_negative_float,
        help="customers' calls per minute of shift time (default 1 per agent; 0: none)",
    )
    p.add_argument(
        "--abandon-after",
        metavar="S",
        type=cli_args.positive_float,
        default=180.0,
        help="shift seconds a queued customer waits before hanging up (default 180)",
    )
    p.add_argument(
        "--time-scale",
        metavar="F",
        type=cli_args.positive_float,
        default=1.0,
        help="wall seconds per shift second for persona times and the call rate "
        "(0.05 runs a shift 20 times faster; default 1)",
    )
    p.add_argument(
        "--sim-speed",
        metavar="X",
        type=cli_args.positive_float,
        help="set the simulator's clock speed for the run (default: leave it)",
    )
    p.add_argument(
        "--timeout",
        metavar="S",
        type=cli_args.positive_float,
        default=5.0,
        help="seconds to wait for an expected event (default 5)",
    )
    p.add_argument(
        "--shutdown-timeout",
        metavar="S",
        type=cli_args.positive_float,
        default=20.0,
        help="seconds each agent has to sign out at the end (default 20)",
    )
    p.add_argument(
        "--push",
        action="store_true",
        help="run the simulated push service: the apps subscribe, and personas that leave "
        "the app in the background rely on push (run the connector with --push-allow "
        "http://127.0.0.1:PORT)",
    )
    p.add_argument(
        "--push-port",
        metavar="PORT",
        type=cli_args.port,
        default=8089,
        help="the simulated push service's loopback port (default 8089)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="log every action")
    return p


def config_of(args: argparse.Namespace) -> SwarmConfig:
    """The swarm's configuration; ValueError/KeyError for bad arguments."""
    return SwarmConfig(
        connector=args.connector,
        sim=args.sim,
        count=args.count,
        personas=personas.resolve(args.persona),
        mode=args.mode,
        duration=args.duration,
        seed=args.seed,
        first_agent=args.first_agent,
        first_extension=args.first_extension,
        first_dial_number=args.first_dial_number,
        password=args.password,
        queue=args.queue,
        calls_per_minute=args.calls_per_minute,
        abandon_after=args.abandon_after,
        time_scale=args.time_scale,
        sim_speed=args.sim_speed,
        timeout=args.timeout,
        shutdown_timeout=args.shutdown_timeout,
        push=args.push,
        push_port=args.push_port,
    )


class Progress:
    """One refreshing line on a terminal (every second), a plain line every 5 s otherwise."""

    def __init__(self, swarm: Swarm, stream: TextIO) -> None:
        self.swarm = swarm
        self.stream = stream
        self.tty = stream.isatty()
        self.every = TTY_EVERY if self.tty else PLAIN_EVERY
        self._width = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every)  # the display's refresh period
            self.show()

    def show(self) -> None:
        line = self.swarm.progress_line()
        if self.tty:  # one line that fits, or "\r" cannot rewrite it
            line = line[: shutil.get_terminal_size().columns - 1]
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def describe(summary: dict[str, Any]) -> str:
    """The summary for people."""
    run, agents, calls, totals = (
        summary["run"],
        summary["agents"],
        summary["calls"],
        summary["totals"],
    )
    lines = [
        f"Shift over: {agents['count']} agents "
        f"({', '.join(f'{n} {p}' for p, n in agents['personas'].items())}; "
        f"{', '.join(f'{n} {m}' for m, n in agents['modes'].items())}), "
        f"{run['wallSeconds']:g} s ({run['shiftSeconds']:g} s of shift time), seed {run['seed']}",
        f"  calls: offered {calls['offered']}, answered {calls['answered']}, abandoned "
        f"{calls['abandoned']}, hung up at the end {calls['hungUpAtEnd']}",
        f"  on calls: {totals['holds']} holds, {totals['consults']} consults "
        f"({totals['consultsUnanswered']} unanswered), {totals['transfers']} transfers, "
        f"{totals['conferences']} conferences, {totals['blindTransfers']} blind transfers, "
        f"{totals['customerHangups']} customers hung up, {totals['missed']} missed, "
        f"{totals['ringNoAnswer']} ring-no-answer",
        f"  agents: {totals['wrapUps']} wrap-ups, {totals['breaks']} breaks, "
        f"{totals['mistaps']} mis-taps, app backgrounded {totals['backgrounded']} times, "
        f"{totals['resumes']} stream resumes, {totals['resyncs']} resyncs",
        *(
            [
                f"  push ({summary['push']['origin']}): {totals['leftForPush']} times left in "
                f"the background, {totals['pushWakes']} woken by a push; the push service: "
                f"{_counts(summary['push']['counts'])}"
            ]
            if summary.get("push")
            else []
        ),
        f"  expected refusals: {_counts(totals['expectedRefusals'])}",
        f"  races (refusals the app's view explained): {_counts(totals['races'])}",
        f"  unexpected errors: {_counts(summary['errors'])}",
        f"  logged out: {agents['loggedOut']} of {agents['count']}"
        + (f"; still in: {', '.join(agents['notLoggedOut'])}" if agents["notLoggedOut"] else "")
        + (f"; never in: {', '.join(agents['neverSignedIn'])}" if agents["neverSignedIn"] else ""),
        "OK" if summary["ok"] else "NOT OK",
    ]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} x{v}" for k, v in counts.items()) or "none"


async def run(config: SwarmConfig, *, as_json: bool) -> int:
    swarm = Swarm(config)
    progress = Progress(swarm, sys.stderr if as_json else sys.stdout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    work = asyncio.ensure_future(swarm.run(stop))

    def on_signal() -> None:
        if stop.is_set():
            work.cancel()  # a second signal: do not wait for the sign-out
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    shower = asyncio.ensure_future(progress.run())
    try:
        summary = await work
    except asyncio.CancelledError:
        summary = swarm.summary()
        summary["ok"] = False
        summary["errors"]["interrupted during sign-out"] = 1
    finally:
        shower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await shower
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    progress.show()
    progress.close()
    if as_json:
        print(json.dumps(summary), flush=True)
    else:
        print(describe(summary), flush=True)
    return 0 if summary["ok"] else 1


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.verbose:
        logging.getLogger("mobile_sim").setLevel(logging.DEBUG)
    try:
        config = config_of(args)
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"mobagent agents: {message}", file=sys.stderr)
        return 2
    return asyncio.run(run(config, as_json=args.json))
