"""Live traffic: customers calling the running simulator by a `TrafficProfile`.

`TrafficGenerator` lives on the model's simpy clock (every delay is a `timers.schedule`, so
`--speed` speeds traffic up too). It injects calls by the profile
(`ContactCenter.inject_call`), gives each customer a patience and a handle time drawn by the
profile's own samplers (the ones the offline model uses), and watches the customer's own
handset (the model's phone events, keyed by the caller's unique number): `connected` is the
moment the call was answered, `ended` the moment the customer's leg ended. A customer still
unanswered (queued or ringing) when patience runs out hangs up (`hangup_call`, an abandon);
an answered customer hangs up after the handle time (`phone_hangup` on the caller's number,
which follows the customer through a transfer) unless the agent ended the call first.
Counters per queue: `snapshot()`.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connector.finesse.models import ApiErrorException
from finesse_sim.model.timers import Timer, schedule
from finesse_sim.traffic.calldata import CallData
from finesse_sim.traffic.profile import (
    ArrivalSampler,
    Draw,
    Profile,
    ProfileError,
    TrafficProfile,
)

if TYPE_CHECKING:
    from finesse_sim.model.contact_center import ContactCenter


@dataclass(eq=False, slots=True)
class TrafficCall:
    """One customer of the generator. Times are model seconds."""

    dn: str
    number: str
    call_id: str
    arrived: float
    patience: float | None
    handle_time: float
    disposition: str | None
    answered_at: float | None = None
    ended_at: float | None = None
    # "customer" (hung up after the handle time), "abandoned" (patience ran out),
    # "agent" (ended after the answer by someone else), "unanswered" (ended otherwise)
    ended_by: str = ""
    hanging_up: str = ""  # set while the generator itself hangs up
    timer: Timer | None = None  # patience, then the handle time

    @property
    def wait(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.arrived


@dataclass(slots=True)
class QueueCounters:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    customer_hangups: int = 0
    agent_hangups: int = 0
    ended_unanswered: int = 0
    inject_errors: int = 0
    answered_within_sl: int = 0
    abandoned_within_sl: int = 0
    wait_total: float = 0.0
    max_wait: float = 0.0
    abandon_wait_total: float = 0.0


@dataclass(eq=False)
class _QueueRun:
    profile: Profile
    arrivals: ArrivalSampler
    # patience, handle time and disposition, in that order, from one stream ("calls")
    calls_rng: random.Random
    patience: Draw | None
    handle_time: Draw
    data: CallData
    counters: QueueCounters = field(default_factory=QueueCounters)
    waiting: dict[str, TrafficCall] = field(default_factory=dict)  # by number, unanswered
    talking: dict[str, TrafficCall] = field(default_factory=dict)  # by number, answered
    next_timer: Timer | None = None


class TrafficGenerator:
    """Customers calling the model by a profile, on the model's clock.

    `on_change()` is called after every change of the counters (the simulator wakes its
    waiters with it). `phone_event(number, event)` must receive the model's phone events.
    """

    def __init__(
        self,
        model: ContactCenter,
        profile: TrafficProfile,
        *,
        on_change: Callable[[], None] | None = None,
        history: int = 1000,
    ) -> None:
        self.model = model
        self.env = model.env
        self.profile = profile
        self.on_change = on_change or (lambda: None)
        self.history: deque[TrafficCall] = deque(maxlen=history)  # the latest ended calls
        self.running = False
        self.started_at = 0.0
        self.stopped_at: float | None = None
        self._runs: dict[str, _QueueRun] = {}
        self._by_number: dict[str, TrafficCall] = {}
        self._reserved = self._agent_numbers()
        self.check_queues()

    def _agent_numbers(self) -> set[str]:
        cfg = self.model.config
        return {a.dial_number for a in cfg.agents} | {a.extension for a in cfg.agents}

    def check_queues(self) -> None:
        """Every DN of the profile must be a queue DN of the roster."""
        dns = {q.dn for q in self.model.config.queues}
        for dn in self.profile.queues:
            if dn not in dns:
                known = ", ".join(sorted(dns)) or "none"
                raise ProfileError(
                    f"{self.profile.source or self.profile.name}: queues.{dn}: not a queue DN "
                    f"of the simulator's roster (queues: {known})"
                )

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the profile now (model time): its time 0 is `env.now`."""
        self._runs = {dn: self._queue_run(dn, q) for dn, q in self.profile.queues.items()}
        self._by_number = {}
        self.history.clear()
        self.running = True
        self.started_at = self.env.now
        self.stopped_at = None
        for run in self._runs.values():
            self._plan_next(run)
        self.on_change()

    def _queue_run(self, dn: str, q: Profile) -> _QueueRun:
        calls_rng = self.profile.rng(dn, "calls")
        return _QueueRun(
            profile=q,
            arrivals=q.arrivals.sampler(self.profile.rng(dn, "arrivals")),
            calls_rng=calls_rng,
            patience=q.patience.sampler(calls_rng),
            handle_time=q.handle_time.sampler(calls_rng),
            data=CallData(q, self.profile.seed),
        )

    def stop(self) -> None:
        """No more arrivals. Customers already calling still abandon or hang up."""
        if not self.running:
            return
        self.running = False
        self.stopped_at = self.env.now
        for run in self._runs.values():
            if run.next_timer:
                run.next_timer.cancel()
                run.next_timer = None
        self.on_change()

    def reset(self) -> None:
        """The world was reset: every call is gone. Start over (counters, profile time and
        random streams), so the same profile repeats exactly."""
        was_running = self.running
        for call in self._by_number.values():
            if call.timer:
                call.timer.cancel()
        for run in self._runs.values():
            if run.next_timer:
                run.next_timer.cancel()
        self._runs, self._by_number = {}, {}
        self.running = False
        if was_running:
            self.start()

    @property
    def elapsed(self) -> float:
        """Model seconds of profile time so far."""
        end = self.env.now if self.stopped_at is None else self.stopped_at
        return max(end - self.started_at, 0.0)

    # -- arrivals -----------------------------------------------------------------------------

    def _plan_next(self, run: _QueueRun) -> None:
        now = self.env.now - self.started_at
        t = run.arrivals.next(now)
        if t is None:
            run.next_timer = None
            return
        run.next_timer = schedule(self.env, t - now, lambda: self._arrive(run))

    def _arrive(self, run: _QueueRun) -> None:
        run.next_timer = None
        if not self.running:
            return
        self._plan_next(run)
        q = run.profile
        patience = None if run.patience is None else run.patience()
        handle_time = run.handle_time()
        disposition = q.sample_disposition(run.calls_rng)
        number = run.data.number()
        for _ in range(1000):  # a number of its own: its handset tells answered and ended
            if number not in self._by_number and number not in self._reserved:
                break
            number = run.data.number()
        else:
            run.counters.inject_errors += 1  # the caller template has too few digits
            self.on_change()
            return
        variables = run.data.variables(disposition)
        call = TrafficCall(q.dn, number, "", self.env.now, patience, handle_time, disposition)
        # Known before the call exists: the model may report on its handset at once.
        self._by_number[number] = call
        run.waiting[number] = call
        try:
            call.call_id = self.model.inject_call(q.dn, number, variables)
        except ApiErrorException:
            del self._by_number[number], run.waiting[number]
            run.counters.inject_errors += 1
            self.on_change()
            return
        run.counters.offered += 1
        if call.ended_at is None and call.answered_at is None and patience is not None:
            call.timer = schedule(self.env, patience, lambda: self._give_up(call))
        self.on_change()

    # -- customers ----------------------------------------------------------------------------

    def _give_up(self, call: TrafficCall) -> None:
        """Patience ran out: a customer still unanswered hangs up (abandons)."""
        call.timer = None
        if call.answered_at is not None or call.ended_at is not None:
            return
        call.hanging_up = "abandoned"
        try:
            self.model.hangup_call(call.call_id)
        except ApiErrorException:
            self._ended(call, "unanswered")  # the model no longer knows it
        finally:
            call.hanging_up = ""

    def _hang_up(self, call: TrafficCall) -> None:
        """The handle time is over: the customer hangs up, wherever the call went."""
        call.timer = None
        if call.ended_at is not None:
            return
        call.hanging_up = "customer"
        try:
            self.model.phone_hangup(call.number)
        except ApiErrorException:
            self._ended(call, "agent")  # the customer's leg was already gone
        finally:
            call.hanging_up = ""

    def phone_event(self, number: str, event: Mapping[str, Any]) -> None:
        """A model phone event; only the generator's customers' handsets matter."""
        call = self._by_number.get(number)
        if call is None:
            return
        kind = event.get("event")
        if kind == "connected" and call.answered_at is None and call.ended_at is None:
            self._answered(call)
        elif kind == "ended" and call.ended_at is None:
            answered = call.answered_at is not None
            self._ended(call, call.hanging_up or ("agent" if answered else "unanswered"))

    def _answered(self, call: TrafficCall) -> None:
        run = self._runs[call.dn]
        call.answered_at = self.env.now
        wait = call.answered_at - call.arrived
        c = run.counters
        c.answered += 1
        c.wait_total += wait
        c.max_wait = max(c.max_wait, wait)
        if wait <= self.profile.sl_seconds:
            c.answered_within_sl += 1
        run.waiting.pop(call.number, None)
        run.talking[call.number] = call
        if call.timer:
            call.timer.cancel()
        call.timer = schedule(self.env, call.handle_time, lambda: self._hang_up(call))
        self.on_change()

    def _ended(self, call: TrafficCall, how: str) -> None:
        run = self._runs.get(call.dn)
        if run is None or call.ended_at is not None:
            return
        call.ended_at = self.env.now
        call.ended_by = how
        if call.timer:
            call.timer.cancel()
            call.timer = None
        c = run.counters
        if how == "abandoned":
            c.abandoned += 1
            waited = call.ended_at - call.arrived
            c.abandon_wait_total += waited
            if waited <= self.profile.sl_seconds:
                c.abandoned_within_sl += 1
        elif how == "customer":
            c.customer_hangups += 1
        elif how == "agent":
            c.agent_hangups += 1
        else:
            c.ended_unanswered += 1
        run.waiting.pop(call.number, None)
        run.talking.pop(call.number, None)
        self._by_number.pop(call.number, None)
        self.history.append(call)
        self.on_change()

    # -- counters -----------------------------------------------------------------------------

    def calls(self) -> Iterable[TrafficCall]:
        """Customers on the line now (unanswered or talking)."""
        return self._by_number.values()

    def snapshot(self) -> dict[str, Any]:
        """Counters per queue and in total (JSON-ready, camelCase like the control API).

        offered = answered + abandoned + endedUnanswered + waiting, and
        answered = talking + customerHangups + agentHangups.
        """
        queued: set[str] = set()
        for stats in self.model.queue_stats():
            queued.update(stats["waitingCalls"])
        elapsed = self.elapsed
        queues = []
        for dn, run in self._runs.items():
            in_queue = sum(1 for call in run.waiting.values() if call.call_id in queued)
            queues.append(
                {
                    "dn": dn,
                    "name": run.profile.name,
                    "callsPerHourNow": run.profile.rate_at(elapsed),
                    "meanCallsPerHour": run.profile.calls_per_hour,
                    "expectedOffered": run.profile.expected_calls(0.0, elapsed),
                    "aht": run.profile.aht,
                    "handleDistribution": run.profile.handle_time.distribution,
                    "handleSd": run.profile.handle_time.sd,
                    "meanPatience": run.profile.mean_patience,
                    **_counters(run.counters, len(run.waiting), in_queue, len(run.talking)),
                }
            )
        totals = QueueCounters()
        for run in self._runs.values():
            for name in QueueCounters.__dataclass_fields__:
                if name == "max_wait":
                    totals.max_wait = max(totals.max_wait, run.counters.max_wait)
                else:
                    setattr(totals, name, getattr(totals, name) + getattr(run.counters, name))
        return {
            "profile": self.profile.name,
            "source": self.profile.source,
            "seed": self.profile.seed,
            "running": self.running,
            "startedAt": self.started_at,
            "elapsed": elapsed,
            "slSeconds": self.profile.sl_seconds,
            "totals": _counters(
                totals,
                sum(len(r.waiting) for r in self._runs.values()),
                sum(q["inQueue"] for q in queues),
                sum(len(r.talking) for r in self._runs.values()),
            ),
            "queues": queues,
        }


def _counters(c: QueueCounters, waiting: int, in_queue: int, talking: int) -> dict[str, Any]:
    finished = c.answered + c.abandoned  # calls whose wait is over
    return {
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "waiting": waiting,  # not answered yet: in the queue or ringing at an agent
        "inQueue": in_queue,  # of those, queued (not ringing)
        "talking": talking,
        "customerHangups": c.customer_hangups,
        "agentHangups": c.agent_hangups,
        "endedUnanswered": c.ended_unanswered,
        "injectErrors": c.inject_errors,
        "answeredWithinSl": c.answered_within_sl,
        "abandonedWithinSl": c.abandoned_within_sl,
        "waitSecondsTotal": c.wait_total,
        "abandonWaitSecondsTotal": c.abandon_wait_total,
        "asa": c.wait_total / c.answered if c.answered else None,
        "maxWait": c.max_wait,
        "serviceLevel": c.answered_within_sl / finished if finished else None,
        "abandonRate": c.abandoned / finished if finished else None,
    }
