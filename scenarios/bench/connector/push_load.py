"""The push load of `mobagent bench --push-agents P`: P agents whose app is in the
background, woken by Web Push, in a process of their own with the simulated push service.

The agents are the roster's second queue (DN 8001): each signs in (state only, on its
extension), subscribes to push at the simulated push service, goes READY, then tells the
connector it is in the background and closes its WebSocket. Customers then call DN 8001 at
a steady rate; each call rings a READY agent, whose push is decrypted by the push service
(the latency: the frame's `ts`, stamped by the connector as the event came in, to the
decryption, on this machine's one clock), and the call is hung up once its push arrived,
so that the agent is free again. A call whose push has not come `drain` seconds after the
last call was placed counts as lost, unless it is still waiting in the queue then (no
agent was free: it never rang, so nothing was to be pushed; `not_routed`).

Same line protocol as `workers`: one JSON spec, then one command a line (login, calls,
close), one JSON reply a line.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import aiohttp

from mobagent import event_loop
from mobile_sim.app import AppClient
from mobile_sim.push_service import PushMessage, SimPushService
from mobile_sim.sim_control import SimControl
from scenarios.bench.roster import PASSWORD, agent_id, extension

PUSH_DN = "8001"


class PushLoad:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.api = spec["api"]
        self.sim_url = spec["sim"]
        self.indexes = range(spec["first"], spec["first"] + spec["count"])
        self.service = SimPushService(port=spec["port"])
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
        )
        self.sim = SimControl(self.sim_url, http=self.http)
        self.apps: list[AppClient] = []
        self.pushed: dict[str, asyncio.Future[float]] = {}  # dialog id -> latency (s)
        self.early: dict[str, float] = {}  # pushes that came before their call's id
        self.failures: list[str] = []

    def on_push(self, message: PushMessage) -> None:
        frame = message.payload
        if frame.get("type") != "dialog.created":
            return
        latency = message.received - frame["ts"]
        waiter = self.pushed.get(frame["data"]["id"])
        if waiter is None:
            self.early[frame["data"]["id"]] = latency
        elif not waiter.done():
            waiter.set_result(latency)

    async def login(self, concurrency: int) -> float:
        await self.service.start()
        gate = asyncio.Semaphore(concurrency)
        t0 = time.monotonic()

        async def one(index: int) -> None:
            async with gate:
                app = AppClient(self.api, http=self.http)
                app.wake_on_push = False  # the benchmark's phones stay in the background
                await app.login(agent_id(index), PASSWORD, extension(index), listen=True)
                subscription = self.service.subscribe(
                    (await app.request("GET", "/push/vapid-public-key"))["publicKey"],
                    self.on_push,
                )
                await app.request("POST", "/push-subscriptions", subscription.to_json())
                await app.ready()
                await app.wait_for_state("READY", timeout=30)
                await app.background()
                self.apps.append(app)

        await asyncio.gather(*(one(i) for i in self.indexes))
        return time.monotonic() - t0

    async def calls(self, rate: float, seconds: float, drain: float) -> dict[str, Any]:
        """Calls to DN 8001 at `rate` a second for `seconds`; each hung up once pushed."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        count = int(rate * seconds)
        deadline = start + seconds + drain
        tasks = []
        for k in range(count):
            await asyncio.sleep(max(0.0, start + k / rate - loop.time()))  # the call's time
            tasks.append(asyncio.ensure_future(self._one_call(k, deadline)))
        results = await asyncio.gather(*tasks)
        latencies = [latency for _, latency in results if latency is not None]
        unpushed = [call_id for call_id, latency in results if call_id and latency is None]
        queued = 0
        if unpushed:
            queues = await self.sim.queues()
            queued = sum(q["callsInQueue"] for q in queues if q.get("dn") == PUSH_DN)
            for call_id in unpushed:
                await self._hang_up(call_id)
        return {
            "placed": count,
            "pushed": len(latencies),
            "not_routed": queued,
            "lost": len(unpushed) - queued,
            "latencies": latencies,
            "service": dict(self.service.stats),
        }

    async def _one_call(self, k: int, deadline: float) -> tuple[str, float | None]:
        """The call's id and its push's latency (None: no push by the deadline)."""
        try:
            call_id = await self.sim.place_call(PUSH_DN, f"+1212{k:07d}", {"callVariable1": str(k)})
        except Exception as exc:
            self.failures.append(f"call {k}: {exc!r}")
            return "", None
        waiter = asyncio.get_running_loop().create_future()
        if call_id in self.early:
            waiter.set_result(self.early.pop(call_id))
        self.pushed[call_id] = waiter
        try:
            async with asyncio.timeout_at(deadline):
                latency = await waiter
        except TimeoutError:
            return call_id, None
        finally:
            del self.pushed[call_id]
        await self._hang_up(call_id)
        return call_id, latency

    async def _hang_up(self, call_id: str) -> None:
        try:
            await self.sim.hang_up_call(call_id)
        except Exception as exc:
            self.failures.append(f"hang up {call_id}: {exc!r}")

    async def close(self) -> None:
        for app in self.apps:
            await app.close()
        await self.service.stop()
        await self.http.close()


async def serve(spec: dict[str, Any]) -> None:
    load = PushLoad(spec)
    loop = asyncio.get_running_loop()

    def reply(out: dict[str, Any]) -> None:
        out["failures"], load.failures = load.failures, []
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()

    reply({"ready": True})
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            msg = json.loads(line)
            if msg["cmd"] == "close":
                break
            if msg["cmd"] == "login":
                reply({"login_seconds": await load.login(msg["concurrency"])})
            elif msg["cmd"] == "calls":
                reply(await load.calls(msg["rate"], msg["seconds"], msg["drain"]))
    finally:
        await load.close()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us through "close"
    spec = json.loads(sys.stdin.readline())
    event_loop.run(serve(spec))  # uvloop where installed: less of the machine for the load
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
