"""The wall-clock driver of the simpy model: timers fire in model time x speed."""

from __future__ import annotations

import asyncio

import pytest
import simpy

from finesse_sim.clock import MAX_SPEED, WallClock
from finesse_sim.model.timers import schedule


async def test_a_model_timer_fires_on_its_own_at_speed():
    env = simpy.Environment()
    clock = WallClock(env, speed=1000)  # 30 model seconds take 30 ms
    clock.start()
    fired = asyncio.Event()
    at: list[float] = []

    def fire() -> None:
        at.append(env.now)  # model time as the timer runs, however late the loop woke
        fired.set()

    schedule(env, 30, fire)
    clock.sync()  # an input arms the clock for the timer it started
    await asyncio.wait_for(fired.wait(), 2)
    assert at == [30]
    clock.stop()


async def test_sync_brings_model_time_to_the_present():
    env = simpy.Environment()
    clock = WallClock(env, speed=1000)
    clock.start()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_later(0.01, done.set_result, None)  # some wall time passes
    await done
    clock.sync()
    assert env.now >= 10  # >= 0.01 s x 1000
    clock.stop()


async def test_a_failing_timer_does_not_stop_the_others():
    env = simpy.Environment()
    clock = WallClock(env, speed=1000)
    clock.start()
    fired = asyncio.Event()

    def broken() -> None:
        raise RuntimeError("bug in a timer")

    schedule(env, 1, broken)
    schedule(env, 2, fired.set)
    clock.sync()
    await asyncio.wait_for(fired.wait(), 2)
    clock.stop()


def test_timers_can_be_cancelled():
    env = simpy.Environment()
    hits: list[str] = []
    timer = schedule(env, 5, lambda: hits.append("x"))
    timer.cancel()
    env.run(until=10)
    assert hits == []


@pytest.mark.parametrize("speed", [0, -1, MAX_SPEED * 10])
def test_speed_is_bounded(speed):
    with pytest.raises(ValueError):
        WallClock(simpy.Environment(), speed=speed)
