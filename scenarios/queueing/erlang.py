"""Erlang C (M/M/N) and Erlang A (M/M/N+M) in closed form, stable for hundreds of agents.

Conventions (the same in `scenarios.model`, so the two can be compared figure by figure):

* ``arrival_rate`` calls per second, ``aht`` mean handle time in seconds, ``agents`` N,
  ``patience`` the mean of an exponential patience in seconds (None: nobody abandons),
  ``sl_seconds`` T. The offered load is A = arrival_rate * aht Erlangs.
* ``p_wait``: share of offered calls that find every agent busy (PASTA: the stationary
  probability of >= N calls in the system).
* ``service_level``: calls answered within T / calls offered. An abandoned call is never
  "answered within T", whenever it abandons.
* ``wait_le_t``: P(wait <= T) over all offered calls, where the wait of an abandoned call is
  the time it waited before abandoning. Without abandonment it equals ``service_level`` and is
  the classic Erlang C service level; with abandonment it is Erlang A's P(W <= T).
* ``asa``: mean wait of the answered calls (those answered at once count with 0).
* ``mean_wait``: mean wait over all offered calls (abandoned ones with their time in queue).
* ``abandon_rate``: abandoned / offered. ``occupancy``: mean busy agents / N.
* ``queue_length``: time-average number of calls waiting.

Erlang B is computed by its recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)), which never
overflows (no factorials, no powers); Erlang C follows as C = N B / (N - A (1 - B)).

Erlang A is solved exactly as the birth-death chain it is: states n <= N have weights
A^n / n!, states N + k have pi_N * prod_{i=1..k} lambda / (N mu + i theta), theta = 1/patience.
All weights are taken relative to pi_N: the states up to N sum to 1/B(N, A) (Erlang B again);
the tail is summed term by term until the neglected rest is provably below 1e-15 of the total
(once the ratio r of consecutive terms is < 1 it only decreases, so the rest after a term t is
at most t r / (1 - r)). This is the stationary distribution itself, not an approximation
(Palm's and Garnett-Mandelbaum-Reiman's formulas are the same chain summed with incomplete
gamma functions). Waiting times come from the queue position an arrival finds: with k calls
ahead, it reaches an agent after V = sum_{j=0..k} Exp(N mu + j theta) unless its own patience
(Exp(theta)) runs out first, so

* P(answered | k) = prod_j r_j / (r_j + theta) with r_j = N mu + j theta,
* E[V; answered | k] = P(answered | k) * sum_j 1 / (r_j + theta),
* exp(-theta V) is Beta(N mu / theta, k + 1) distributed (the Laplace transform of V is a
  ratio of Beta functions), and exponential tilting by the patience shifts the first parameter
  by one; so P(V <= T, answered | k) and P(V > T | k) are regularized incomplete Beta values
  with an integer second parameter: finite sums of positive terms, computed by recursion in k.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

TAIL_EPSILON = 1e-15  # relative mass the Erlang A tail may leave out
MAX_TAIL_TERMS = 2_000_000
_RESCALE = 1e150


@dataclass(frozen=True, slots=True)
class ErlangResult:
    model: str  # "erlang_c" or "erlang_a"
    offered_load: float  # A, Erlangs
    agents: int
    p_wait: float
    service_level: float
    wait_le_t: float
    asa: float
    mean_wait: float
    abandon_rate: float
    occupancy: float
    queue_length: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def erlang_b(load: float, agents: int) -> float:
    """Blocking probability of M/M/N/N with offered load `load` Erlangs."""
    if load < 0 or agents < 0:
        raise ValueError("load and agents must be >= 0")
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(load: float, agents: int) -> float:
    """P(wait) of M/M/N: the probability an arrival finds all N agents busy (1 when A >= N)."""
    if agents <= load:
        return 1.0
    b = erlang_b(load, agents)
    return agents * b / (agents - load * (1.0 - b))


def _check(arrival_rate: float, aht: float, agents: int, sl_seconds: float) -> None:
    if arrival_rate <= 0 or aht <= 0:
        raise ValueError("arrival_rate and aht must be > 0")
    if agents < 1:
        raise ValueError("agents must be >= 1")
    if sl_seconds < 0:
        raise ValueError("sl_seconds must be >= 0")


def erlang_c_metrics(
    arrival_rate: float, aht: float, agents: int, sl_seconds: float
) -> ErlangResult:
    """Every figure of M/M/N (infinitely patient callers); the queue must be stable (A < N)."""
    _check(arrival_rate, aht, agents, sl_seconds)
    load = arrival_rate * aht
    if load >= agents:
        raise ValueError(f"Erlang C needs A < N: A = {load:g} Erlangs, N = {agents}")
    c = erlang_c(load, agents)
    drain = (agents - load) / aht  # N mu - lambda
    sl = 1.0 - c * math.exp(-drain * sl_seconds)
    asa = c / drain
    return ErlangResult(
        model="erlang_c",
        offered_load=load,
        agents=agents,
        p_wait=c,
        service_level=sl,
        wait_le_t=sl,
        asa=asa,
        mean_wait=asa,
        abandon_rate=0.0,
        occupancy=load / agents,
        queue_length=arrival_rate * asa,
    )


def _beta_int_cdf_terms(a: float, x: float) -> Iterator[float]:
    """Yield I_x(a, m) for m = 1, 2, ...: the regularized incomplete Beta function with an
    integer second parameter, I_x(a, m) = sum_{j<m} Gamma(a+j) / (Gamma(a) j!) x^a (1-x)^j.
    The terms are negative-binomial probabilities (all positive, each <= 1), computed in log
    space so that neither x^a nor the coefficients can underflow or overflow."""
    if x >= 1.0:
        yield from itertools.repeat(1.0)
    if x <= 0.0:
        yield from itertools.repeat(0.0)
    log_q = math.log1p(-x)
    log_term, total, j = a * math.log(x), 0.0, 0
    while True:
        total += math.exp(log_term)
        yield min(1.0, total)
        log_term += math.log((a + j) / (j + 1)) + log_q
        j += 1


def erlang_a_metrics(
    arrival_rate: float, aht: float, agents: int, sl_seconds: float, patience: float
) -> ErlangResult:
    """Every figure of M/M/N+M: exponential patience with mean `patience` seconds."""
    _check(arrival_rate, aht, agents, sl_seconds)
    if patience <= 0:
        raise ValueError("patience must be > 0")
    lam, mu, theta, n = arrival_rate, 1.0 / aht, 1.0 / patience, agents
    load = lam * aht
    n_mu = n * mu
    b = erlang_b(load, n)
    if b == 0.0:  # B underflowed: pi_N and every state above it are below 1e-308
        return ErlangResult("erlang_a", load, n, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, load / n, 0.0)
    # Stationary weights relative to pi_N. The states 0..N sum to 1 / B(N, A); sum n pi_n over
    # them is A times the states 0..N-1 (n pi_n = A pi_{n-1}).
    below = 1.0 / b - 1.0  # the states 0..N-1
    busy_below = load * below - n  # sum_{n<N} n pi_n
    x = math.exp(-theta * sl_seconds)
    alpha = n_mu / theta  # exp(-theta V) ~ Beta(alpha, k+1); tilted: Beta(alpha+1, k+1)
    p_v_gt_t = _beta_int_cdf_terms(alpha, x)  # P(V > T | k calls ahead), k = 0, 1, ...
    p_v_le_t_served = _beta_int_cdf_terms(alpha + 1.0, x)  # 1 - P(V' <= T | k)

    weight = 1.0  # pi_{N+k} / pi_N
    tail = 0.0  # sum over k >= 0 of the weights: P(wait) relative to pi_N
    queued = 0.0  # sum k weight: time-average queue length relative to pi_N
    served = 0.0  # sum weight P(answered | k)
    served_wait = 0.0  # sum weight E[V; answered | k]
    answered_in_t = 0.0  # sum weight P(V <= T, answered | k)
    done_in_t = 0.0  # sum weight P(min(V, patience) <= T | k)
    p_served, inv_sum, k = 1.0, 0.0, 0
    while True:
        rate = n_mu + k * theta  # r_k: the pace of the queue with k calls ahead of you
        p_served *= rate / (rate + theta)
        inv_sum += 1.0 / (rate + theta)
        tail += weight
        queued += k * weight
        served += weight * p_served
        served_wait += weight * p_served * inv_sum
        answered_in_t += weight * p_served * (1.0 - next(p_v_le_t_served))
        done_in_t += weight * (1.0 - x * next(p_v_gt_t))
        k += 1
        ratio = lam / (n_mu + k * theta)  # pi_{N+k} / pi_{N+k-1}
        weight *= ratio
        if ratio < 1.0 and weight / (1.0 - ratio) < TAIL_EPSILON * (below + tail):
            break
        if weight > _RESCALE:  # an overloaded queue: keep every weight finite
            weight *= 1.0 / _RESCALE
            below *= 1.0 / _RESCALE
            busy_below *= 1.0 / _RESCALE
            tail *= 1.0 / _RESCALE
            queued *= 1.0 / _RESCALE
            served *= 1.0 / _RESCALE
            served_wait *= 1.0 / _RESCALE
            answered_in_t *= 1.0 / _RESCALE
            done_in_t *= 1.0 / _RESCALE
        if k > MAX_TAIL_TERMS:
            raise ValueError("Erlang A tail too long: patience too long for this overload")
    total = below + tail
    no_wait = below / total
    p_answered = no_wait + served / total
    return ErlangResult(
        model="erlang_a",
        offered_load=load,
        agents=n,
        p_wait=tail / total,
        service_level=no_wait + answered_in_t / total,
        wait_le_t=no_wait + done_in_t / total,
        asa=(served_wait / total) / p_answered,
        mean_wait=(queued / total) / lam,
        abandon_rate=1.0 - p_answered,
        occupancy=(busy_below + n * tail) / total / n,
        queue_length=queued / total,
    )


def metrics(
    arrival_rate: float,
    aht: float,
    agents: int,
    sl_seconds: float,
    patience: float | None = None,
) -> ErlangResult:
    """Erlang A when callers abandon (`patience` given), Erlang C otherwise."""
    if patience is None:
        return erlang_c_metrics(arrival_rate, aht, agents, sl_seconds)
    return erlang_a_metrics(arrival_rate, aht, agents, sl_seconds, patience)


def staffing(
    arrival_rate: float,
    aht: float,
    sl_seconds: float,
    target_sl: float,
    patience: float | None = None,
    max_agents: int = 100_000,
) -> int:
    """The smallest N whose analytic service level reaches `target_sl`."""
    if not 0.0 < target_sl < 1.0:
        raise ValueError("target_sl must be in (0, 1)")
    load = arrival_rate * aht
    n = max(1, math.floor(load) + 1) if patience is None else 1
    while n <= max_agents:
        if metrics(arrival_rate, aht, n, sl_seconds, patience).service_level >= target_sl:
            return n
        n += 1
    raise ValueError("no staffing up to max_agents meets the target")
