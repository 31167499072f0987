"""Live traffic and the offline model sample through the same code: the profile's own
samplers (`finesse_sim.traffic.profile`). Both bind them, and what each draws from a seeded
stream is exactly what the profile's public methods draw from the same stream."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from finesse_sim.model import acd as acd_module
from finesse_sim.traffic import Arrivals, HandleTime, Patience, TrafficGenerator, load_profile
from scenarios.model.engine import run_replication
from scenarios.model.inputs import model_config
from tests.unit.conftest import make_world

DN = "8000"


@pytest.fixture
def samplers(monkeypatch):
    """Who binds which of the profile's samplers, and every handle time and patience drawn."""
    bound: list[str] = []
    drawn: dict[str, list[float]] = defaultdict(list)

    def spy(cls, kind):
        original = cls.sampler

        def sampler(self, rng):
            bound.append(kind)
            draw = original(self, rng)
            if draw is None or kind == "arrivals":
                return draw

            def recorded():
                x = draw()
                drawn[kind].append(x)
                return x

            return recorded

        monkeypatch.setattr(cls, "sampler", sampler)

    spy(Arrivals, "arrivals")
    spy(HandleTime, "handle")
    spy(Patience, "patience")
    return bound, drawn


def replay_arrivals(arrivals: Arrivals, rng: random.Random, n: int) -> list[float]:
    """The first n arrival times by `Arrivals.next_arrival`, one call at a time."""
    t, times = 0.0, []
    for _ in range(n):
        t = arrivals.next_arrival(t, rng)
        times.append(t)
    return times


def test_the_offline_model_draws_through_the_profile(samplers, monkeypatch):
    bound, drawn = samplers
    profile = load_profile("busy_monday").queue(DN)  # interval rates, lognormal, patience
    offered: list[float] = []
    original_offer = acd_module.Acd.offer

    def offer(self, call, queue, *, front=False):
        offered.append(self._now())
        return original_offer(self, call, queue, front=front)

    monkeypatch.setattr(acd_module.Acd, "offer", offer)
    config = model_config([profile], agents=8, horizon=4 * 3600.0)
    run_replication(config, seed="s")
    assert sorted(bound) == ["arrivals", "handle", "patience"]
    name = config.queue_names[0]
    handles, patiences = list(drawn["handle"]), list(drawn["patience"])  # the replays draw too
    assert len(offered) > 300 and handles and patiences
    assert offered == replay_arrivals(
        profile.arrivals, random.Random(f"s/{name}/arrivals"), len(offered)
    )
    handle = random.Random(f"s/{name}/handle")
    assert handles == [profile.sample_handle_time(handle) for _ in handles]
    patience = random.Random(f"s/{name}/patience")
    assert patiences == [profile.sample_patience(patience) for _ in patiences]


def test_live_traffic_draws_through_the_profile(samplers):
    bound, _ = samplers
    traffic = load_profile("busy_monday")
    profile = traffic.queue(DN)
    world = make_world()
    gen = TrafficGenerator(world.cc, traffic)
    world.cc.on_phone_event = gen.phone_event
    gen.start()
    world.cc.env.run(until=3600)  # nobody answers: every customer abandons
    assert sorted(bound) == ["arrivals", "handle", "patience"]
    calls = sorted([*gen.history, *gen.calls()], key=lambda c: c.arrived)
    assert len(calls) > 50
    arrivals = replay_arrivals(profile.arrivals, traffic.rng(DN, "arrivals"), len(calls))
    assert [c.arrived for c in calls] == pytest.approx(arrivals, abs=1e-9)
    rng = traffic.rng(DN, "calls")  # per call: patience, handle time, disposition
    for call in calls:
        assert call.patience == profile.sample_patience(rng)
        assert call.handle_time == profile.sample_handle_time(rng)
        assert call.disposition == profile.sample_disposition(rng)


def test_a_steady_rate_draws_the_same_gaps_either_way():
    """The offline model's fast path (`gap`) and the walk (`next_arrival`) agree."""
    arrivals = Arrivals.constant(200)
    fast = arrivals.sampler(random.Random(3))
    assert fast.gap is not None
    times, t = [], 0.0
    for _ in range(1000):
        t += fast.gap()
        times.append(t)
    assert replay_arrivals(arrivals, random.Random(3), 1000) == times
    assert Arrivals(((60.0, 200.0),)).sampler(random.Random(3)).gap is None  # intervals
