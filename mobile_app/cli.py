"""`mobagent app`: the Mobile App Server, until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import web

from mobagent import args as cli_args
from mobile_app.server import make_app


def parser() -> argparse.ArgumentParser:
    p = cli_args.ArgumentParser(
        prog="mobagent app",
        description="Mobile App Server: hosts the agent's web app and forwards /api/ to the "
        "Generic Connector, so the app is same-origin without a reverse proxy.",
    )
    p.add_argument(
        "--connector",
        type=cli_args.url,
        default="http://127.0.0.1:8080",
        help="the connector's base URL (default http://127.0.0.1:8080)",
    )
    p.add_argument(
        "--listen",
        type=cli_args.host_port,
        default=("127.0.0.1", 8090),
        help="HOST:PORT to serve the app on (default 127.0.0.1:8090)",
    )
    p.add_argument("--json", action="store_true", help="print the listening line as JSON")
    return p


async def serve(connector: str, host: str, port: int, as_json: bool) -> int:
    runner = web.AppRunner(make_app(connector), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    url = f"http://{host}:{bound}/"
    if as_json:
        print(json.dumps({"app": url, "connector": connector}), flush=True)
    else:
        print(f"mobile app server: {url} (API forwarded to {connector})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    ns = parser().parse_args(argv)
    host, port = ns.listen
    return asyncio.run(serve(ns.connector, host, port, ns.json))
