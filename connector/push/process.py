"""The push sender in a process of its own (`push_process`): the pushes' encryption and
HTTP off the relay's event loop, on another core.

A push costs the connector about 0.65 ms of CPU on its event loop (docs/benchmarks.md,
Push), and a WebSocket event that comes in meanwhile waits behind it. `PushProcess` hands
each push to a child process (`python -m connector.push.process`) that runs `PushSender`
on its own loop, and gets its `Delivery` back: the notifier counts it and acts on it as it
does for a push sent in-process. The hand-over is one JSON line each way on the child's
stdin and stdout; the VAPID private key goes to it the same way (never on the command line
nor in the environment).

A child that dies is started again at once (after a backoff when it dies young), and the
pushes it had not answered are given to the new one: none is lost, a few may reach a phone
twice (a push's Topic replaces the unread one). A push that was under way through two
such deaths ends as `crashed`, so one message that kills the child cannot keep killing it.
The child ends when its stdin closes: when the connector stops, or dies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import signal
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from connector.push.delivery import Delivery, DeliverySettings, PushSender
from connector.push.message import PushMessage
from connector.push.metrics import PushMetrics
from connector.push.subscriptions import Subscription
from connector.push.vapid import VapidKeys
from mobagent import event_loop

log = logging.getLogger("connector.push")
LINE_LIMIT = 256 * 1024  # a request: the 3,000-byte payload and the endpoint, escaped
CRASHES_PER_PUSH = 2  # deaths of the child a push may live through before it is given up
YOUNG = 5.0  # s: a child that dies sooner is started again after a backoff
ANSWER_GRACE = 10.0  # s past a push's TTL and last attempt before it is given up unanswered


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_request(
    number: int, subscription: Subscription, message: PushMessage, started: float
) -> bytes:
    return _line(
        {
            "n": number,
            "started": started,
            "subscription": {
                "id": subscription.id,
                "agent": subscription.agent_id,
                "endpoint": subscription.endpoint,
                "origin": subscription.origin,
                "p256dh": _b64(subscription.p256dh),
                "auth": _b64(subscription.auth),
            },
            "message": {
                "body": message.body.decode(),
                "ttl": message.ttl,
                "urgency": message.urgency,
                "topic": message.topic,
                "dialog": message.dialog_id,
            },
        }
    )


def decode_request(line: bytes) -> tuple[int, Subscription, PushMessage, float]:
    request = json.loads(line)
    s, m = request["subscription"], request["message"]
    subscription = Subscription(
        s["id"],
        s["agent"],
        s["endpoint"],
        s["origin"],
        base64.b64decode(s["p256dh"]),
        base64.b64decode(s["auth"]),
    )
    message = PushMessage(m["body"].encode(), m["ttl"], m["urgency"], m["topic"], m["dialog"])
    return request["n"], subscription, message, request["started"]


def encode_delivery(number: int, delivery: Delivery) -> bytes:
    return _line({"n": number, **asdict(delivery)})


def decode_delivery(line: bytes) -> tuple[int, Delivery]:
    answer = json.loads(line)
    return answer["n"], Delivery(answer["status"], answer["retries"], answer["latency"])


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# -- the connector's side --------------------------------------------------------------------


@dataclass
class _Pending:
    line: bytes
    answer: asyncio.Future[Delivery]
    crashes: int = 0


class PushProcess:
    """A `Sender` that sends from a child process."""

    def __init__(
        self,
        vapid: VapidKeys,
        metrics: PushMetrics,
        settings: DeliverySettings | None = None,
        *,
        command: tuple[str, ...] = (sys.executable, "-m", "connector.push.process"),
        grace: float = ANSWER_GRACE,
    ) -> None:
        self._setup = _line(
            {
                "vapid": vapid.private_pem().decode("ascii"),
                "subject": vapid.subject,
                "settings": asdict(settings or DeliverySettings()),
            }
        )
        self.metrics = metrics
        self._timeout = (settings or DeliverySettings()).timeout
        self._grace = grace
        self._command = command
        self._child: asyncio.subprocess.Process | None = None
        self._watching: asyncio.Task[None] | None = None
        self._pending: dict[int, _Pending] = {}
        self._numbers = 0
        self._young_deaths = 0
        self._closing = False

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    async def start(self) -> None:
        child = await asyncio.create_subprocess_exec(
            *self._command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        assert child.stdin is not None
        if self._closing:  # closed while this child was being started: it goes at once
            child.stdin.close()
            await child.wait()
            return
        child.stdin.write(self._setup)
        for pending in self._pending.values():
            child.stdin.write(pending.line)
        self._child = child
        self._watching = asyncio.ensure_future(self._watch(child, time.monotonic()))

    async def send(
        self, subscription: Subscription, message: PushMessage, started: float
    ) -> Delivery:
        if self._closing:
            return Delivery("stopped")
        number = self._numbers = self._numbers + 1
        pending = _Pending(
            encode_request(number, subscription, message, started),
            asyncio.get_running_loop().create_future(),
        )
        self._pending[number] = pending
        self._write(pending.line)
        # The child answers within the TTL and one attempt's timeout; past that (a child
        # stuck, or one that cannot be started) the push is given up, never awaited for ever.
        limit = started + message.ttl + self._timeout + self._grace - time.monotonic()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.answer), max(0.0, limit))
        except TimeoutError:
            return Delivery("unanswered")
        finally:
            self._pending.pop(number, None)

    def _write(self, line: bytes) -> None:
        child = self._child
        # A child that died takes what it was given with it: the restart gives it again.
        if child is not None and child.stdin is not None and not child.stdin.is_closing():
            child.stdin.write(line)

    async def _watch(self, child: asyncio.subprocess.Process, born: float) -> None:
        assert child.stdout is not None
        try:
            while line := await child.stdout.readline():
                number, delivery = decode_delivery(line)
                pending = self._pending.get(number)
                if pending is not None and not pending.answer.done():
                    pending.answer.set_result(delivery)
        except (ValueError, KeyError, TypeError) as exc:  # not ours to read: stop it
            log.error("push process answered what is not a delivery (%s); stopped", exc)
            with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
                child.kill()
        code = await child.wait()
        if self._closing:
            return
        self._young_deaths = self._young_deaths + 1 if time.monotonic() - born < YOUNG else 0
        self.metrics.process_restarts += 1
        for pending in self._pending.values():
            pending.crashes += 1
            if pending.crashes >= CRASHES_PER_PUSH and not pending.answer.done():
                pending.answer.set_result(Delivery("crashed"))
        log.error(
            "push process exited with %s; started again, %d pushes under way sent again",
            code,
            sum(not p.answer.done() for p in self._pending.values()),
        )
        await self._restart(min(5.0, 0.1 * 2**self._young_deaths) if self._young_deaths else 0.0)

    async def _restart(self, delay: float) -> None:
        while not self._closing:
            await asyncio.sleep(delay)  # a backoff, not a test's wait
            if self._closing:
                return
            try:
                await self.start()
                return
            except OSError as exc:  # the pushes wait (within their TTL) for the next try
                log.error("push process cannot be started (%s); trying again", exc)
                delay = 5.0

    async def close(self) -> None:
        self._closing = True
        child = self._child
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()  # the child's end: it stops what is under way and exits
        try:
            await asyncio.wait_for(child.wait(), timeout=5.0)
        except TimeoutError:
            child.kill()
            await child.wait()
        if self._watching is not None:
            await asyncio.gather(self._watching, return_exceptions=True)
        for pending in self._pending.values():
            if not pending.answer.done():
                pending.answer.set_result(Delivery("stopped"))


# -- the child's side -------------------------------------------------------------------------


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    setup = json.loads(await reader.readline())
    vapid = VapidKeys.from_pem(setup["vapid"].encode("ascii"), setup["subject"])
    sender = PushSender.open(vapid, DeliverySettings(**setup["settings"]))
    tasks: set[asyncio.Task[None]] = set()

    async def one(line: bytes) -> None:
        number, subscription, message, started = decode_request(line)
        try:
            delivery = await sender.send(subscription, message, started)
        except Exception as exc:  # a fault of ours: answered, so nothing waits for ever
            print(f"push process: {exc!r}", file=sys.stderr)
            delivery = Delivery("error")
        out.write(encode_delivery(number, delivery))

    while line := await reader.readline():
        task = asyncio.ensure_future(one(line))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:  # stdin closed: the connector stopped (or died)
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await sender.close()
    out.close()


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group, systemd's SIGTERM the whole
    # service: the connector ends this process itself, by closing its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    event_loop.run(_serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
