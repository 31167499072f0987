"""Erlang B / C / A closed forms against the reference values of docs/traffic.md and known
identities."""

from __future__ import annotations

import math

import pytest

from scenarios.queueing.erlang import (
    _beta_int_cdf_terms,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    metrics,
    staffing,
)

A10 = 100 / 1800  # 100 calls per 30 min: with AHT 180 s, A = 10 Erlangs
A48 = 360 / 1800  # 360 calls per 30 min: with AHT 240 s, A = 48 Erlangs


def test_erlang_b_known_values():
    assert erlang_b(10, 10) == pytest.approx(0.21458, abs=1e-5)
    assert erlang_b(1, 1) == pytest.approx(0.5)
    assert erlang_b(5, 0) == 1.0


def test_erlang_c_a10_n11():
    r = erlang_c_metrics(A10, 180, 11, 20)
    assert round(r.p_wait, 4) == 0.6821
    assert round(r.asa, 1) == 122.8
    assert r.offered_load == pytest.approx(10.0)


def test_erlang_c_a10_n14():
    r = erlang_c_metrics(A10, 180, 14, 20)
    assert round(r.p_wait, 4) == 0.1741
    assert round(r.service_level, 4) == 0.8884
    assert round(r.asa, 2) == 7.84
    assert r.occupancy == pytest.approx(10 / 14)


def test_erlang_c_a48_n55():
    r = erlang_c_metrics(A48, 240, 55, 20)
    assert round(r.p_wait, 4) == 0.2387
    assert round(r.service_level, 4) == 0.8668
    assert round(r.asa, 2) == 8.18


@pytest.mark.parametrize(
    ("agents", "p_wait", "p_abandon"), [(11, 0.3828, 0.0942), (14, 0.1270, 0.0228)]
)
def test_erlang_a_stack_values(agents, p_wait, p_abandon):
    r = erlang_a_metrics(A10, 180, agents, 20, patience=120)
    assert round(r.p_wait, 4) == p_wait
    assert round(r.abandon_rate, 4) == p_abandon


@pytest.mark.parametrize("agents", [11, 12, 14, 20])
def test_erlang_a_identities(agents):
    lam, aht, patience = A10, 180.0, 120.0
    r = erlang_a_metrics(lam, aht, agents, 20, patience)
    # Little: queue length = lambda x mean wait of everybody
    assert r.queue_length == pytest.approx(lam * r.mean_wait, rel=1e-9)
    # abandonment flow = theta x queue length
    assert r.abandon_rate == pytest.approx(r.queue_length / patience / lam, rel=1e-9)
    # busy agents = answered work
    assert r.occupancy * agents == pytest.approx(lam * (1 - r.abandon_rate) * aht, rel=1e-9)
    # orderings
    assert 0 < r.service_level < r.wait_le_t < 1
    assert r.asa < r.mean_wait / (1 - r.abandon_rate)


def test_erlang_a_tends_to_erlang_c_with_endless_patience():
    c = erlang_c_metrics(A10, 180, 14, 20)
    a = erlang_a_metrics(A10, 180, 14, 20, patience=1e9)
    for key in ("p_wait", "service_level", "wait_le_t", "asa", "occupancy", "queue_length"):
        assert getattr(a, key) == pytest.approx(getattr(c, key), rel=1e-5), key
    assert a.abandon_rate < 1e-7


def test_metrics_dispatches_on_patience():
    assert metrics(A10, 180, 14, 20).model == "erlang_c"
    assert metrics(A10, 180, 14, 20, 120).model == "erlang_a"


def test_erlang_c_needs_a_stable_queue():
    assert erlang_c(10, 10) == 1.0
    with pytest.raises(ValueError, match="A < N"):
        erlang_c_metrics(A10, 180, 10, 20)


def test_erlang_a_handles_overload():
    # more offered than the agents could ever answer: abandonment keeps it stable
    r = erlang_a_metrics(1.0, 240, 55, 20, 600)
    assert r.p_wait == pytest.approx(1.0)
    assert r.abandon_rate == pytest.approx(1 - 55 / 240, rel=1e-6)  # answered = N mu / lambda
    r = erlang_a_metrics(0.5, 180, 5, 20, 3600)  # a tail of thousands of states
    assert math.isfinite(r.asa) and r.abandon_rate == pytest.approx(1 - 5 / 90, rel=1e-6)


def _log_erlang_c(a: float, n: int) -> float:
    """Erlang C from log-gamma terms, an independent way for large N."""
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    log_last = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    top = max(*log_terms, log_last)
    s = sum(math.exp(t - top) for t in log_terms)
    last = math.exp(log_last - top)
    return last / (s + last)


@pytest.mark.parametrize(("load", "agents"), [(48.0, 55), (180.0, 200), (480.0, 500)])
def test_large_n_is_stable(load, agents):
    assert erlang_c(load, agents) == pytest.approx(_log_erlang_c(load, agents), rel=1e-9)
    a = erlang_a_metrics(load / 240, 240, agents, 20, 120)
    c = erlang_c_metrics(load / 240, 240, agents, 20)
    for r in (a, c):
        values = [v for v in r.as_dict().values() if isinstance(v, float)]
        assert all(math.isfinite(v) for v in values)
    assert 0 < a.p_wait < c.p_wait < 1


def test_tiny_load_on_many_agents_underflows_cleanly():
    r = erlang_a_metrics(1 / 3600, 180, 400, 20, 120)
    assert r.p_wait == 0.0 and r.service_level == 1.0
    assert erlang_c_metrics(1 / 3600, 180, 400, 20).service_level == pytest.approx(1.0)


def test_incomplete_beta_terms_match_the_hypoexponential_cdf():
    # V = Exp(c) + Exp(c + theta): exp(-theta V) ~ Beta(c / theta, 2)
    c, theta, t = 14 / 180, 1 / 120, 20.0
    r1, r2 = c, c + theta
    p_v_gt_t = (r2 * math.exp(-r1 * t) - r1 * math.exp(-r2 * t)) / (r2 - r1)
    terms = _beta_int_cdf_terms(c / theta, math.exp(-theta * t))
    assert next(terms) == pytest.approx(math.exp(-c * t))  # m = 1: one phase
    assert next(terms) == pytest.approx(p_v_gt_t)


def test_staffing_for_80_in_20():
    assert staffing(A10, 180, 20, 0.8) == 14  # 13 agents: 0.7956
    assert staffing(A48, 240, 20, 0.8) == 54
    with_abandonment = staffing(A10, 180, 20, 0.8, patience=120)
    assert with_abandonment <= 14
    assert metrics(A10, 180, with_abandonment, 20, 120).service_level >= 0.8
