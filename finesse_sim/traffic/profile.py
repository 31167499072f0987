"""The traffic profile model: what customers do, per queue, and how it is sampled.

A `TrafficProfile` holds one `Profile` per queue DN: Poisson arrivals (a mean rate or
piecewise-constant interval rates, then repeat, hold or stop), handle time (exponential or
lognormal), patience (exponential or none), the shares of calls consulted, transferred and
conferenced, the call variables to attach, and a seed. The sampling lives here, once: the
live generator (`finesse_sim.traffic.live`) and the offline model (`scenarios.model.engine`)
both draw through these methods, so live traffic and its prediction cannot drift apart.

Samplers: `HandleTime.sampler(rng)`, `Patience.sampler(rng)` and `Arrivals.gaps(rng)` bind a
random stream once and return a callable per draw (the offline model's hot path calls it
directly); `sample(rng)` and `next_arrival(t, rng)` are the same draws, one at a time.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faker import Faker

DISTRIBUTIONS = ("exponential", "lognormal")
PATIENCE_DISTRIBUTIONS = ("exponential", "none")
ENDS = ("repeat", "hold", "stop")
DISPOSITIONS = ("consult", "transfer", "conference")
CALL_VARIABLE_MAX_BYTES = 40  # Finesse's limit for callVariable1-10
DEFAULT_CALLER = "+1##########"

Draw = Callable[[], float]


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


def _exponential(rng: Any, rate: float) -> Draw:
    """Draws of Exp(rate) from `rng`: a `random.Random` or a numpy Generator."""
    if not hasattr(rng, "expovariate"):
        return lambda: float(rng.exponential(1.0 / rate))
    uniform, log = rng.random, math.log

    def draw() -> float:
        # random.expovariate's own formula (the same numbers) in one frame: the offline
        # model calls this per call, and a functools.partial of it costs a C-level re-entry
        return -log(1.0 - uniform()) / rate

    return draw


def _lognormal(rng: Any, mu: float, sigma: float) -> Draw:
    if not hasattr(rng, "lognormvariate"):
        return lambda: float(rng.lognormal(mu, sigma))
    lognormvariate = rng.lognormvariate
    return lambda: lognormvariate(mu, sigma)


@dataclass(frozen=True, slots=True)
class Arrivals:
    """Poisson arrivals with piecewise-constant rates.

    `intervals` are (seconds, calls per hour) from the profile's start (model time 0 of the
    generator); a constant rate is one interval of infinite length. After the last interval
    `end` decides: `repeat` the cycle, `hold` the last rate, `stop` (no more calls).
    `start` ("HH:MM", optional) is the time of day the first interval stands for, for labels.
    """

    intervals: tuple[tuple[float, float], ...]
    end: str = "repeat"
    start: str | None = None
    # derived once: where each interval of the cycle ends, and its rate per second
    _ends: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _per_second: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ends, at = [], 0.0
        for seconds, _ in self.intervals:
            at += seconds
            ends.append(at)
        object.__setattr__(self, "_ends", tuple(ends))
        object.__setattr__(self, "_per_second", tuple(r / 3600.0 for _, r in self.intervals))

    @classmethod
    def constant(cls, calls_per_hour: float) -> Arrivals:
        return cls(((math.inf, float(calls_per_hour)),), end="hold")

    @property
    def steady(self) -> bool:
        """One rate for ever (no interval profile)."""
        return math.isinf(self._ends[-1])

    @property
    def cycle_seconds(self) -> float:
        """Length of the interval profile (inf for a constant rate)."""
        return self._ends[-1]

    @property
    def calls_per_hour(self) -> float:
        """The mean rate over one cycle (the constant rate if there is no profile)."""
        if self.steady:
            return self.intervals[0][1]
        total = sum(seconds * rate for seconds, rate in self.intervals)
        return total / self.cycle_seconds

    def _locate(self, t: float) -> tuple[int, float, float] | None:
        """(interval index, the start of its cycle, its end) holding time t; None after a
        `stop` end. After a `hold` end: the last interval, ending never."""
        t = max(t, 0.0)
        ends = self._ends
        cycle = ends[-1]
        offset = 0.0
        if t >= cycle:
            if self.end == "stop":
                return None
            if self.end == "hold":
                return len(ends) - 1, 0.0, math.inf
            offset = math.floor(t / cycle) * cycle
        i = bisect.bisect_right(ends, t - offset)
        if i == len(ends):  # rounding left t at the very end of a cycle: the next one starts
            return 0, offset + cycle, offset + cycle + ends[0]
        return i, offset, offset + ends[i]

    def rate_at(self, t: float) -> float:
        """Calls per hour at `t` seconds after the start."""
        position = self._locate(t)
        return 0.0 if position is None else self.intervals[position[0]][1]

    def expected_calls(self, t0: float, t1: float) -> float:
        """The mean number of arrivals in [t0, t1): the integral of the rate."""
        total, t = 0.0, max(t0, 0.0)
        while t < t1:
            position = self._locate(t)
            if position is None:
                break
            i, _, end = position
            stop = min(end, t1)
            total += self._per_second[i] * (stop - t)
            t = stop
        return total

    def sampler(self, rng: Any) -> ArrivalSampler:
        """Arrival times drawn from `rng`, for a run whose time only goes forward."""
        return ArrivalSampler(self, rng)

    def next_arrival(self, t: float, rng: Any) -> float | None:
        """The next arrival after `t` (seconds from the start), or None if none ever comes."""
        return ArrivalSampler(self, rng).next(t)


class ArrivalSampler:
    """The arrivals of one `Arrivals`, drawn from one random stream.

    `next(t)`: the next arrival after `t`, or None if none ever comes. Exact for
    piecewise-constant rates: one Exp(1) draw, then the integrated rate is walked forward
    interval by interval until it reaches the draw (no thinning needed). The interval
    reached is kept, so in a run (t only goes forward) an arrival costs a draw and a
    comparison. `gap`: for a steady rate, the gaps themselves (Exp(1) / rate is
    Exp(rate): the same draws), else None; the offline model's fast path.
    """

    __slots__ = ("_arrivals", "_draw", "_end", "_i", "_offset", "_rate", "_start", "gap")

    def __init__(self, arrivals: Arrivals, rng: Any) -> None:
        self._arrivals = arrivals
        self._draw = _exponential(rng, 1.0)
        rate = arrivals._per_second[0]
        self.gap = _exponential(rng, rate) if arrivals.steady and rate > 0.0 else None
        self._start = self._end = -math.inf  # no interval kept yet
        self._i, self._offset, self._rate = 0, 0.0, 0.0

    def next(self, t: float) -> float | None:
        need = self._draw()
        if not (self._start <= t < self._end) and not self._seek(t):
            return None  # after a `stop` end
        while True:
            rate, end = self._rate, self._end
            if rate > 0.0 and need <= rate * (end - t):
                return t + need / rate
            if math.isinf(end):
                return None  # a zero rate held for ever
            need -= rate * (end - t)
            t = end
            if not self._advance():
                return None

    def _keep(self, i: int, offset: float, start: float, end: float) -> None:
        self._i, self._offset, self._start, self._end = i, offset, start, end
        self._rate = self._arrivals._per_second[i]

    def _seek(self, t: float) -> bool:
        """Keep the interval holding t; False after a `stop` end."""
        position = self._arrivals._locate(t)
        if position is None:
            return False
        self._keep(*position[:2], start=t, end=position[2])
        return True

    def _advance(self) -> bool:
        """From the end of the interval kept to the next one; False when no call can come
        any more (a `stop` end, or a cycle of zero rates repeated)."""
        arrivals = self._arrivals
        ends, offset = arrivals._ends, self._offset
        i = self._i + 1
        if i == len(ends):
            if arrivals.end == "stop" or not any(arrivals._per_second):
                return False
            if arrivals.end == "hold":
                self._keep(i - 1, offset, self._end, math.inf)
                return True
            i, offset = 0, offset + ends[-1]
        self._keep(i, offset, self._end, offset + ends[i])
        return True


@dataclass(frozen=True, slots=True)
class HandleTime:
    """How long the customer stays on the line once answered (seconds)."""

    distribution: str = "exponential"
    mean: float = 180.0
    sd: float | None = None  # lognormal only

    def sampler(self, rng: Any) -> Draw:
        """Handle times drawn from `rng`, one per call."""
        if self.distribution == "lognormal":
            assert self.sd is not None
            sigma2 = math.log1p((self.sd / self.mean) ** 2)
            return _lognormal(rng, math.log(self.mean) - sigma2 / 2.0, math.sqrt(sigma2))
        return _exponential(rng, 1.0 / self.mean)

    def sample(self, rng: Any) -> float:
        return self.sampler(rng)()


@dataclass(frozen=True, slots=True)
class Patience:
    """How long an unanswered customer waits before hanging up (seconds); none: for ever."""

    distribution: str = "none"
    mean: float | None = None

    def sampler(self, rng: Any) -> Draw | None:
        """Patiences drawn from `rng`, one per call; None when nobody abandons (no draws)."""
        if self.distribution == "none" or self.mean is None:
            return None
        return _exponential(rng, 1.0 / self.mean)

    def sample(self, rng: Any) -> float | None:
        draw = self.sampler(rng)
        return None if draw is None else draw()


@dataclass(frozen=True, slots=True)
class Shares:
    """Shares of calls the answering agent consults (and returns), transfers, conferences.
    Carried as data for agents' behaviour; `variable` optionally puts the sampled
    disposition on the call (e.g. `user.disposition`), so agents can act on it."""

    consult: float = 0.0
    transfer: float = 0.0
    conference: float = 0.0
    variable: str | None = None

    def sample(self, rng: Any) -> str | None:
        x = rng.random()
        for name in DISPOSITIONS:
            share = getattr(self, name)
            if x < share:
                return name
            x -= share
        return None


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """How one call variable's value is made: `template` ('#' a digit, '?' a letter),
    `faker` (a faker provider called without arguments) or `choice` (one of `values`)."""

    kind: str
    value: str = ""
    values: tuple[str, ...] = ()

    def make(self, fake: Faker, rng: random.Random) -> str:
        if self.kind == "choice":
            return rng.choice(self.values)
        if self.kind == "faker":
            return str(getattr(fake, self.value)())
        return fake.bothify(self.value)


@dataclass(frozen=True, slots=True)
class Profile:
    """The traffic of one queue. Times in seconds, rates in calls per hour."""

    dn: str
    arrivals: Arrivals
    handle_time: HandleTime
    patience: Patience = Patience()
    shares: Shares = Shares()
    variables: tuple[tuple[str, VariableSpec], ...] = ()
    name: str = ""
    caller: str = DEFAULT_CALLER  # the customers' numbers ('#' a digit)

    def rate_at(self, t: float) -> float:
        """Calls per hour at `t` seconds after the start."""
        return self.arrivals.rate_at(t)

    @property
    def calls_per_hour(self) -> float:
        """The mean arrival rate (over one cycle of the interval profile)."""
        return self.arrivals.calls_per_hour

    @property
    def aht(self) -> float:
        """Mean handle time, seconds."""
        return self.handle_time.mean

    @property
    def mean_patience(self) -> float | None:
        return self.patience.mean if self.patience.distribution != "none" else None

    def next_arrival(self, t: float, rng: Any) -> float | None:
        return self.arrivals.next_arrival(t, rng)

    def expected_calls(self, t0: float, t1: float) -> float:
        return self.arrivals.expected_calls(t0, t1)

    def sample_handle_time(self, rng: Any) -> float:
        return self.handle_time.sample(rng)

    def sample_patience(self, rng: Any) -> float | None:
        """Seconds the customer waits for an answer, None for no abandonment."""
        return self.patience.sample(rng)

    def sample_disposition(self, rng: Any) -> str | None:
        """'consult', 'transfer', 'conference' or None, by the shares."""
        return self.shares.sample(rng)


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """A whole profile: one `Profile` per queue DN, a seed and the service-level threshold."""

    name: str
    queues: Mapping[str, Profile]
    seed: int = 1
    sl_seconds: float = 20.0
    description: str = ""
    source: str | None = None  # the file it came from

    def queue(self, dn: str) -> Profile:
        return self.queues[dn]

    def rate_at(self, t: float) -> float:
        """Calls per hour over every queue at `t`."""
        return sum(q.rate_at(t) for q in self.queues.values())

    @property
    def calls_per_hour(self) -> float:
        return sum(q.calls_per_hour for q in self.queues.values())

    def with_seed(self, seed: int) -> TrafficProfile:
        return replace(self, seed=seed)

    def rng(self, dn: str, stream: str) -> random.Random:
        """A random stream of one queue, seeded by the profile: streams do not disturb each
        other (e.g. adding a call variable leaves the arrival times as they were)."""
        return random.Random(f"{self.seed}/{dn}/{stream}")
