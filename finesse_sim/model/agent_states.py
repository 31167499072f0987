"""Finesse's agent-state rules (docs/finesse.md, Agent states) as pure functions.

`decide` answers what happens to a state the agent asks for (PUT User); `after_call` answers
where the system puts an agent when its last call ends. No clock, no I/O: the contact-centre
model applies the answers, and tests check every row of the tables directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.finesse.models import AgentState, ApiError, WrapUpMode

SETTABLE = frozenset({AgentState.READY, AgentState.NOT_READY, AgentState.LOGOUT})
ON_CALL = frozenset({AgentState.TALKING, AgentState.HOLD})
WRAP_UP = frozenset({AgentState.WORK, AgentState.WORK_READY})


@dataclass(frozen=True, slots=True)
class Apply:
    """Change the state now."""


@dataclass(frozen=True, slots=True)
class Pend:
    """Accept, show it as pendingState, apply when the call ends (CCE, docs/finesse.md, Agent
    states)."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Synchronous error: the HTTP status and the ApiError body."""

    status: int
    error: ApiError


@dataclass(frozen=True, slots=True)
class RefuseLater:
    """202, then an asynchronous apiErrors notification (UCCX pending READY, 3.2)."""

    error: ApiError


Decision = Apply | Pend | Refuse | RefuseLater


def _invalid_state(current: str, requested: str) -> Refuse:
    return Refuse(
        400,
        ApiError(
            "Invalid State",
            f"Cannot change state from {current} to {requested}",
            "state",
        ),
    )


def decide(deployment: str, current: str, requested: str) -> Decision:
    """What a PUT User {state: requested} does to an agent now in `current` (logged in)."""
    if requested not in SETTABLE:
        # Only READY, NOT_READY and LOGOUT may be set (DG125 p61); RESERVED, TALKING, HOLD,
        # WORK, WORK_READY are system-driven. Finesse validates the value itself, so these
        # get the same answer as an unknown state (UNCONFIRMED: Invalid State is possible).
        return Refuse(400, ApiError("Invalid Input", "Invalid State specified for user", "state"))
    if current == AgentState.LOGOUT:
        return _invalid_state(current, requested)
    if requested == AgentState.LOGOUT:
        allowed = (
            {AgentState.NOT_READY}
            if deployment == "UCCE"
            else {AgentState.NOT_READY, AgentState.READY}
        )
        return Apply() if current in allowed else _invalid_state(current, requested)
    if current in (AgentState.READY, AgentState.NOT_READY) or current in WRAP_UP:
        return Apply()
    if current in ON_CALL:
        if deployment == "UCCX" and requested == AgentState.READY:
            return RefuseLater(ApiError("Invalid State", "CF_INVALID_AGENT_WORKMODE", "265"))
        return Pend()
    # RESERVED (and the outbound reservations): the router owns the agent for now.
    return _invalid_state(current, requested)


@dataclass(frozen=True, slots=True)
class AfterCall:
    state: str  # WORK, WORK_READY, READY, NOT_READY or LOGOUT
    wrap_up: bool  # the wrap-up timer runs and the ended dialogs stay in WRAP_UP
    then: str  # the state the wrap-up timer leads to (== state when no wrap-up)


def wrap_up_applies(mode: str, answered: bool) -> bool:
    # OPTIONAL lets the agent choose wrap-up from the desktop; agents cannot request WORK
    # through the REST API, so only REQUIRED modes put them there.
    return answered and mode in (WrapUpMode.REQUIRED, WrapUpMode.REQUIRED_WITH_WRAP_UP_DATA)


def after_call(deployment: str, target: str, *, wrap_up: bool) -> AfterCall:
    """Where an agent goes when its last call ends.

    `target` is the pending state if one was asked for, else the state held before the call
    (READY or NOT_READY), or LOGOUT for a pending/forced logout.
    """
    if target == AgentState.LOGOUT or not wrap_up:
        return AfterCall(target, False, target)
    if deployment == "UCCE" and target == AgentState.READY:
        return AfterCall(AgentState.WORK_READY, True, AgentState.READY)
    return AfterCall(AgentState.WORK, True, target)


def wrap_up_timer_target(state: str, then: str) -> str:
    """The wrap-up timer ends WORK_READY in READY and WORK in NOT_READY (or the pending)."""
    if state == AgentState.WORK_READY:
        return AgentState.READY
    return (
        then
        if then in (AgentState.NOT_READY, AgentState.READY, AgentState.LOGOUT)
        else AgentState.NOT_READY
    )
