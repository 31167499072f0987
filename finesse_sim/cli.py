"""`mobagent sim`: run the simulated Cisco Finesse until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from finesse_sim.clock import MAX_SPEED
from finesse_sim.config import DEFAULT_PASSWORD, ConfigError, load_config
from finesse_sim.runtime import Listen, Simulator
from finesse_sim.traffic import ProfileError, TrafficProfile, load_profile
from mobagent import args as cli_args
from mobagent import event_loop


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent sim",
        description="Simulated Cisco Finesse: REST API, XMPP notifications, control API.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--rest-port", type=cli_args.port, default=8445, help="REST port; 0 picks a free one"
    )
    p.add_argument(
        "--xmpp-port", type=cli_args.port, default=5222, help="XMPP c2s port; 0 picks one"
    )
    p.add_argument(
        "--xmpp-tls-port", type=cli_args.port, default=None, help="direct-TLS XMPP port (--tls)"
    )
    p.add_argument(
        "--tls", action="store_true", help="STARTTLS (required) with a self-signed certificate"
    )
    p.add_argument(
        "--allow-plaintext-auth",
        action="store_true",
        help="with --tls, accept SASL PLAIN before STARTTLS too (Finesse before 12.5)",
    )
    p.add_argument(
        "--secondary-rest-port", type=cli_args.port, default=None, help="side B REST port"
    )
    p.add_argument(
        "--secondary-xmpp-port", type=cli_args.port, default=None, help="side B XMPP port"
    )
    p.add_argument(
        "--secondary-host", default=None, help="side B address (e.g. 127.0.0.2; default --host)"
    )
    p.add_argument(
        "--config",
        type=cli_args.existing_file,
        default=None,
        help="roster TOML file (default: built-in roster)",
    )
    p.add_argument(
        "--speed",
        type=speed,
        default=1.0,
        help=f"model seconds per wall second, above 0 and at most {MAX_SPEED:g} (default 1)",
    )
    p.add_argument(
        "--traffic",
        default=None,
        metavar="PROFILE",
        help="customers call by this traffic profile: a shipped name (quiet_hour, "
        "busy_monday, burst) or a TOML file",
    )
    p.add_argument(
        "--event-loop",
        choices=event_loop.CHOICES,
        default="auto",
        help="uvloop (the default where installed: less CPU for the same traffic, which on "
        "a benchmark machine is left to what is measured) or asyncio's own",
    )
    p.add_argument("--json", action="store_true", help="print the listening line as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return p


def speed(text: str) -> float:
    value = cli_args.positive_float(text)
    if value > MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text}: at most {MAX_SPEED:g}")
    return value


def describe(sim: Simulator) -> dict:
    sides = {
        s.name: {
            "rest": f"http://{s.host}:{s.rest_port}/finesse/api",
            "xmpp": f"{s.host}:{s.xmpp_port}",
            "xmppTls": f"{s.host}:{s.xmpp_tls_port}" if s.xmpp_tls_port else None,
            "xmppDomain": s.domain,
        }
        for s in sim.sides
    }
    a = sim.config.agents[0]
    return {
        "event": "listening",
        "sides": sides,
        "control": f"http://{sim.listen.host}:{sim.sides[0].rest_port}/sim/v1",
        "caFile": sim.ca_file,
        "deployment": sim.config.deployment,
        "speed": sim.clock.speed,
        "agents": [x.id for x in sim.config.agents],
        "example": {"agent": a.id, "password": a.password, "extension": a.extension},
        "traffic": sim.traffic.profile.name if sim.traffic else None,
        "eventLoop": event_loop.running(),
    }


def print_banner(info: dict) -> None:
    print("Simulated Cisco Finesse is running.")
    for name, side in info["sides"].items():
        print(
            f"  side {name}: REST {side['rest']}  XMPP {side['xmpp']} (domain {side['xmppDomain']})"
        )
        if side["xmppTls"]:
            print(f"          XMPP over TLS {side['xmppTls']}  CA file {info['caFile']}")
    print(f"  control API: {info['control']}")
    ex = info["example"]
    print(
        f"  agents {info['agents'][0]}-{info['agents'][-1]}, password "
        f"{DEFAULT_PASSWORD!r} in the default roster; e.g. agent {ex['agent']} on extension "
        f"{ex['extension']}"
    )
    if info["traffic"]:
        print(f"  traffic: profile {info['traffic']!r}; counters at {info['control']}/traffic")
    print(f"  deployment {info['deployment']}, clock speed x{info['speed']:g}. Ctrl-C stops.")
    sys.stdout.flush()


async def serve(args: argparse.Namespace, profile: TrafficProfile | None = None) -> int:
    config = load_config(args.config)
    if args.allow_plaintext_auth:
        config.allow_plaintext_auth = True  # the flag beats the roster's setting
    listen = Listen(
        host=args.host,
        rest_port=args.rest_port,
        xmpp_port=args.xmpp_port,
        xmpp_tls_port=args.xmpp_tls_port,
        secondary_rest_port=args.secondary_rest_port,
        secondary_xmpp_port=args.secondary_xmpp_port,
        secondary_host=args.secondary_host,
        tls=args.tls,
    )
    sim = Simulator(config, listen, speed=args.speed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
    except OSError as exc:
        print(f"mobagent sim: cannot listen: {exc}", file=sys.stderr)
        await sim.stop()
        return 1
    if profile is not None:
        try:
            sim.start_traffic(profile)
        except ProfileError as exc:  # a DN that is not a queue of the roster
            print(f"mobagent sim: {exc}", file=sys.stderr)
            await sim.stop()
            return 2
    info = describe(sim)
    if args.json:
        print(json.dumps(info), flush=True)
    else:
        print_banner(info)
    await stop.wait()
    await sim.stop()
    print("Simulator stopped.", flush=True)
    return 0


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        profile = load_profile(args.traffic) if args.traffic else None
    except ProfileError as exc:
        print(f"mobagent sim: --traffic: {exc}", file=sys.stderr)
        return 2
    try:
        return event_loop.run(serve(args, profile), args.event_loop)
    except (ConfigError, event_loop.EventLoopError) as exc:
        print(f"mobagent sim: {exc}", file=sys.stderr)
        return 2
