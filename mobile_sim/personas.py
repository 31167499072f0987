"""How a simulated agent behaves: personas as data, and a seeded engine that draws decisions.

A `Persona` says how long a kind of agent takes to answer, talk, hold and wrap up, how often
it takes a break (and with which NOT_READY reason, for how long), how often it brings in a
colleague (consult, transfer, conference, blind transfer), how often it taps a button that is
not offered now, and how often the app goes to the background. Every duration is a `Span`
(bounded, triangular) in seconds of *shift time*: the agent that acts on it multiplies by its
time scale, so a test can run a persona many times faster without changing the persona.

`Behaviour` draws every decision from `random.Random` streams seeded by the swarm seed and
the agent id, one stream per domain (calls, breaks, app, team), so the k-th call plan of an
agent is the same in every run with that seed, whatever happened between its calls.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import TypeVar

T = TypeVar("T")

# Dialog actions an agent may tap by mistake: each either needs no parameter or is refused
# before any parameter is read (the connector checks the participant's actions first).
MISTAP_ACTIONS = ("ANSWER", "HOLD", "RETRIEVE", "TRANSFER", "CONFERENCE")
COLLABORATIONS = ("consult", "transfer", "conference", "blind")


@dataclass(frozen=True, slots=True)
class Span:
    """A bounded random quantity: triangular between `low` and `high`, most often `typical`."""

    low: float
    typical: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.typical <= self.high:
            raise ValueError(f"Span needs 0 <= low <= typical <= high, got {self}")

    def draw(self, rng: random.Random) -> float:
        if self.high == self.low:
            return self.low
        return rng.triangular(self.low, self.high, self.typical)


@dataclass(frozen=True, slots=True)
class BreakKind:
    """A NOT_READY break: the reason code's label, how often it is chosen, how long it lasts."""

    reason: str
    weight: float
    length: Span


@dataclass(frozen=True)
class Persona:
    """One kind of agent. Durations are seconds of shift time; probabilities are per call
    unless said otherwise."""

    name: str
    description: str
    answer_delay: Span  # from the first ring to the answer
    talk_time: Span  # with the customer, holds and consults not included
    hold_probability: float
    hold_time: Span
    wrap_up_time: Span  # after the call, before the wrap-up reason is sent and READY asked
    wrap_up_reasons: tuple[tuple[str, float], ...]  # (label, weight)
    ready_delay: Span  # before going READY at the start of the shift or after a RONA
    break_interval: Span  # working time between two breaks
    breaks: tuple[BreakKind, ...]
    consult_probability: float  # consult a colleague, then return to the customer
    transfer_probability: float  # consult, then transfer
    conference_probability: float  # consult, then conference
    blind_transfer_probability: float  # single-step transfer to a READY colleague
    consult_talk: Span  # with the colleague, before returning/transferring/conferencing
    consult_patience: Span  # how long the colleague may take to answer
    mistap_probability: float  # taps an action that is not offered now (expect a 409)
    background_probability: float  # per call, and per minute idle: the app is backgrounded
    customer_hangup_probability: float  # the customer ends the call, not the agent
    # With push (`mobagent agents --push`): the app backgrounded while idle is left there,
    # its WebSocket closed by the phone, until a push (or the agent, later) brings it back.
    left_in_background_probability: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_probability") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{self.name}: {f.name} must be within [0, 1], got {value}")
        if self.collaboration_probability > 1.0:
            raise ValueError(f"{self.name}: consult+transfer+conference+blind must be <= 1")
        if not self.breaks or any(b.weight <= 0 for b in self.breaks):
            raise ValueError(f"{self.name}: breaks need at least one kind, weights > 0")
        if not self.wrap_up_reasons or any(w <= 0 for _, w in self.wrap_up_reasons):
            raise ValueError(f"{self.name}: wrap_up_reasons need labels with weights > 0")

    @property
    def collaboration_probability(self) -> float:
        return (
            self.consult_probability
            + self.transfer_probability
            + self.conference_probability
            + self.blind_transfer_probability
        )


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Everything an agent decides about one call, drawn when it starts ringing."""

    answer_delay: float
    talk_time: float
    first_part: float  # share of the talk before hold/consult (the rest comes after)
    hold_time: float | None  # None: no hold on this call
    collaboration: str | None  # one of COLLABORATIONS, or None
    consult_talk: float
    consult_patience: float
    mistap: bool
    background: bool
    customer_hangs_up: bool
    wrap_up_time: float
    wrap_up_reason: str


@dataclass
class Behaviour:
    """The decisions of one agent with one persona, reproducible from (seed, agent id)."""

    persona: Persona
    seed: int | str
    agent_id: str
    _rngs: dict[str, random.Random] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # String seeds are hashed with SHA-512 by `random`: stable across runs and processes.
        for domain in ("calls", "breaks", "app", "team"):
            self._rngs[domain] = random.Random(f"{self.seed}:{self.agent_id}:{domain}")

    def rng(self, domain: str) -> random.Random:
        return self._rngs[domain]

    # -- calls ----------------------------------------------------------------------------

    def plan_call(self) -> CallPlan:
        """The next call's plan. Always draws the same number of values, so plan k depends
        only on the seed, the agent and k."""
        p, rng = self.persona, self._rngs["calls"]
        answer_delay = p.answer_delay.draw(rng)
        talk_time = p.talk_time.draw(rng)
        first_part = rng.uniform(0.3, 0.6)
        hold = rng.random() < p.hold_probability
        hold_time = p.hold_time.draw(rng)
        roll = rng.random()
        collaboration = None
        edge = 0.0
        for kind, chance in zip(
            COLLABORATIONS,
            (
                p.consult_probability,
                p.transfer_probability,
                p.conference_probability,
                p.blind_transfer_probability,
            ),
            strict=True,
        ):
            edge += chance
            if roll < edge:
                collaboration = kind
                break
        consult_talk = p.consult_talk.draw(rng)
        consult_patience = p.consult_patience.draw(rng)
        mistap = rng.random() < p.mistap_probability
        background = rng.random() < p.background_probability
        customer_hangs_up = rng.random() < p.customer_hangup_probability
        wrap_up_time = p.wrap_up_time.draw(rng)
        wrap_up_reason = weighted(rng, p.wrap_up_reasons)
        return CallPlan(
            answer_delay=answer_delay,
            talk_time=talk_time,
            first_part=first_part,
            hold_time=hold_time if hold else None,
            collaboration=collaboration,
            consult_talk=consult_talk,
            consult_patience=consult_patience,
            mistap=mistap,
            background=background,
            customer_hangs_up=customer_hangs_up,
            wrap_up_time=wrap_up_time,
            wrap_up_reason=wrap_up_reason,
        )

    def mistap_action(self, allowed: Iterable[str]) -> str | None:
        """An action the app does not offer now (the finger slipped), or None if every
        candidate is offered."""
        offered = set(allowed)
        candidates = [a for a in MISTAP_ACTIONS if a not in offered]
        return self._rngs["app"].choice(candidates) if candidates else None

    # -- the app --------------------------------------------------------------------------

    def backgrounds_while_idle(self, minutes: float) -> bool:
        """Whether the app goes to the background during `minutes` of idle time."""
        chance = 1.0 - (1.0 - self.persona.background_probability) ** max(minutes, 0.0)
        return self._rngs["app"].random() < chance

    def leaves_app_in_background(self) -> bool:
        """Whether a backgrounded app stays there, relying on push to wake it."""
        return self._rngs["app"].random() < self.persona.left_in_background_probability

    # -- breaks ---------------------------------------------------------------------------

    def ready_delay(self) -> float:
        return self.persona.ready_delay.draw(self._rngs["breaks"])

    def next_break_in(self) -> float:
        return self.persona.break_interval.draw(self._rngs["breaks"])

    def pick_break(self) -> tuple[BreakKind, float]:
        """Which break (its reason label) and how long, in shift seconds."""
        rng = self._rngs["breaks"]
        kinds = self.persona.breaks
        kind = weighted(rng, [(k, k.weight) for k in kinds])
        return kind, kind.length.draw(rng)

    # -- the team -------------------------------------------------------------------------

    def pick_colleague(self, candidates: Sequence[T]) -> T | None:
        return self._rngs["team"].choice(list(candidates)) if candidates else None


def weighted(rng: random.Random, choices: Iterable[tuple[T, float]]) -> T:
    """One item of (item, weight) pairs, drawn with one random number."""
    pairs = list(choices)
    total = sum(w for _, w in pairs)
    roll = rng.random() * total
    for item, w in pairs:
        roll -= w
        if roll < 0:
            return item
    return pairs[-1][0]


# -- the named personas ----------------------------------------------------------------------

_BREAKS = (
    BreakKind("Break", 0.85, Span(120, 300, 600)),
    BreakKind("Lunch", 0.15, Span(900, 1800, 2700)),
)

STEADY = Persona(
    name="steady",
    description="experienced: answers fast, short calls, rarely holds, few slips",
    answer_delay=Span(1, 2, 4),
    talk_time=Span(15, 30, 60),
    hold_probability=0.1,
    hold_time=Span(5, 10, 20),
    wrap_up_time=Span(3, 6, 12),
    wrap_up_reasons=(("Resolved", 0.85), ("Escalated", 0.15)),
    ready_delay=Span(1, 3, 8),
    break_interval=Span(1800, 3000, 5400),
    breaks=_BREAKS,
    consult_probability=0.03,
    transfer_probability=0.04,
    conference_probability=0.02,
    blind_transfer_probability=0.01,
    consult_talk=Span(5, 10, 20),
    consult_patience=Span(15, 20, 30),
    mistap_probability=0.01,
    background_probability=0.02,
    customer_hangup_probability=0.3,
    left_in_background_probability=0.1,
)

CHATTY = Persona(
    name="chatty",
    description="long calls, holds to look things up, likes to conference a colleague in",
    answer_delay=Span(2, 3, 6),
    talk_time=Span(45, 120, 300),
    hold_probability=0.25,
    hold_time=Span(10, 25, 60),
    wrap_up_time=Span(8, 15, 40),
    wrap_up_reasons=(("Resolved", 0.9), ("Escalated", 0.1)),
    ready_delay=Span(2, 5, 15),
    break_interval=Span(1200, 2400, 3600),
    breaks=_BREAKS,
    consult_probability=0.08,
    transfer_probability=0.03,
    conference_probability=0.08,
    blind_transfer_probability=0.0,
    consult_talk=Span(10, 25, 60),
    consult_patience=Span(20, 30, 45),
    mistap_probability=0.03,
    background_probability=0.05,
    customer_hangup_probability=0.4,
    left_in_background_probability=0.3,
)

DISTRACTED = Persona(
    name="distracted",
    description="slow to answer (sometimes too slow: ring-no-answer), frequent breaks, "
    "slips and a backgrounded app",
    answer_delay=Span(2, 6, 18),
    talk_time=Span(20, 45, 120),
    hold_probability=0.3,
    hold_time=Span(5, 20, 60),
    wrap_up_time=Span(10, 25, 55),
    wrap_up_reasons=(("Resolved", 0.7), ("Escalated", 0.3)),
    ready_delay=Span(3, 10, 30),
    break_interval=Span(300, 700, 1200),
    breaks=(
        BreakKind("Break", 0.9, Span(60, 240, 600)),
        BreakKind("Lunch", 0.1, Span(900, 1800, 2700)),
    ),
    consult_probability=0.02,
    transfer_probability=0.03,
    conference_probability=0.0,
    blind_transfer_probability=0.03,
    consult_talk=Span(5, 15, 30),
    consult_patience=Span(10, 15, 25),
    mistap_probability=0.12,
    background_probability=0.25,
    customer_hangup_probability=0.35,
    left_in_background_probability=0.8,
)

TRAINEE = Persona(
    name="trainee",
    description="new: careful, long holds, often asks a colleague and escalates",
    answer_delay=Span(2, 4, 8),
    talk_time=Span(30, 70, 180),
    hold_probability=0.35,
    hold_time=Span(15, 30, 90),
    wrap_up_time=Span(10, 20, 45),
    wrap_up_reasons=(("Resolved", 0.55), ("Escalated", 0.45)),
    ready_delay=Span(3, 8, 20),
    break_interval=Span(1800, 2700, 3600),
    breaks=_BREAKS,
    consult_probability=0.15,
    transfer_probability=0.12,
    conference_probability=0.05,
    blind_transfer_probability=0.02,
    consult_talk=Span(15, 30, 60),
    consult_patience=Span(20, 30, 45),
    mistap_probability=0.15,
    background_probability=0.05,
    customer_hangup_probability=0.25,
    left_in_background_probability=0.2,
)

PERSONAS: dict[str, Persona] = {}


def register(persona: Persona) -> Persona:
    """Add (or replace) a persona by its name; returns it."""
    PERSONAS[persona.name] = persona
    return persona


for _persona in (STEADY, CHATTY, DISTRACTED, TRAINEE):
    register(_persona)


def get(name: str) -> Persona:
    try:
        return PERSONAS[name]
    except KeyError:
        known = ", ".join(sorted(PERSONAS))
        raise KeyError(f"unknown persona {name!r}; known: {known}, or 'mixed'") from None


def resolve(spec: str) -> list[Persona]:
    """`steady`, `steady,trainee` or `mixed` (every registered persona, by name): the list
    the swarm hands out in turn."""
    if spec == "mixed":
        return [PERSONAS[n] for n in sorted(PERSONAS)]
    return [get(name.strip()) for name in spec.split(",") if name.strip()]
