"""`mobagent connector`: run the Generic Connector until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from aiohttp import web

from connector.config import ConfigError, ConnectorConfig, load
from mobagent import args as cli_args
from mobagent import event_loop


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent connector",
        description="Generic Connector: Cisco Finesse to a mobile app. Every option can also "
        "be set as MOBAGENT_CONNECTOR_<OPTION> in the environment or in a TOML --config file.",
    )
    p.add_argument(
        "--finesse",
        type=cli_args.url,
        help=f"primary Finesse base URL (default {ConnectorConfig.finesse})",
    )
    p.add_argument(
        "--finesse-secondary", type=cli_args.url, help="secondary Finesse base URL, for failover"
    )
    p.add_argument("--xmpp-host", help="notification service host (default: Finesse's host)")
    p.add_argument(
        "--xmpp-port", type=cli_args.port, help="notification service port (default: SystemInfo)"
    )
    p.add_argument("--xmpp-domain", help="XMPP domain (default: SystemInfo xmppDomain)")
    p.add_argument("--xmpp-tls", choices=["plain", "starttls", "direct"], help="XMPP transport")
    p.add_argument(
        "--ca-file",
        type=cli_args.existing_file,
        help="CA certificates for Finesse's TLS certificates",
    )
    p.add_argument(
        "--no-verify",
        dest="verify_tls",
        action="store_const",
        const=False,
        help="do not verify Finesse's certificates (lab use only)",
    )
    p.add_argument("--listen", help="HOST:PORT of the mobile API (default 127.0.0.1:8080)")
    p.add_argument(
        "--max-sessions", type=cli_args.positive_int, help="most agents at once (default 5000)"
    )
    p.add_argument(
        "--signin-rate",
        type=cli_args.non_negative_float,
        help=f"sign-ins per second per client address, 0 for no limit "
        f"(default {ConnectorConfig.signin_rate}, burst {ConnectorConfig.signin_burst})",
    )
    p.add_argument(
        "--trusted-proxies",
        help="comma-separated addresses of reverse proxies whose X-Forwarded-For names the client",
    )
    p.add_argument(
        "--state-dir",
        help="where the connector keeps its VAPID key pair (default $XDG_STATE_HOME/mobagent)",
    )
    p.add_argument(
        "--push-allow",
        action="append",
        metavar="ORIGIN",
        help="a push service origin to send to besides the major browsers' (repeatable; "
        "plain http only for loopback, e.g. the simulated push service)",
    )
    p.add_argument(
        "--push-process",
        action="store_true",
        default=None,
        help="send pushes from a process of its own: their encryption and HTTP off the "
        "relay's event loop, on another core",
    )
    p.add_argument(
        "--state",
        help="where sessions, tokens and event streams live: memory (default) or "
        "redis://HOST:PORT/DB, shared by several connectors and surviving a restart "
        "(needs MOBAGENT_CONNECTOR_STATE_KEY)",
    )
    p.add_argument(
        "--generate-state-key",
        action="store_true",
        help="print a new key for MOBAGENT_CONNECTOR_STATE_KEY and exit",
    )
    p.add_argument(
        "--config", type=cli_args.existing_file, help="TOML file with a [connector] table"
    )
    p.add_argument(
        "--app",
        action="store_true",
        help="also serve the agent's web app at / (the app and the connector on one machine)",
    )
    p.add_argument(
        "--event-loop",
        choices=event_loop.CHOICES,
        help="uvloop (the default where installed: less CPU per sign-in) or asyncio's own",
    )
    p.add_argument("--json", action="store_true", help="print the listening line as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    return p


async def serve(config: ConnectorConfig, as_json: bool, with_app: bool = False) -> int:
    from connector.api.app import make_app
    from connector.api.server import ApiRunner
    from connector.push.vapid import KeyFileError

    try:
        connector = config_connector(config)
    except (OSError, KeyFileError) as exc:  # the VAPID key pair: read or made at start
        where = "vapid_private_key" if config.vapid_private_key else "--state-dir"
        print(f"mobagent connector: {where}: {exc}", file=sys.stderr)
        return 2
    app = make_app(connector)
    if with_app:
        # The Mobile App Server's files on the connector's own port: same origin, no proxy.
        from mobile_app import files

        files.add_routes(app)
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.listen_host, config.listen_port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        print(f"mobagent connector: cannot listen on {config.listen}: {exc}", file=sys.stderr)
        await runner.cleanup()
        return 1
    server = site._server  # the bound port when --listen asked for port 0
    port = server.sockets[0].getsockname()[1] if server and server.sockets else config.listen_port
    info = {
        "event": "listening",
        "api": f"http://{config.listen_host}:{port}/api/v1",
        "app": f"http://{config.listen_host}:{port}/" if with_app else None,
        "finesse": config.finesse,
        "finesseSecondary": config.finesse_secondary or None,
        "eventLoop": event_loop.running(),
    }
    if as_json:
        print(json.dumps(info), flush=True)
    else:
        print(f"Generic Connector is running: mobile API {info['api']}", flush=True)
        if with_app:
            print(f"  the agent's app: {info['app']}", flush=True)
        print(
            f"  Finesse {config.finesse}"
            + (f", secondary {config.finesse_secondary}" if config.finesse_secondary else ""),
            flush=True,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    print("Connector stopped.", flush=True)
    return 0


def config_connector(config: ConnectorConfig):
    from connector.runtime import Connector

    return Connector(config)


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.generate_state_key:
        from connector.store.sealing import generate_key

        print(generate_key())
        return 0
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cli_only = ("config", "json", "verbose", "app", "generate_state_key")
    overrides = {k: v for k, v in vars(args).items() if k not in cli_only}
    try:
        config = load(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"mobagent connector: {exc}", file=sys.stderr)
        return 2
    return event_loop.run(serve(config, args.json, args.app), config.event_loop)
