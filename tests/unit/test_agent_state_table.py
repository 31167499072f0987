"""docs/finesse.md, Agent states, the agent state machine, one row per transition.

Every row drives the real ContactCenter (through the `World` harness) into the table's
From state, checks it got there, then causes the transition the way the table's "Who" column
says (an agent request, a phone, the caller, the router or a timer) and checks both the
resulting User state and the User PUT notification that announces it. The pure rules in
`agent_states` are checked over their own tables at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from connector.finesse.models import ApiErrorException, Update, User, user_uri
from finesse_sim.config import default_config
from finesse_sim.model import agent_states
from finesse_sim.model.agent_states import AfterCall, Apply, Pend, Refuse, RefuseLater
from tests.unit.conftest import World, config, make_world

A = "1001"  # the agent under test
EXT = "5001"  # its desk extension
CALLER = "+15550100"  # a customer
OUTSIDE = "+15559990000"  # an outside number the agent calls (auto-answers after 1 s)
QUEUE_DN = "8000"
NO_REASON = "-1"  # reasonCodeId when no reason code applies
BREAK, LUNCH, END_OF_SHIFT = "1", "2", "3"  # default roster reason code ids
WRAP_UP_SECONDS = default_config().timers.wrap_up
ANSWER_SECONDS = default_config().timers.external_answer


def user_puts(world: World) -> list[Update]:
    return [u for u in world.updates(f"/User/{A}") if isinstance(u.data, User)]


def place_call(world: World, to: str = OUTSIDE, request_id: str = "rq-call") -> None:
    world.make_call(A, to, request_id)


def the_dialog(world: World) -> str:
    [dialog] = world.dialogs(A)
    return dialog.id


# -- drivers: each brings agent A into a state and returns the dialog id, if there is one ----


def logged_out(world: World) -> None:
    return None


def not_ready(world: World) -> None:
    world.login(A)


def not_ready_with_break(world: World) -> None:
    world.login(A)
    world.state(A, "NOT_READY", BREAK)


def ready(world: World) -> None:
    world.login(A)
    world.ready(A)


def reserved(world: World) -> str:
    ready(world)
    return world.cc.inject_call(QUEUE_DN, CALLER)


def talking(world: World) -> str:
    dialog_id = reserved(world)
    world.cc.phone_answer(EXT)
    return dialog_id


def held(world: World) -> str:
    dialog_id = talking(world)
    world.act(A, dialog_id, "HOLD")
    return dialog_id


def talking_pending(state: str, reason: str = "") -> Callable[[World], str]:
    """On a routed call, the agent asks for `state`: CCE keeps it as pendingState."""

    def drive(world: World) -> str:
        dialog_id = talking(world)
        world.state(A, state, reason)
        assert world.user(A).pending_state == state
        return dialog_id

    return drive


def talking_outbound(world: World) -> str:
    """NOT_READY (Break), then the agent places a call that the far end answers."""
    not_ready_with_break(world)
    place_call(world)
    world.advance(ANSWER_SECONDS + 0.1)
    return the_dialog(world)


def talking_outbound_pending_ready(world: World) -> str:
    dialog_id = talking_outbound(world)
    world.ready(A)
    assert world.user(A).pending_state == "READY"
    return dialog_id


def work_ready(world: World) -> str:
    dialog_id = talking(world)
    world.cc.hangup_call(dialog_id)
    return dialog_id


def work(world: World) -> str:
    dialog_id = talking_pending("NOT_READY", LUNCH)(world)
    world.cc.hangup_call(dialog_id)
    return dialog_id


# -- causes ----------------------------------------------------------------------------------


def login(world: World, _: str | None) -> None:
    world.login(A)  # request id "rq-login"


def ask(state: str, reason: str = "") -> Callable[[World, str | None], None]:
    def cause(world: World, _: str | None) -> None:
        world.state(A, state, reason, request_id="rq-agent")

    return cause


def act(action: str) -> Callable[[World, str | None], None]:
    def cause(world: World, dialog_id: str | None) -> None:
        assert dialog_id is not None
        world.act(A, dialog_id, action, request_id="rq-agent")

    return cause


def make_the_call(world: World, _: str | None) -> None:
    place_call(world, request_id="rq-agent")
    world.advance(ANSWER_SECONDS + 0.1)  # the far end answers: still TALKING
    assert world.dialogs(A)[0].state == "ACTIVE"


def route_a_call(world: World, _: str | None) -> None:
    world.cc.inject_call(QUEUE_DN, CALLER)


def answer_on_the_phone(world: World, _: str | None) -> None:
    world.cc.phone_answer(EXT)


def caller_hangs_up(world: World, dialog_id: str | None) -> None:
    assert dialog_id is not None
    world.cc.hangup_call(dialog_id)


def wrap_up_timer(world: World, _: str | None) -> None:
    world.advance(WRAP_UP_SECONDS + 0.5)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    start: str  # docs/finesse.md, Agent states: "from"
    end: str  # docs/finesse.md, Agent states: "to"
    setup: Callable[[World], str | None]
    cause: Callable[[World, str | None], None]
    request_id: str  # echoed by the User PUT: the agent's request, or "" when unsolicited
    reason: str = NO_REASON  # reasonCodeId shown in the new state
    settings: dict[str, Any] = field(default_factory=dict)
    published: tuple[str, ...] = ()  # every User PUT the cause publishes; default (end,)


NO_WRAP_UP = {"wrap_up_on_incoming": "NOT_ALLOWED"}
UCCX = {"deployment": "UCCX"}

ROWS = [
    Row("LOGOUT->NOT_READY:agent-login", "LOGOUT", "NOT_READY", logged_out, login, "rq-login"),
    Row(
        "NOT_READY->NOT_READY:agent-changes-reason",
        "NOT_READY",
        "NOT_READY",
        not_ready_with_break,
        ask("NOT_READY", LUNCH),
        "rq-agent",
        reason=LUNCH,
    ),
    Row("NOT_READY->READY:agent", "NOT_READY", "READY", not_ready, ask("READY"), "rq-agent"),
    Row(
        "NOT_READY->LOGOUT:agent",
        "NOT_READY",
        "LOGOUT",
        not_ready,
        ask("LOGOUT", END_OF_SHIFT),
        "rq-agent",
        reason=END_OF_SHIFT,
    ),
    Row(
        "NOT_READY->TALKING:agent-places-call",
        "NOT_READY",
        "TALKING",
        not_ready,
        make_the_call,
        "rq-agent",
    ),
    Row(
        "READY->NOT_READY:agent",
        "READY",
        "NOT_READY",
        ready,
        ask("NOT_READY", BREAK),
        "rq-agent",
        reason=BREAK,
    ),
    Row("READY->RESERVED:routed", "READY", "RESERVED", ready, route_a_call, ""),
    Row("RESERVED->TALKING:answered", "RESERVED", "TALKING", reserved, answer_on_the_phone, ""),
    Row(
        "RESERVED->READY:caller-abandons-while-ringing",
        "RESERVED",
        "READY",
        reserved,
        caller_hangs_up,
        "",
    ),
    Row("TALKING->HOLD:agent-holds", "TALKING", "HOLD", talking, act("HOLD"), "rq-agent"),
    Row("HOLD->TALKING:agent-retrieves", "HOLD", "TALKING", held, act("RETRIEVE"), "rq-agent"),
    # Call end without wrap-up: back to the state before the call, or to the pending state.
    Row(
        "TALKING->READY:call-ends-no-wrap-up",
        "TALKING",
        "READY",
        talking,
        caller_hangs_up,
        "",
        settings=NO_WRAP_UP,
    ),
    Row(
        "TALKING->READY:agent-drops-no-wrap-up",
        "TALKING",
        "READY",
        talking,
        act("DROP"),
        "rq-agent",
        settings=NO_WRAP_UP,
    ),
    Row(
        "HOLD->READY:call-ends-no-wrap-up",
        "HOLD",
        "READY",
        held,
        caller_hangs_up,
        "",
        settings=NO_WRAP_UP,
    ),
    Row(
        "TALKING->NOT_READY:call-ends-pending-no-wrap-up",
        "TALKING",
        "NOT_READY",
        talking_pending("NOT_READY", LUNCH),
        caller_hangs_up,
        "",
        reason=LUNCH,
        settings=NO_WRAP_UP,
    ),
    Row(
        "TALKING->NOT_READY:placed-call-ends-back-to-state-before",
        "TALKING",
        "NOT_READY",
        talking_outbound,
        caller_hangs_up,
        "",
        reason=BREAK,
    ),
    Row(
        "TALKING->READY:placed-call-ends-pending-ready",
        "TALKING",
        "READY",
        talking_outbound_pending_ready,
        caller_hangs_up,
        "",
    ),
    # Call end with wrap-up (wrapUpOnIncoming REQUIRED in the default roster).
    Row(
        "TALKING->WORK_READY:call-ends-agent-was-ready",
        "TALKING",
        "WORK_READY",
        talking,
        caller_hangs_up,
        "",
    ),
    Row(
        "HOLD->WORK_READY:call-ends-agent-was-ready",
        "HOLD",
        "WORK_READY",
        held,
        caller_hangs_up,
        "",
    ),
    Row(
        "TALKING->WORK_READY:placed-call-ends-pending-ready",
        "TALKING",
        "WORK_READY",
        talking_outbound_pending_ready,
        caller_hangs_up,
        "",
        settings={"wrap_up_on_outgoing": "REQUIRED"},
    ),
    Row(
        "TALKING->WORK:call-ends-pending-not-ready",
        "TALKING",
        "WORK",
        talking_pending("NOT_READY", LUNCH),
        caller_hangs_up,
        "",
    ),
    Row("WORK->READY:agent", "WORK", "READY", work, ask("READY"), "rq-agent"),
    Row(
        "WORK->NOT_READY:agent",
        "WORK",
        "NOT_READY",
        work,
        ask("NOT_READY", BREAK),
        "rq-agent",
        reason=BREAK,
    ),
    Row(
        "WORK->NOT_READY:wrap-up-timer",
        "WORK",
        "NOT_READY",
        work,
        wrap_up_timer,
        "",
        reason=LUNCH,  # the reason the agent gave with its pending NOT_READY
    ),
    Row("WORK_READY->READY:agent", "WORK_READY", "READY", work_ready, ask("READY"), "rq-agent"),
    Row("WORK_READY->READY:wrap-up-timer", "WORK_READY", "READY", work_ready, wrap_up_timer, ""),
    Row(
        "WORK_READY->NOT_READY:agent",
        "WORK_READY",
        "NOT_READY",
        work_ready,
        ask("NOT_READY", BREAK),
        "rq-agent",
        reason=BREAK,
    ),
    # UCCX (docs/finesse.md, Agent states)
    Row(
        "UCCX:NOT_READY->LOGOUT:agent",
        "NOT_READY",
        "LOGOUT",
        not_ready,
        ask("LOGOUT", END_OF_SHIFT),
        "rq-agent",
        reason=END_OF_SHIFT,
        settings=UCCX,
    ),
    Row(
        "UCCX:READY->LOGOUT:agent",
        "READY",
        "LOGOUT",
        ready,
        ask("LOGOUT", END_OF_SHIFT),
        "rq-agent",
        reason=END_OF_SHIFT,
        settings=UCCX,
    ),
    Row(
        "UCCX:TALKING->WORK:call-ends-agent-was-ready",
        "TALKING",
        "WORK",
        talking,
        caller_hangs_up,
        "",
        settings=UCCX,
    ),
    Row(
        "UCCX:WORK->READY:wrap-up-timer-agent-was-ready",
        "WORK",
        "READY",
        work_ready,  # on UCCX this call end lands in WORK, not WORK_READY
        wrap_up_timer,
        "",
        settings=UCCX,
    ),
    Row(
        "UCCX:WORK->NOT_READY:wrap-up-timer-pending-not-ready",
        "WORK",
        "NOT_READY",
        work,
        wrap_up_timer,
        "",
        reason=LUNCH,
        settings=UCCX,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_transition(row: Row) -> None:
    world = make_world(config(**row.settings))
    dialog_id = row.setup(world)
    assert world.user(A).state == row.start, "the setup did not reach the From state"
    world.clear()

    row.cause(world, dialog_id)

    user = world.user(A)
    assert (user.state, user.reason_code_id, user.pending_state) == (row.end, row.reason, "")
    puts = user_puts(world)
    assert [u.data.state for u in puts] == list(row.published or (row.end,))
    last = puts[-1]
    assert (last.event, last.source, last.request_id) == ("PUT", user_uri(A), row.request_id)
    assert (last.data.state, last.data.reason_code_id, last.data.pending_state) == (
        row.end,
        row.reason,
        "",
    )


def test_every_transition_of_finesse_md_3_1_has_a_row() -> None:
    """The CCE rows of docs/finesse.md, Agent states that the model simulates (Outbound Option's
    RESERVED_OUTBOUND* and the failover-only UNKNOWN are not simulated)."""
    table = {
        ("LOGOUT", "NOT_READY"),
        ("NOT_READY", "NOT_READY"),
        ("NOT_READY", "READY"),
        ("NOT_READY", "LOGOUT"),
        ("NOT_READY", "TALKING"),
        ("READY", "NOT_READY"),
        ("READY", "RESERVED"),
        ("RESERVED", "TALKING"),
        ("RESERVED", "READY"),
        ("TALKING", "HOLD"),
        ("HOLD", "TALKING"),
        ("TALKING", "READY"),
        ("TALKING", "NOT_READY"),
        ("HOLD", "READY"),
        ("TALKING", "WORK_READY"),
        ("HOLD", "WORK_READY"),
        ("TALKING", "WORK"),
        ("WORK", "READY"),
        ("WORK", "NOT_READY"),
        ("WORK_READY", "READY"),
        ("WORK_READY", "NOT_READY"),
    }
    covered = {(r.start, r.end) for r in ROWS if "deployment" not in r.settings}
    assert table <= covered, sorted(table - covered)


def test_wrap_up_timer_does_not_end_wrap_up_early() -> None:
    world = make_world()
    work_ready(world)
    world.advance(WRAP_UP_SECONDS - 1)
    assert world.user(A).state == "WORK_READY"
    world.advance(2)
    assert world.user(A).state == "READY"


def test_pending_state_is_published_while_talking() -> None:
    """CCE (docs/finesse.md, Agent states): 202, then a User PUT still TALKING with pendingState
    set."""
    world = make_world()
    talking(world)
    world.clear()
    world.state(A, "NOT_READY", LUNCH, request_id="rq-pend")
    [put] = user_puts(world)
    assert (put.data.state, put.data.pending_state, put.request_id) == (
        "TALKING",
        "NOT_READY",
        "rq-pend",
    )


# -- what agents may not do ------------------------------------------------------------------


@pytest.mark.parametrize("start", [not_ready, ready], ids=["from-NOT_READY", "from-READY"])
@pytest.mark.parametrize("target", ["RESERVED", "TALKING", "HOLD", "WORK", "WORK_READY"])
def test_agent_can_never_set_a_system_state(start: Callable[[World], None], target: str) -> None:
    world = make_world()
    start(world)
    before = world.user(A)
    world.clear()
    with pytest.raises(ApiErrorException) as err:
        world.state(A, target)
    error = err.value.error
    assert (err.value.status, error.error_type, error.error_data) == (400, "Invalid Input", "state")
    assert world.user(A).state == before.state
    assert world.notes == []


@pytest.mark.parametrize(
    "setup",
    [ready, talking, held, reserved, work_ready, work],
    ids=["READY", "TALKING", "HOLD", "RESERVED", "WORK_READY", "WORK"],
)
def test_ucce_logout_only_from_not_ready(setup: Callable[[World], str | None]) -> None:
    world = make_world()
    setup(world)
    before = world.user(A).state
    world.clear()
    with pytest.raises(ApiErrorException) as err:
        world.state(A, "LOGOUT", END_OF_SHIFT)
    assert (err.value.status, err.value.error.error_type) == (400, "Invalid State")
    assert world.user(A).state == before
    assert world.notes == []


def test_uccx_refuses_pending_ready_while_talking_asynchronously() -> None:
    world = make_world(config(**UCCX))
    talking(world)
    world.clear()
    world.state(A, "READY", request_id="rq-ready")  # no exception: the REST answer is 202
    [update] = world.updates(f"/User/{A}")
    assert (update.event, update.source, update.request_id) == ("PUT", user_uri(A), "rq-ready")
    [error] = update.data
    assert (error.error_type, error.error_data, error.error_message) == (
        "Invalid State",
        "265",
        "CF_INVALID_AGENT_WORKMODE",
    )
    user = world.user(A)
    assert (user.state, user.pending_state) == ("TALKING", "")


def test_uccx_never_shows_work_ready() -> None:
    world = make_world(config(**UCCX))
    dialog_id = talking(world)
    world.clear()
    world.cc.hangup_call(dialog_id)
    world.advance(WRAP_UP_SECONDS + 0.5)
    states = [u.data.state for u in user_puts(world)]
    assert states == ["WORK", "READY"]


def test_uccx_personal_call_leaves_the_agent_not_ready() -> None:
    world = make_world(config(**UCCX))
    not_ready(world)
    world.clear()
    place_call(world)
    world.advance(ANSWER_SECONDS + 0.1)
    assert world.dialogs(A)[0].state == "ACTIVE"
    assert world.user(A).state == "NOT_READY"
    assert user_puts(world) == []


def test_uccx_ready_during_a_personal_call_is_resource_busy() -> None:
    world = make_world(config(**UCCX))
    talking_outbound(world)
    world.clear()
    world.state(A, "READY", request_id="rq-ready")
    [update] = world.updates(f"/User/{A}")
    [error] = update.data
    assert (error.error_type, error.error_data, error.error_message) == (
        "Invalid State",
        "33",
        "CF_RESOURCE_BUSY",
    )


# -- the pure rules --------------------------------------------------------------------------

OUTCOMES = {"apply": Apply, "pend": Pend, "refuse": Refuse, "refuse-later": RefuseLater}


@pytest.mark.parametrize(
    ("deployment", "current", "requested", "outcome"),
    [
        ("UCCE", "NOT_READY", "READY", "apply"),
        ("UCCE", "READY", "NOT_READY", "apply"),
        ("UCCE", "NOT_READY", "NOT_READY", "apply"),
        ("UCCE", "WORK", "READY", "apply"),
        ("UCCE", "WORK", "NOT_READY", "apply"),
        ("UCCE", "WORK_READY", "READY", "apply"),
        ("UCCE", "WORK_READY", "NOT_READY", "apply"),
        ("UCCX", "WORK", "READY", "apply"),
        ("UCCE", "NOT_READY", "LOGOUT", "apply"),
        ("UCCE", "READY", "LOGOUT", "refuse"),
        ("UCCE", "TALKING", "LOGOUT", "refuse"),
        ("UCCE", "WORK_READY", "LOGOUT", "refuse"),
        ("UCCX", "NOT_READY", "LOGOUT", "apply"),
        ("UCCX", "READY", "LOGOUT", "apply"),
        ("UCCX", "TALKING", "LOGOUT", "refuse"),
        ("UCCE", "TALKING", "READY", "pend"),
        ("UCCE", "TALKING", "NOT_READY", "pend"),
        ("UCCE", "HOLD", "READY", "pend"),
        ("UCCE", "HOLD", "NOT_READY", "pend"),
        ("UCCX", "TALKING", "NOT_READY", "pend"),
        ("UCCX", "TALKING", "READY", "refuse-later"),
        ("UCCX", "HOLD", "READY", "refuse-later"),
        ("UCCE", "RESERVED", "NOT_READY", "refuse"),
        ("UCCE", "LOGOUT", "READY", "refuse"),
        *[("UCCE", "READY", s, "refuse") for s in ("RESERVED", "TALKING", "HOLD")],
        *[("UCCE", "NOT_READY", s, "refuse") for s in ("WORK", "WORK_READY")],
        ("UCCE", "NOT_READY", "RESERVED_OUTBOUND", "refuse"),
        ("UCCX", "READY", "WORK", "refuse"),
    ],
)
def test_decide(deployment: str, current: str, requested: str, outcome: str) -> None:
    decision = agent_states.decide(deployment, current, requested)
    assert type(decision) is OUTCOMES[outcome]
    if isinstance(decision, Refuse):
        # A state agents can never set is an invalid value; a settable one not allowed now
        # is an invalid state change.
        expected = "Invalid State" if requested in agent_states.SETTABLE else "Invalid Input"
        assert (decision.status, decision.error.error_type) == (400, expected)
    if isinstance(decision, RefuseLater):
        error = decision.error
        assert (error.error_type, error.error_data, error.error_message) == (
            "Invalid State",
            "265",
            "CF_INVALID_AGENT_WORKMODE",
        )


def test_decide_rejects_an_unknown_state_as_invalid_input() -> None:
    decision = agent_states.decide("UCCE", "NOT_READY", "SLEEPING")
    assert isinstance(decision, Refuse)
    assert (decision.status, decision.error.error_type, decision.error.error_data) == (
        400,
        "Invalid Input",
        "state",
    )


@pytest.mark.parametrize(
    ("deployment", "target", "wrap_up", "expected"),
    [
        ("UCCE", "READY", False, AfterCall("READY", False, "READY")),
        ("UCCE", "NOT_READY", False, AfterCall("NOT_READY", False, "NOT_READY")),
        ("UCCE", "READY", True, AfterCall("WORK_READY", True, "READY")),
        ("UCCE", "NOT_READY", True, AfterCall("WORK", True, "NOT_READY")),
        ("UCCX", "READY", False, AfterCall("READY", False, "READY")),
        ("UCCX", "READY", True, AfterCall("WORK", True, "READY")),
        ("UCCX", "NOT_READY", True, AfterCall("WORK", True, "NOT_READY")),
        # a pending (or forced) logout ends the session: no wrap-up
        ("UCCE", "LOGOUT", True, AfterCall("LOGOUT", False, "LOGOUT")),
        ("UCCX", "LOGOUT", False, AfterCall("LOGOUT", False, "LOGOUT")),
    ],
    ids=lambda v: v.state if isinstance(v, AfterCall) else str(v),
)
def test_after_call(deployment: str, target: str, wrap_up: bool, expected: AfterCall) -> None:
    assert agent_states.after_call(deployment, target, wrap_up=wrap_up) == expected


@pytest.mark.parametrize(
    ("state", "then", "expected"),
    [
        ("WORK_READY", "READY", "READY"),
        ("WORK_READY", "NOT_READY", "READY"),  # WORK_READY always ends READY
        ("WORK", "NOT_READY", "NOT_READY"),
        ("WORK", "", "NOT_READY"),  # no pending state: the timer leads to NOT_READY
        ("WORK", "READY", "READY"),  # UCCX: wrap-up after a call taken while READY
        ("WORK", "LOGOUT", "LOGOUT"),
    ],
    ids=lambda v: v or "none",
)
def test_wrap_up_timer_target(state: str, then: str, expected: str) -> None:
    assert agent_states.wrap_up_timer_target(state, then) == expected


@pytest.mark.parametrize(
    ("mode", "answered", "expected"),
    [
        ("REQUIRED", True, True),
        ("REQUIRED_WITH_WRAP_UP_DATA", True, True),
        ("OPTIONAL", True, False),
        ("NOT_ALLOWED", True, False),
        ("REQUIRED", False, False),  # a call never answered leaves nothing to wrap up
        ("", True, False),
    ],
    ids=lambda v: str(v) if v != "" else "empty",
)
def test_wrap_up_applies(mode: str, answered: bool, expected: bool) -> None:
    assert agent_states.wrap_up_applies(mode, answered) is expected
