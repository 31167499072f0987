"""`mobagent lab`: the lab to try the agent's app by hand, until Ctrl-C.

The simulated Finesse with live traffic, the Generic Connector and the Mobile App Server,
each its own process on loopback. Open the printed URL, sign in as one of the printed
agents, go Ready: customers' calls arrive by the traffic profile, and the agent's phone is
simulated: it picks up by itself after --answer-after seconds (or when told to, through the
simulator's control API, with --answer-after 0).
The default ports are those deploy/nginx/mobagent.conf forwards to (app 8090, API 8080),
so the reverse proxy in front of the lab needs no change but its certificate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

from finesse_sim.cli import speed as sim_speed
from mobagent import args as cli_args
from mobile_sim.app import AppError, WaitTimeout
from mobile_sim.sim_control import SimControl
from scenarios.bench.procs import BenchError, running
from scenarios.demo.run import traffic_profile
from scenarios.stack.connector_lab import PASSWORD, default_dial_number, default_extension

PY = sys.executable
AGENTS = [str(1001 + n) for n in range(10)]  # the simulator's default roster


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(prog="mobagent lab", description=__doc__)
    p.add_argument(
        "--app-port", type=cli_args.port, default=8090, help="the app's port (default 8090)"
    )
    p.add_argument(
        "--connector-port",
        type=cli_args.port,
        default=8080,
        help="the connector's port (default 8080)",
    )
    p.add_argument(
        "--profile",
        type=traffic_profile,
        default="quiet_hour",
        help="traffic profile (default quiet_hour: a call every few minutes per agent)",
    )
    p.add_argument("--speed", type=sim_speed, default=1.0, help="simulator clock speed (1)")
    p.add_argument(
        "--duration",
        type=cli_args.positive_float,
        help="stop after this many seconds (default: at Ctrl-C)",
    )
    p.add_argument(
        "--answer-after",
        type=cli_args.non_negative_float,
        default=3.0,
        help="the agents' simulated phones pick up a ringing call after this many seconds; "
        "0: only when told through the control API (default 3)",
    )
    p.add_argument("--json", action="store_true", help="print the URLs and agents as JSON")
    return p


def sign_in_table() -> list[dict[str, str]]:
    return [
        {
            "agentId": agent,
            "password": PASSWORD,
            "extension": default_extension(agent),
            "dialNumber": default_dial_number(agent),
        }
        for agent in AGENTS
    ]


def show(info: dict[str, Any]) -> str:
    lines = [
        f"The agent's app: {info['app']}",
        f"  mobile API {info['api']}, simulator control {info['sim']}",
        "  sign in as any of (password 'password'):",
    ]
    lines += [
        f"    agent {a['agentId']}  extension {a['extension']}  dial number {a['dialNumber']}"
        for a in info["agents"]
    ]
    lines += [
        "  the agents' phones pick up by themselves; or answer one with:",
        f"    curl -X POST {info['sim']}/sim/v1/phones/<dial number>/answer",
        "Ctrl-C stops the lab.",
    ]
    return "\n".join(lines)


async def pick_up(sim: SimControl, number: str, after: float) -> None:
    """The agent's hand on its simulated phone: every ring is answered `after` seconds on."""
    phone = await sim.phone(number).open()
    try:
        while True:
            try:
                await phone.wait_for("ring", timeout=3600)
            except WaitTimeout:
                continue
            await asyncio.sleep(after)  # the human delay being simulated, not a wait
            with contextlib.suppress(AppError):
                await phone.answer()
    finally:
        await phone.close()


async def until_stopped(sim_url: str, duration: float | None, answer_after: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = SimControl(sim_url + "/sim/v1")
    hands = [
        asyncio.ensure_future(pick_up(sim, number, answer_after))
        for agent in AGENTS
        for number in (default_dial_number(agent), default_extension(agent))
        if answer_after > 0
    ]
    try:
        await asyncio.wait_for(stop.wait(), duration)
    except TimeoutError:
        pass
    finally:
        for hand in hands:
            hand.cancel()
        await asyncio.gather(*hands, return_exceptions=True)
        await sim.close()


def lab(args: argparse.Namespace) -> int:
    sim_cmd = [PY, "-m", "mobagent", "sim", "--rest-port", "0", "--xmpp-port", "0", "--json"]
    sim_cmd += ["--speed", str(args.speed), "--traffic", args.profile]
    with running(sim_cmd, name="simulator", cpus=None) as (_, sim):
        finesse = sim["sides"]["A"]["rest"].removesuffix("/finesse/api")
        conn_cmd = [PY, "-m", "mobagent", "connector", "--finesse", finesse, "--json"]
        conn_cmd += ["--listen", f"127.0.0.1:{args.connector_port}", "--signin-rate", "0"]
        with running(conn_cmd, name="connector", cpus=None) as (_, conn):
            api = conn["api"].removesuffix("/api/v1")
            app_cmd = [PY, "-m", "mobagent", "app", "--connector", api, "--json"]
            app_cmd += ["--listen", f"127.0.0.1:{args.app_port}"]
            with running(app_cmd, name="app server", cpus=None) as (_, app):
                info = {
                    "app": app["app"],
                    "api": conn["api"],
                    "sim": sim["control"].removesuffix("/sim/v1"),
                    "agents": sign_in_table(),
                }
                print(json.dumps(info) if args.json else show(info), flush=True)
                asyncio.run(until_stopped(info["sim"], args.duration, args.answer_after))
    print("Lab stopped.", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return lab(args)
    except BenchError as exc:
        print(f"mobagent lab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
