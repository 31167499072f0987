"""Live traffic in a running simulator: customers call by a profile on the sped-up model
clock, abandon when nobody answers, hang up after their handle time; GET /sim/v1/traffic."""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

import pytest

from finesse_sim.config import default_config
from finesse_sim.traffic import TrafficProfile, parse_profile
from scenarios.stack.finesse_lab import FinesseLab
from scenarios.traffic import report

pytestmark = pytest.mark.integration


def traffic(rate: float, handle: float, patience: float) -> TrafficProfile:
    return parse_profile(
        {
            "name": "test",
            "seed": 11,
            "queues": {
                "8000": {
                    "name": "Sales",
                    "arrivals": {"calls_per_hour": rate},
                    "handle_time": {"mean": handle},
                    "patience": {"distribution": "exponential", "mean": patience},
                    "variables": {"callVariable1": "ACC-######"},
                }
            },
        }
    )


@pytest.fixture
async def lab():
    config = default_config()
    config.timers.wrap_up = 2.0  # agents are READY again soon after a call
    config.timers.ring_no_answer = 60.0  # generous: answering takes wall time
    async with FinesseLab(config) as lab:
        yield lab


async def speed(lab: FinesseLab, factor: float) -> None:
    status, body = await lab.control("PUT", "/clock", {"speed": factor})
    assert status == 200, body


async def counters(lab: FinesseLab) -> dict[str, Any]:
    status, body = await lab.control("GET", "/traffic")
    assert status == 200, body
    return body


def adds_up(t: dict[str, Any]) -> None:
    assert t["offered"] == t["answered"] + t["abandoned"] + t["endedUnanswered"] + t["waiting"]
    assert t["answered"] == t["talking"] + t["customerHangups"] + t["agentHangups"]


def about_the_rate(offered: int, expected: float) -> None:
    """A Poisson count within five standard deviations of its mean."""
    assert abs(offered - expected) <= 5 * math.sqrt(expected) + 2, (offered, expected)


async def answering(lab: FinesseLab, number: str, ready: asyncio.Event, drop: bool = False):
    """A handset that answers every ring (and, with `drop`, hangs up at once)."""
    async with lab.http.ws_connect(lab.url(f"/sim/v1/phones/{number}/events")) as ws:
        async for msg in ws:
            event = msg.json()
            if event["event"] == "subscribed":
                ready.set()
            elif event["event"] == "ring":
                status, _ = await lab.control("POST", f"/phones/{number}/answer")
                if status == 200 and drop:  # (404: the customer gave up as it rang)
                    await lab.control("POST", f"/phones/{number}/hangup")


async def test_no_traffic_attached_is_a_404(lab: FinesseLab):
    status, body = await lab.control("GET", "/traffic")
    assert status == 404 and body["error"]["type"] == "no_traffic"


async def test_unanswered_customers_abandon_and_calls_come_at_the_profile_rate(lab: FinesseLab):
    await speed(lab, 200)  # 300 model seconds in 1.5 wall seconds
    sim = lab.sim
    gen = sim.start_traffic(traffic(rate=1800, handle=30, patience=15))
    await sim.wait_until(lambda: gen.elapsed >= 300, timeout=10)
    sim.stop_traffic()
    await sim.wait_until(lambda: gen.snapshot()["totals"]["waiting"] == 0, timeout=10)

    body = await counters(lab)
    t, [queue] = body["totals"], body["queues"]
    assert body["profile"] == "test" and body["running"] is False
    about_the_rate(t["offered"], queue["expectedOffered"])  # 150 expected
    assert t["offered"] > 50
    assert t["abandoned"] == t["offered"] and t["answered"] == 0
    assert t["abandonRate"] == 1.0 and t["serviceLevel"] == 0.0
    adds_up(t)
    assert t["abandonWaitSecondsTotal"] / t["abandoned"] == pytest.approx(15, rel=0.4)
    for call in gen.history:  # each gave up exactly when its patience ran out
        assert call.ended_by == "abandoned"
        assert call.ended_at - call.arrived == pytest.approx(call.patience, abs=1e-6)
    status, queues = await lab.control("GET", "/queues")
    assert status == 200 and queues["queues"][0]["callsInQueue"] == 0


async def test_agents_answer_customers_hang_up_after_the_handle_time(lab: FinesseLab):
    phones = {"5001": False, "5002": False, "5003": True}  # 5003's agent hangs up first
    responders, ready = [], []
    for number, drop in phones.items():
        subscribed = asyncio.Event()
        ready.append(subscribed)
        responders.append(asyncio.create_task(answering(lab, number, subscribed, drop)))
    try:
        async with asyncio.timeout(10):
            for event in ready:
                await event.wait()
        for agent_id in ("1001", "1002", "1003"):
            agent = lab.agent(agent_id)
            await agent.login()
            await agent.notes.user_state("NOT_READY")
            await agent.ready()
        await speed(lab, 100)
        sim = lab.sim
        gen = sim.start_traffic(traffic(rate=720, handle=10, patience=20))
        await sim.wait_until(lambda: gen.snapshot()["totals"]["offered"] >= 40, timeout=15)
        sim.stop_traffic()
        # every customer has hung up or given up
        await sim.wait_until(lambda: not list(gen.calls()), timeout=10)
    finally:
        for task in responders:
            task.cancel()
        for task in responders:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    body = await counters(lab)
    t, [queue] = body["totals"], body["queues"]
    adds_up(t)
    assert t["waiting"] == 0 and t["talking"] == 0
    assert t["answered"] >= 10 and t["customerHangups"] >= 5 and t["agentHangups"] >= 1
    about_the_rate(t["offered"], queue["expectedOffered"])
    assert t["asa"] == pytest.approx(t["waitSecondsTotal"] / t["answered"])
    assert t["answeredWithinSl"] <= t["answered"]
    assert queue == {**queue, **{k: v for k, v in t.items() if k != "inQueue"}}
    by_customer = [c for c in gen.history if c.ended_by == "customer"]
    for call in by_customer:  # the customer hung up exactly when the handle time was over
        assert call.ended_at - call.answered_at == pytest.approx(call.handle_time, abs=1e-6)
        assert call.wait >= 0
    for call in gen.history:
        if call.ended_by == "agent":
            assert call.ended_at - call.answered_at < call.handle_time

    # the report puts these counters beside Erlang's prediction for the same traffic
    result = await report.collect(lab.url("/sim/v1"), agents=3, use_model=False, http=lab.http)
    assert result["live"]["offered"] == t["offered"]
    assert result["inputs"]["calls_per_hour"] == pytest.approx(720)
    assert result["inputs"]["patience"] == 20 and result["inputs"]["agents"] == 3
    assert 0 <= result["predicted"]["service_level"]["value"] <= 1
    assert "Erlang A" in result["prediction"]["source"]
    assert "service level (20 s)" in report.render(result)


async def test_a_reset_starts_the_traffic_over(lab: FinesseLab):
    await speed(lab, 100)
    gen = lab.sim.start_traffic(traffic(rate=3600, handle=30, patience=600))
    await lab.sim.wait_until(lambda: gen.snapshot()["totals"]["offered"] >= 50, timeout=10)
    before = await counters(lab)
    status, _ = await lab.control("POST", "/reset")
    assert status == 200
    after = await counters(lab)
    assert after["running"] is True and after["startedAt"] > before["startedAt"]
    assert after["totals"]["offered"] < before["totals"]["offered"]
    adds_up(after["totals"])
