"""The push sender in a process of its own (`push_process`): what it adds to the pushes the
connector's push suite checks with it (test_connector_push.py): a child that dies loses no
push, one push cannot keep killing it, it ends with the connector, and its VAPID private
key never shows on its command line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from connector.push.delivery import Delivery, DeliverySettings
from connector.push.message import PushMessage
from connector.push.metrics import PushMetrics
from connector.push.process import (
    PushProcess,
    decode_delivery,
    decode_request,
    encode_delivery,
    encode_request,
)
from connector.push.subscriptions import Subscription
from connector.push.vapid import VapidKeys
from mobile_sim.api import Mobile
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration

MOBILE_1001 = Mobile("CALL_BY_CALL", "+15551230001")
SUBSCRIPTION = Subscription(
    "s1", "1001", "http://127.0.0.1:9/push/s1", "http://127.0.0.1:9", b"\x04" + b"k" * 64, b"a" * 16
)


def test_a_push_and_its_delivery_cross_the_pipe_unchanged():
    message = PushMessage('{"type":"dialog.created","caller":"Zoë"}'.encode(), 30, "high", "t", "d")
    line = encode_request(7, SUBSCRIPTION, message, 123.5)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == (7, SUBSCRIPTION, message, 123.5)
    for delivery in (Delivery("201", 1, 0.25), Delivery("410"), Delivery("crashed")):
        assert decode_delivery(encode_delivery(9, delivery)) == (9, delivery)


async def test_a_killed_push_process_is_restarted_and_the_push_under_way_still_arrives():
    async with ConnectorLab(push=True, push_process=True) as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
        await app.ready()
        await app.wait_for_state("READY")
        app.wake_on_push = False
        sender = lab.connector.push.sender
        first = sender.pid
        # The first attempt is answered 429 (retry after 1 s): the child holds the push.
        async with lab.http.post(
            f"{lab.push.origin}/control/faults", json={"rateLimit": {"retryAfter": 1}}
        ) as response:
            assert response.status == 200
        await app.background()
        status, _ = await lab.sim(
            "POST", "/calls", {"dn": "8000", "from": "+15550100", "callVariables": {}}
        )
        assert status == 201
        await lab.push.wait_until(lambda: lab.push.stats["429"])
        os.kill(first, signal.SIGKILL)
        push = await app.wait_for_push("dialog.created", timeout=5.0)
        assert push.payload["data"]["fromAddress"] == "+15550100"
        assert sender.pid != first
        assert await lab.connector.push.settled()
        assert lab.connector.push.metrics.process_restarts == 1
        assert lab.connector.push.metrics.sent == 1
        metrics = (await lab.api("GET", "/metrics")).body
        assert "connector_push_process_restarts_total 1" in metrics


async def test_a_push_that_kills_the_process_twice_is_given_up_as_crashed():
    # A child that dies on every push it reads (after the set-up line).
    dies = "import sys; sys.stdin.readline(); sys.stdin.readline(); sys.exit(3)"
    metrics = PushMetrics()
    sender = PushProcess(VapidKeys.generate(), metrics, command=(sys.executable, "-c", dies))
    await sender.start()
    try:
        message = PushMessage(b"{}", 30, "high", "t")
        delivery = await asyncio.wait_for(sender.send(SUBSCRIPTION, message, time.monotonic()), 10)
        assert delivery == Delivery("crashed")
        assert metrics.process_restarts == 2
    finally:
        await sender.close()


async def test_a_push_the_process_never_answers_is_given_up_and_none_after_close():
    # A child that reads everything and answers nothing (stuck).
    mute = "import sys\nfor _ in sys.stdin: pass"
    settings = DeliverySettings(timeout=0.1)
    sender = PushProcess(
        VapidKeys.generate(),
        PushMetrics(),
        settings,
        command=(sys.executable, "-c", mute),
        grace=0.2,
    )
    await sender.start()
    try:
        message = PushMessage(b"{}", 0, "high", "t")
        started = time.monotonic()
        delivery = await asyncio.wait_for(sender.send(SUBSCRIPTION, message, started), 5)
        assert delivery == Delivery("unanswered")
        assert time.monotonic() - started >= 0.3  # its TTL (0), one attempt, the grace
    finally:
        await sender.close()
    assert await sender.send(SUBSCRIPTION, message, time.monotonic()) == Delivery("stopped")


async def test_the_push_process_ends_with_the_connector_and_has_no_key_on_its_command_line():
    async with ConnectorLab(push=True, push_process=True) as lab:
        pid = lab.connector.push.sender.pid
        proc = Path(f"/proc/{pid}")
        command = proc.joinpath("cmdline").read_bytes()
        assert b"connector.push.process" in command and b"PRIVATE" not in command
        assert b"PRIVATE" not in proc.joinpath("environ").read_bytes()
    assert not proc.exists()  # noqa: ASYNC240 (stopped, and reaped)
