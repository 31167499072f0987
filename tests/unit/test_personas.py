"""Personas and the seeded behaviour engine: repeatable, bounded, named."""

from __future__ import annotations

import dataclasses
import random

import pytest

from mobile_sim import personas
from mobile_sim.personas import (
    COLLABORATIONS,
    MISTAP_ACTIONS,
    Behaviour,
    Persona,
    Span,
)

NAMED = ("steady", "chatty", "distracted", "trainee")


def plans(persona: Persona, seed: int | str, agent: str = "1001", n: int = 50):
    behaviour = Behaviour(persona, seed, agent)
    return [behaviour.plan_call() for _ in range(n)]


def test_the_named_personas_are_registered():
    assert set(NAMED) <= set(personas.PERSONAS)
    for name in NAMED:
        assert personas.get(name).name == name
        assert personas.get(name).description


def test_an_unknown_persona_names_the_known_ones():
    with pytest.raises(KeyError) as err:
        personas.get("grumpy")
    assert "steady" in str(err.value) and "mixed" in str(err.value)


def test_resolve_a_list_or_every_persona():
    assert [p.name for p in personas.resolve("steady,trainee")] == ["steady", "trainee"]
    assert {p.name for p in personas.resolve("mixed")} >= set(NAMED)


def test_register_adds_a_persona():
    custom = dataclasses.replace(personas.STEADY, name="test-custom", hold_probability=1.0)
    try:
        assert personas.register(custom) is custom
        assert personas.get("test-custom").hold_probability == 1.0
    finally:
        personas.PERSONAS.pop("test-custom", None)


@pytest.mark.parametrize("name", NAMED)
def test_same_seed_same_decisions(name):
    persona = personas.get(name)
    assert plans(persona, 42) == plans(persona, 42)
    a, b = Behaviour(persona, 42, "1001"), Behaviour(persona, 42, "1001")
    assert [a.next_break_in() for _ in range(5)] == [b.next_break_in() for _ in range(5)]
    assert [a.pick_break() for _ in range(5)] == [b.pick_break() for _ in range(5)]
    assert [a.mistap_action(["HOLD", "DROP"]) for _ in range(5)] == [
        b.mistap_action(["HOLD", "DROP"]) for _ in range(5)
    ]


@pytest.mark.parametrize("name", NAMED)
def test_different_seeds_or_agents_decide_differently(name):
    persona = personas.get(name)
    assert plans(persona, 1) != plans(persona, 2)
    assert plans(persona, 1, "1001") != plans(persona, 1, "1002")


def test_call_plans_do_not_depend_on_other_decisions():
    """One stream per domain: breaks and mis-taps drawn between calls leave the calls alone."""
    quiet = Behaviour(personas.STEADY, 7, "1001")
    busy = Behaviour(personas.STEADY, 7, "1001")
    first = [quiet.plan_call() for _ in range(10)]
    second = []
    for _ in range(10):
        busy.pick_break()
        busy.mistap_action([])
        busy.backgrounds_while_idle(3)
        second.append(busy.plan_call())
    assert first == second


@pytest.mark.parametrize("name", NAMED)
def test_decisions_stay_within_the_personas_bounds(name):
    persona = personas.get(name)
    behaviour = Behaviour(persona, 3, "1005")
    wrap_labels = {label for label, _ in persona.wrap_up_reasons}
    for plan in (behaviour.plan_call() for _ in range(500)):
        assert persona.answer_delay.low <= plan.answer_delay <= persona.answer_delay.high
        assert persona.talk_time.low <= plan.talk_time <= persona.talk_time.high
        assert 0.3 <= plan.first_part <= 0.6
        if plan.hold_time is not None:
            assert persona.hold_time.low <= plan.hold_time <= persona.hold_time.high
        assert persona.wrap_up_time.low <= plan.wrap_up_time <= persona.wrap_up_time.high
        assert persona.consult_talk.low <= plan.consult_talk <= persona.consult_talk.high
        assert plan.collaboration in (None, *COLLABORATIONS)
        assert plan.wrap_up_reason in wrap_labels
    for _ in range(200):
        kind, length = behaviour.pick_break()
        assert kind in persona.breaks
        assert kind.length.low <= length <= kind.length.high
        gap = behaviour.next_break_in()
        assert persona.break_interval.low <= gap <= persona.break_interval.high
        assert persona.ready_delay.low <= behaviour.ready_delay() <= persona.ready_delay.high


def test_frequencies_follow_the_probabilities():
    persona = dataclasses.replace(
        personas.STEADY,
        name="half",
        hold_probability=0.5,
        consult_probability=0.2,
        transfer_probability=0.2,
        conference_probability=0.1,
        blind_transfer_probability=0.0,
        mistap_probability=0.25,
    )
    drawn = plans(persona, 11, n=4000)

    def share(pred) -> float:
        return sum(1 for p in drawn if pred(p)) / len(drawn)

    assert share(lambda p: p.hold_time is not None) == pytest.approx(0.5, abs=0.04)
    assert share(lambda p: p.collaboration == "consult") == pytest.approx(0.2, abs=0.03)
    assert share(lambda p: p.collaboration == "transfer") == pytest.approx(0.2, abs=0.03)
    assert share(lambda p: p.collaboration == "conference") == pytest.approx(0.1, abs=0.03)
    assert share(lambda p: p.collaboration == "blind") == 0
    assert share(lambda p: p.mistap) == pytest.approx(0.25, abs=0.03)


def test_a_mistap_is_never_an_offered_action():
    behaviour = Behaviour(personas.DISTRACTED, 5, "1001")
    for offered in (["HOLD", "DROP", "UPDATE_CALL_DATA", "CONSULT_CALL"], ["ANSWER"], []):
        for _ in range(50):
            action = behaviour.mistap_action(offered)
            assert action in MISTAP_ACTIONS and action not in offered
    assert behaviour.mistap_action(MISTAP_ACTIONS) is None


def test_backgrounding_grows_with_idle_time():
    behaviour = Behaviour(personas.DISTRACTED, 9, "1001")  # 25 % per idle minute
    assert not any(behaviour.backgrounds_while_idle(0) for _ in range(200))
    long = sum(behaviour.backgrounds_while_idle(10) for _ in range(1000)) / 1000
    assert long == pytest.approx(1 - 0.75**10, abs=0.04)


def test_a_span_draws_within_its_bounds():
    rng = random.Random(1)
    span = Span(2, 3, 10)
    values = [span.draw(rng) for _ in range(2000)]
    assert min(values) >= 2 and max(values) <= 10
    assert Span(4, 4, 4).draw(rng) == 4
    with pytest.raises(ValueError):
        Span(5, 3, 10)


@pytest.mark.parametrize(
    "change",
    [
        {"hold_probability": 1.5},
        {"mistap_probability": -0.1},
        {"consult_probability": 0.6, "transfer_probability": 0.6},
        {"breaks": ()},
        {"wrap_up_reasons": (("Resolved", 0),)},
    ],
)
def test_a_persona_refuses_impossible_numbers(change):
    with pytest.raises(ValueError):
        dataclasses.replace(personas.STEADY, **change)
