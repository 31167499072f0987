"""One replication of the offline contact-centre model: the simulator's queueing core
(`finesse_sim.model.acd.Acd`: queues, longest-available routing, agent availability) driven
by modelled callers and agents on a simpy Environment, in virtual time, as fast as it goes.

What is modelled
* Per queue: a live traffic profile (`finesse_sim.traffic.Profile`), sampled by the profile's
  own code: Poisson arrivals (a constant rate, or one rate per interval: a time-of-day
  profile, piecewise constant, then repeat, hold or stop), handle times (exponential, or
  lognormal with a mean and a standard deviation) and patience (exponential, or none:
  nobody abandons). Live traffic and its prediction draw the same way.
* N agents, each a member of every queue; an agent is available again after its handle time
  plus an optional constant wrap-up time.
* A call is offered to the Acd; routed at once or queued. A queued caller whose patience runs
  out abandons: the model withdraws the call from its queue (`Acd.withdraw`), which answers
  False when the call was routed meanwhile, so the patience timer needs no cancelling.

How it runs fast (figures: `scenarios.bench.model_bench`)
* The profile's samplers are bound to the replication's random streams once; a call costs
  one call of each (a steady rate's gap is a C-level `expovariate`).
* No simpy process per call. Everything is a callback on a plain scheduled event: the
  event objects below carry only what `simpy.Environment.step` reads from an event (its
  ``callbacks`` and ``_ok``) and are handed to the public `Environment.schedule`; the clock
  is read from ``env._now``, which the ``env.now`` property returns (simpy is pinned to 4.1;
  `tests/unit/test_model_engine.py` holds the model to that protocol). The queue source,
  every agent and every waiting call are themselves the events they schedule, so there is no
  allocation per call but the call itself (which is also its patience timer) and simpy's
  heap entry. (`finesse_sim.model.timers.schedule` allocates a Timer, a simpy Timeout and a
  closure per timer and needs cancelling; the model needs neither: see abandonment above.)
* Only a call that has to wait gets a patience timer.
* Time averages (busy agents, calls waiting) are integrated in O(1) at every event.

What is measured
Calls arriving in the measurement window [t0, t1) after the warm-up: either a number of
calls (the window opens at the arrival after the first `warmup_calls` and closes after
`calls` more arrivals) or a span of time. Arrivals go on after t1 so that the last measured
calls meet a realistic queue; the run stops when every measured call was answered or
abandoned. Time averages cover exactly [t0, t1). Figures are kept per interval (of
`interval` seconds from t0) and per queue; `scenarios.model.experiment` adds them up.
"""

from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field

import simpy
from simpy.core import NORMAL, URGENT, StopSimulation

from finesse_sim.model.acd import Acd
from finesse_sim.traffic.profile import DISTRIBUTIONS, ENDS, Profile

INF = math.inf


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """What one replication models. Each queue is a live traffic `Profile` (its arrivals,
    handle time and patience; its shares and call variables are the live simulator's
    business: the model has no agent-to-agent calls)."""

    queues: tuple[Profile, ...]
    agents: int
    sl_seconds: float = 20.0
    wrapup: float = 0.0  # seconds after each call before the agent is available again
    interval: float = 1800.0  # reporting interval, seconds
    # the measurement window: a number of calls after a number of warm-up calls ...
    calls: int | None = None
    warmup_calls: int = 0
    # ... or a span of time after a warm-up time (e.g. a whole day of a profile)
    horizon: float | None = None
    warmup_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not self.queues:
            raise ValueError("at least one queue")
        if len({q.dn for q in self.queues}) != len(self.queues):
            raise ValueError("queue DNs must be unique")
        for name, q in zip(self.queue_names, self.queues, strict=True):
            _check_queue(name, q)
        if self.agents < 1:
            raise ValueError("agents must be >= 1")
        if (self.calls is None) == (self.horizon is None):
            raise ValueError("give either calls or horizon")
        if self.calls is not None and (self.calls < 1 or self.warmup_calls < 0):
            raise ValueError("calls must be >= 1 and warmup_calls >= 0")
        if self.horizon is not None and (self.horizon <= 0 or self.warmup_seconds < 0):
            raise ValueError("horizon must be > 0 and warmup_seconds >= 0")
        if self.sl_seconds < 0 or self.wrapup < 0 or self.interval <= 0:
            raise ValueError("sl_seconds and wrapup must be >= 0, interval > 0")

    @property
    def queue_names(self) -> tuple[str, ...]:
        """Each queue's name in the results: its name, or its DN if it has none; a name
        that two queues share gets the DN too."""
        names = [q.name or q.dn for q in self.queues]
        return tuple(
            f"{name} ({q.dn})" if names.count(name) > 1 else name
            for name, q in zip(names, self.queues, strict=True)
        )


def _check_queue(name: str, q: Profile) -> None:
    """What the model needs of a profile made in code (a TOML file is checked on loading)."""
    rates = [rate for _, rate in q.arrivals.intervals]
    if any(r < 0 for r in rates) or not any(rates):
        raise ValueError(f"queue {name}: rates must be >= 0, one of them > 0")
    if any(not seconds > 0 for seconds, _ in q.arrivals.intervals):
        raise ValueError(f"queue {name}: every interval must last > 0 seconds")
    if q.arrivals.end not in ENDS:
        raise ValueError(f"queue {name}: end is {', '.join(ENDS)}")
    handle = q.handle_time
    if handle.distribution not in DISTRIBUTIONS or not handle.mean > 0:
        raise ValueError(f"queue {name}: handle time: exponential or lognormal, mean > 0")
    if handle.distribution == "lognormal" and not (handle.sd or 0) > 0:
        raise ValueError(f"queue {name}: a lognormal handle time needs sd > 0")
    if q.mean_patience is not None and not q.mean_patience > 0:
        raise ValueError(f"queue {name}: patience must be > 0")


@dataclass(slots=True)
class Tally:
    """Counts and sums of one queue in one interval (calls by their arrival time)."""

    offered: int = 0
    answered: int = 0
    answered_in_t: int = 0  # answered with a wait <= T
    done_in_t: int = 0  # answered or abandoned with a wait <= T
    waited: int = 0  # not routed on arrival
    abandoned: int = 0
    answered_wait: float = 0.0  # sum of the waits of answered calls
    wait: float = 0.0  # sum of the waits of all calls (abandoned: until they abandoned)

    def add(self, other: Tally) -> None:
        self.offered += other.offered
        self.answered += other.answered
        self.answered_in_t += other.answered_in_t
        self.done_in_t += other.done_in_t
        self.waited += other.waited
        self.abandoned += other.abandoned
        self.answered_wait += other.answered_wait
        self.wait += other.wait


@dataclass(slots=True)
class IntervalResult:
    start: float  # seconds from t0
    end: float
    tally: Tally  # every queue
    busy_area: float  # integral of busy agents over the interval
    queue_area: float  # integral of calls waiting over the interval


@dataclass(slots=True)
class RunResult:
    """One replication: per-interval and per-queue tallies over the window [t0, t1)."""

    agents: int
    t0: float
    t1: float
    calls_simulated: int  # every arrival, warm-up and drain included
    intervals: list[IntervalResult]
    queues: dict[str, Tally]
    total: Tally = field(default_factory=Tally)
    busy_area: float = 0.0
    queue_area: float = 0.0

    @property
    def span(self) -> float:
        return self.t1 - self.t0


# -- the events: objects that simpy's Environment.step can process -------------------------


class _Event:
    """What `simpy.Environment.step` needs of an event: ``callbacks`` (a sequence of
    callables taking the event) and ``_ok``. Subclasses carry the model's own state."""

    __slots__ = ("callbacks",)
    _ok = True


class _Call(_Event):
    __slots__ = ("arrived", "source", "tally")


class _Agent(_Event):
    __slots__ = ("id",)


class _Source(_Event):
    """A queue's caller population: schedules its own next arrival. Its draws are the
    profile's own samplers, bound to the replication's random streams once."""

    __slots__ = (
        "gap",  # a steady rate: the next gap; else None and next_arrival walks the profile
        "handle",
        "name",
        "next_arrival",
        "patience",  # None: nobody abandons
        "queue",
        "tallies",
    )


class _Tick(_Event):
    __slots__ = ()


# -- the model --------------------------------------------------------------------------------


class Replication:
    """Build with a config and seeded random streams, then `run()` once."""

    def __init__(self, config: ModelConfig, seed: str | int) -> None:
        self.config = config
        self.env = env = simpy.Environment()
        self._schedule = env.schedule
        self._acd = Acd(self._now, self._on_route)
        self._agents: dict[str, _Agent] = {}
        self._busy = 0  # agents talking or in wrap-up
        self._queued = 0  # calls offered and neither routed nor abandoned
        self._t_last = 0.0
        self._busy_area = 0.0  # integrals since t0 (reset when the window opens)
        self._queue_area = 0.0
        self._arrivals = 0
        self._unresolved = 0  # measured calls neither answered nor abandoned yet
        self._measuring = False
        self._draining = False
        self._t0 = INF
        self._t1 = INF
        self._window_areas = (0.0, 0.0)  # busy and queue integrals over [t0, t1]
        self._inv_interval = 1.0 / config.interval
        self._sl = config.sl_seconds
        self._wrapup = config.wrapup
        self._intervals: list[IntervalResult] = []
        self._marks = (0.0, 0.0)  # integrals at the last interval boundary
        self._open_at = self._close_at = -1  # calls mode: the arrivals that open/close it
        self._sources: list[_Source] = []
        self._done_cb = (self._call_done,)
        self._wrapped_cb = (self._wrapup_done,)
        self._abandon_cb = (self._abandon,)
        self._arrive_cb = (self._arrive,)

        agent_ids = [f"m{i:05d}" for i in range(1, config.agents + 1)]
        for i, (name, profile) in enumerate(zip(config.queue_names, config.queues, strict=True)):
            src = _Source()
            src.name = name
            src.queue = self._acd.add_queue(
                id=f"q{i}", name=name, dn=str(9000 + i), members=agent_ids
            )
            arrivals = profile.arrivals.sampler(random.Random(f"{seed}/{name}/arrivals"))
            src.gap = arrivals.gap
            src.next_arrival = arrivals.next
            src.handle = profile.handle_time.sampler(random.Random(f"{seed}/{name}/handle"))
            src.patience = profile.patience.sampler(random.Random(f"{seed}/{name}/patience"))
            src.tallies = []
            self._sources.append(src)
        for agent_id in agent_ids:
            agent = _Agent()
            agent.id = agent_id
            self._agents[agent_id] = agent
            self._acd.agent_available(agent_id)

    def _now(self) -> float:
        return self.env._now

    # -- arrivals ---------------------------------------------------------------------------

    def _next_arrival(self, src: _Source, now: float) -> None:
        """Schedule the source's next arrival after `now` (model time = profile time)."""
        gap = src.gap
        if gap is not None:  # a steady rate: the short way
            src.callbacks = self._arrive_cb
            self._schedule(src, NORMAL, gap())
            return
        t = src.next_arrival(now)
        if t is not None:  # None: this source is done
            src.callbacks = self._arrive_cb
            self._schedule(src, NORMAL, t - now)

    def _arrive(self, src: _Source) -> None:
        self._flush()
        now = self.env._now
        n = self._arrivals = self._arrivals + 1
        if n == self._open_at:  # calls mode: the first call after the warm-up
            self._open_window(now)
        elif n == self._close_at:  # calls mode: the first call after the window
            self._close_window(now)
        call = _Call()
        call.arrived = now
        call.source = src
        if self._measuring:
            iv = int((now - self._t0) * self._inv_interval)
            tallies = src.tallies
            while len(tallies) <= iv:
                tallies.append(Tally())
            tally = call.tally = tallies[iv]
            tally.offered += 1
            self._unresolved += 1
        else:
            call.tally = None
        gap = src.gap
        if gap is not None:  # a steady rate: the short way
            src.callbacks = self._arrive_cb
            self._schedule(src, NORMAL, gap())
        else:
            self._next_arrival(src, now)
        queued = self._queued = self._queued + 1
        self._acd.offer(call, src.queue)  # calls _on_route at once if an agent is available
        patience = src.patience
        if self._queued == queued and patience is not None:  # it waits: its patience runs
            call.callbacks = self._abandon_cb
            self._schedule(call, NORMAL, patience())

    # -- routing, handling, abandoning --------------------------------------------------------

    def _on_route(self, call: _Call, agent_id: str, _queue: object) -> None:
        now = self.env._now
        self._queued -= 1
        self._busy += 1
        agent = self._agents[agent_id]
        agent.callbacks = self._done_cb
        self._schedule(agent, NORMAL, call.source.handle())
        tally = call.tally
        if tally is not None:
            wait = now - call.arrived
            tally.answered += 1
            if wait > 0.0:
                tally.waited += 1
                tally.answered_wait += wait
                tally.wait += wait
                if wait <= self._sl:
                    tally.answered_in_t += 1
                    tally.done_in_t += 1
            else:
                tally.answered_in_t += 1
                tally.done_in_t += 1
            self._resolved()

    def _call_done(self, agent: _Agent) -> None:
        if self._wrapup:
            agent.callbacks = self._wrapped_cb
            self._schedule(agent, NORMAL, self._wrapup)
            return
        self._wrapup_done(agent)

    def _wrapup_done(self, agent: _Agent) -> None:
        self._flush()
        self._busy -= 1
        self._acd.agent_available(agent.id)  # may route the oldest waiting call to it

    def _abandon(self, call: _Call) -> None:
        if not self._acd.withdraw(call):
            return  # answered before its patience ran out
        self._flush()
        now = self.env._now
        self._queued -= 1
        tally = call.tally
        if tally is not None:
            wait = now - call.arrived
            tally.waited += 1
            tally.abandoned += 1
            tally.wait += wait
            if wait <= self._sl:
                tally.done_in_t += 1
            self._resolved()

    def _resolved(self) -> None:
        self._unresolved -= 1
        if self._draining and not self._unresolved:
            self._stop()

    # -- the window ---------------------------------------------------------------------------

    def _flush(self) -> None:
        now = self.env._now
        dt = now - self._t_last
        if dt:
            self._busy_area += self._busy * dt
            self._queue_area += self._queued * dt
            self._t_last = now

    def _open_window(self, now: float) -> None:
        self._flush()
        self._measuring = True
        self._t0 = now
        self._busy_area = self._queue_area = 0.0
        self._marks = (0.0, 0.0)
        tick = _Tick()
        tick.callbacks = (self._interval_tick,)
        self._schedule(tick, URGENT, self.config.interval)

    def _interval_tick(self, tick: _Tick) -> None:
        if not self._measuring:
            return
        self._flush()
        self._mark_interval(self.env._now)
        tick.callbacks = (self._interval_tick,)
        self._schedule(tick, URGENT, self.config.interval)

    def _mark_interval(self, now: float) -> None:
        busy0, queue0 = self._marks
        start = len(self._intervals) * self.config.interval
        self._intervals.append(
            IntervalResult(
                start=start,
                end=now - self._t0,
                tally=Tally(),
                busy_area=self._busy_area - busy0,
                queue_area=self._queue_area - queue0,
            )
        )
        self._marks = (self._busy_area, self._queue_area)

    def _close_window(self, now: float) -> None:
        self._flush()
        self._measuring = False
        self._t1 = now
        self._mark_interval(now)
        # The window's integrals stop here: the drain after it (the last measured calls
        # finishing) is outside the span they are divided by.
        self._window_areas = (self._busy_area, self._queue_area)
        self._draining = True
        if not self._unresolved:
            self._stop()

    def _stop(self) -> None:
        stop = _Tick()
        stop.callbacks = (_raise_stop,)
        self._schedule(stop, URGENT, 0.0)

    # -- running ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        cfg = self.config
        env = self.env
        self._open_at = self._close_at = -1
        if cfg.calls is not None:
            self._open_at = cfg.warmup_calls + 1
            self._close_at = cfg.warmup_calls + cfg.calls + 1
        else:
            assert cfg.horizon is not None
            closer = _Tick()
            closer.callbacks = (lambda _e: self._close_window(env._now),)
            if cfg.warmup_seconds == 0:
                self._open_window(0.0)
            else:
                opener = _Tick()
                opener.callbacks = (lambda _e: self._open_window(env._now),)
                self._schedule(opener, URGENT, cfg.warmup_seconds)
            self._schedule(closer, URGENT, cfg.warmup_seconds + cfg.horizon)
        for src in self._sources:
            self._next_arrival(src, 0.0)
        with contextlib.suppress(StopSimulation):
            env.run()
        return self._result()

    def _result(self) -> RunResult:
        cfg = self.config
        queues: dict[str, Tally] = {}
        for iv in self._intervals:
            iv.tally = Tally()
        for src in self._sources:
            total = Tally()
            for i, tally in enumerate(src.tallies):
                total.add(tally)
                if i < len(self._intervals):
                    self._intervals[i].tally.add(tally)
            queues[src.name] = total
        result = RunResult(
            agents=cfg.agents,
            t0=self._t0,
            t1=self._t1,
            calls_simulated=self._arrivals,
            intervals=self._intervals,
            queues=queues,
            busy_area=self._window_areas[0],
            queue_area=self._window_areas[1],
        )
        for tally in queues.values():
            result.total.add(tally)
        return result


def _raise_stop(_event: object) -> None:
    raise StopSimulation(None)


def run_replication(config: ModelConfig, seed: str | int) -> RunResult:
    return Replication(config, seed).run()
