"""The offline model's engine: it drives the simulator's own Acd, and its windows, profiles,
wrap-up and handle-time distributions do what they say."""

from __future__ import annotations

import math

import pytest

from finesse_sim.model import acd as acd_module
from finesse_sim.traffic import Arrivals, HandleTime, Patience, Profile
from scenarios.model import engine
from scenarios.model.engine import ModelConfig, Replication, run_replication
from scenarios.model.experiment import analytic, run_experiment, run_kpis, search_agents
from scenarios.model.stats import Estimate, t_quantile_975

RATE = 200 / 3600


def _queue(
    calls_per_hour: float = 200.0,
    aht: float = 180.0,
    *,
    dn: str = "8000",
    name: str = "q",
    intervals: tuple[tuple[float, float], ...] | None = None,
    end: str = "stop",
    patience: float | None = None,
    sd: float | None = None,
) -> Profile:
    """A queue's profile: a constant rate, or (seconds, calls per hour) intervals."""
    if intervals is None:
        arrivals = Arrivals.constant(calls_per_hour)
    else:
        arrivals = Arrivals(intervals, end=end)
    return Profile(
        dn=dn,
        arrivals=arrivals,
        handle_time=HandleTime("lognormal" if sd else "exponential", aht, sd),
        patience=Patience() if patience is None else Patience("exponential", patience),
        name=name,
    )


def _config(**kw):
    queue = kw.pop("queue", _queue())
    kw.setdefault("agents", 14)
    kw.setdefault("calls", 4_000)
    kw.setdefault("warmup_calls", 400)
    return ModelConfig(queues=(queue,), **kw)


def test_routing_goes_through_the_simulators_acd(monkeypatch):
    routed = []
    original = acd_module.Acd._route

    def spy(self, waiting, agent, *, queued=True):
        routed.append((agent, queued))
        return original(self, waiting, agent, queued=queued)

    monkeypatch.setattr(acd_module.Acd, "_route", spy)
    result = run_replication(_config(agents=11), seed=1)
    assert len(routed) >= result.total.answered
    assert any(queued for _, queued in routed) and any(not queued for _, queued in routed)
    # longest available: with spare agents every one of them gets calls
    assert len({agent for agent, _ in routed}) == 11


def test_the_window_counts_exactly_the_measured_calls():
    result = run_replication(_config(), seed=3)
    t = result.total
    assert t.offered == 4_000
    assert t.answered + t.abandoned == t.offered  # every measured call was resolved
    assert result.calls_simulated >= 4_400
    assert result.t0 < result.t1
    assert sum(iv.tally.offered for iv in result.intervals) == t.offered
    assert sum(iv.busy_area for iv in result.intervals) == pytest.approx(result.busy_area)


def test_patience_makes_callers_abandon_and_only_waiting_callers():
    queue = _queue(patience=30.0)
    t = run_replication(_config(queue=queue, agents=10), seed=1).total
    assert t.abandoned > 0
    assert t.abandoned <= t.waited
    assert t.answered + t.abandoned == t.offered


def test_wrapup_keeps_agents_busy():
    plain = run_kpis(run_replication(_config(agents=20, calls=20_000), seed=2))
    wrapped = run_kpis(run_replication(_config(agents=20, calls=20_000, wrapup=60.0), seed=2))
    # occupancy = lambda (handle + wrap-up) / N
    assert plain["occupancy"] == pytest.approx(RATE * 180 / 20, rel=0.03)
    assert wrapped["occupancy"] == pytest.approx(RATE * 240 / 20, rel=0.03)
    assert analytic(_config(agents=20, wrapup=60.0)) is None


def test_lognormal_handle_times_have_the_asked_mean():
    queue = _queue(sd=90.0)
    kpis = run_kpis(run_replication(_config(queue=queue, agents=30, calls=20_000), seed=4))
    assert kpis["occupancy"] == pytest.approx(RATE * 180 / 30, rel=0.03)
    assert kpis["p_wait"] < 0.01
    assert analytic(_config(queue=queue)) is None


def test_a_profile_of_interval_rates_and_a_time_window():
    # a quiet first half hour, then 400 calls/h for an hour, then nothing
    queue = _queue(intervals=((1800.0, 0.0), (1800.0, 400.0), (1800.0, 400.0)))
    cfg = ModelConfig(queues=(queue,), agents=25, horizon=3 * 3600.0, interval=1800.0)
    result = run_replication(cfg, seed=5)
    offered = [iv.tally.offered for iv in result.intervals]
    assert offered[0] == 0
    assert offered[1] > 100 and offered[2] > 100
    assert sum(offered[3:]) == 0
    assert sum(offered) == pytest.approx(400, rel=0.25)
    assert result.total.answered + result.total.abandoned == result.total.offered


@pytest.mark.parametrize(("end", "expected_calls"), [("stop", 100), ("repeat", 300), ("hold", 500)])
def test_interval_lengths_and_what_comes_after_the_last(end, expected_calls):
    # 10 minutes at 600 calls/h, 50 minutes at 0, then after the hour: stop, repeat or hold
    # (hold: the last rate, 0, for ever); a 3-hour window; the last rate of "hold" set to
    # 480 calls/h instead, to tell it from "stop"
    last = 480.0 if end == "hold" else 0.0
    queue = _queue(aht=60.0, intervals=((600.0, 600.0), (3000.0, last)), end=end)
    cfg = ModelConfig(queues=(queue,), agents=40, horizon=3 * 3600.0, interval=600.0)
    if end == "hold":
        expected_calls = 100 + 480 * 50 / 60 + 480 * 2
    offered = sum(run_replication(cfg, seed=s).total.offered for s in range(1, 61)) / 60
    assert offered == pytest.approx(expected_calls, rel=0.06)


def test_two_queues_share_the_agents():
    queues = (_queue(name="sales"), _queue(100.0, 300.0, dn="8001", name="support"))
    cfg = ModelConfig(queues=queues, agents=20, calls=6_000, warmup_calls=600)
    exp = run_experiment(cfg, replications=2, seed=1, jobs=1)
    per_queue = exp.queue_kpis()
    assert set(per_queue) == {"sales", "support"}
    offered = [exp.runs[0].queues[n].offered for n in ("sales", "support")]
    assert offered[0] == pytest.approx(2 * offered[1], rel=0.1)
    # busy agents = (lambda1 AHT1 + lambda2 AHT2) / N
    load = RATE * 180 + RATE / 2 * 300
    assert exp.kpis["occupancy"].mean == pytest.approx(load / 20, rel=0.05)


def test_events_are_what_simpys_step_reads():
    rep = Replication(_config(calls=10, warmup_calls=0), seed=1)
    assert rep.env.peek() == math.inf  # nothing scheduled before run()
    rep.run()
    assert isinstance(rep.env.now, float)
    assert engine._Call._ok is True and "callbacks" in engine._Event.__slots__


def test_staffing_search_starts_at_erlang_and_finds_the_smallest():
    search = search_agents(_config(calls=3_000, warmup_calls=300), 0.8, 4, seed=1, jobs=1)
    assert search.analytic_agents == 14
    assert search.agents in (13, 14)
    assert search.tried[search.agents].kpis["service_level"].mean >= 0.8
    below = search.agents - 1
    assert below in search.tried
    assert search.tried[below].kpis["service_level"].mean < 0.8


def test_student_t():
    assert t_quantile_975(1) == pytest.approx(12.7062)
    assert t_quantile_975(9) == pytest.approx(2.2622)
    assert t_quantile_975(40) == pytest.approx(2.0211, abs=1e-4)
    assert t_quantile_975(10_000) == pytest.approx(1.96, abs=1e-3)
    e = Estimate.of([1.0, 2.0, 3.0])
    assert e.mean == 2.0 and e.high - e.mean == pytest.approx(4.3027 / math.sqrt(3))
    assert e.contains(2.5) and not e.contains(5.0)


def test_an_interval_is_cut_to_the_quantitys_range():
    share = Estimate.of([0.97, 0.99, 1.0], (0.0, 1.0))  # a service level near 100 %
    assert share.high == 1.0 and share.low < share.mean
    time = Estimate.of([0.0, 0.1, 1.5], (0.0, math.inf))  # an ASA near 0 s
    assert time.low == 0.0 and time.high > time.mean


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="one of them > 0"):
        _config(queue=_queue(0.0))
    with pytest.raises(ValueError, match="lognormal handle time needs sd"):
        _config(queue=Profile("8000", Arrivals.constant(200), HandleTime("lognormal", 180.0)))
    with pytest.raises(ValueError, match="patience must be > 0"):
        _config(queue=_queue(patience=0.0))
    with pytest.raises(ValueError, match="either calls or horizon"):
        ModelConfig(queues=(_queue(),), agents=1)  # no window
    with pytest.raises(ValueError, match="DNs must be unique"):
        ModelConfig(queues=(_queue(), _queue(name="other")), agents=1, calls=10)


def test_queues_are_named_by_name_or_dn():
    queues = (_queue(name="Sales"), _queue(dn="8001", name="Sales"), _queue(dn="8002", name=""))
    cfg = ModelConfig(queues=queues, agents=3, calls=10)
    assert cfg.queue_names == ("Sales (8000)", "Sales (8001)", "8002")
    assert set(run_replication(cfg, seed=1).queues) == set(cfg.queue_names)
