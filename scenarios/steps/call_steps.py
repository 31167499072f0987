"""Steps about calls: customers calling and hanging up, the phone in the agent's hand, and
every call action the app offers (answer, hold, retrieve, consult, transfer, conference,
single-step transfer, end, wrap-up, call data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_bdd import given, parsers, when

from mobile_sim import view
from scenarios.steps.agent_steps import rows, state_shown
from scenarios.steps.world import (
    TYPES,
    Agent,
    World,
    app_dialogs,
    consult_call,
    phone_reaches,
    sync,
    the_call,
    until,
)

Pick = Callable[[], dict[str, Any] | None]


# -- customers ------------------------------------------------------------------------------


@when(parsers.parse("a customer calls {dn:w}"))
@sync
async def customer_calls(world: World, dn: str) -> None:
    """A customer dials a number (POST /sim/v1/calls): the queue DN 8000, an agent's
    extension, or any number. Each customer of a scenario calls from its own number."""
    await world.customer_calls(dn)


@when(parsers.parse("a customer calls {dn:w} with {variable:Var} {value}", extra_types=TYPES))
@sync
async def customer_calls_with(world: World, dn: str, variable: str, value: str) -> None:
    """A customer calls with one call variable: `callVariable1`-`callVariable10`, or an
    ECC variable `user.<name>`."""
    await world.customer_calls(dn, {variable: value})


@when(parsers.parse("a customer calls {dn:w} with these call variables:"))
@sync
async def customer_calls_with_table(world: World, dn: str, datatable: list[list[str]]) -> None:
    """A customer calls with the call variables of a `variable` | `value` table."""
    table = rows(datatable, {"variable", "value"}, {"variable", "value"})
    await world.customer_calls(dn, {r["variable"]: r.get("value", "") for r in table})


@when(parsers.parse("a customer calls agent {agent:w}'s extension"))
@sync
async def customer_calls_agent(world: World, agent: str) -> None:
    """A customer dials the agent's extension directly (not through a queue): it rings
    whatever the agent's state."""
    await world.customer_calls(world.agent(agent).extension)


@when(parsers.parse("the customer hangs up"))
@sync
async def customer_hangs_up(world: World) -> None:
    """The latest customer hangs up (POST /sim/v1/calls/{id}/hangup): a queued call is
    abandoned, a ringing or connected one ends."""
    await world.sim.hang_up_call(world.call.id)


@given(parsers.parse("agent {agent:w} is talking to a customer"))
@given(
    parsers.parse(
        "agent {agent:w} is talking to a customer who called with {variable:Var} {value}",
        extra_types=TYPES,
    )
)
@sync
async def talking_to_a_customer(
    world: World, agent: str, variable: str = "", value: str = ""
) -> None:
    """The whole way to a connected call: the agent goes READY (if not yet), a customer
    calls the queue 8000, the call is routed to this agent (so no other agent should be
    READY), the agent answers it (on the phone; in the app on a NAILED_CONNECTION) and
    the app and Finesse show it TALKING."""
    who = world.agent(agent)
    if who.app.agent.get("state") != "READY":
        await who.app.ready()
        await state_shown(who, "READY")
    await world.customer_calls("8000", {variable: value} if variable else None)
    await until(who, lambda: ringing_dialog(who), "an incoming call")
    if who.mode == "NAILED_CONNECTION":
        await act(who, "ANSWER", lambda: ringing_dialog(who))
    else:
        phone = _phone(who)
        await phone_reaches(phone, "ring")
        await phone.answer()
        await phone_reaches(phone, "connected")
    await state_shown(who, "TALKING")


# -- the phone in the agent's hand -----------------------------------------------------------


def _phone(agent: Agent) -> Any:
    if agent.phone is None:
        raise AssertionError(f"agent {agent.id} has no phone in this scenario")
    return agent.phone


@when(parsers.parse("agent {agent:w} answers on the phone"))
@sync
async def answers_on_phone(world: World, agent: str) -> None:
    """The agent picks up its handset once it rings (POST /sim/v1/phones/{number}/answer):
    the mobile dial number, or the desk phone of a desk login."""
    phone = _phone(world.agent(agent))
    await phone_reaches(phone, "ring")
    await phone.answer()


@when(parsers.parse("agent {agent:w} tries to answer on the phone"))
@sync
async def tries_to_answer_on_phone(world: World, agent: str) -> None:
    """Picks up the handset if it rings; the simulator refuses with 404 Not Found when it
    does not (e.g. a NAILED_CONNECTION line, already connected)."""
    await world.try_("answer on the phone", _phone(world.agent(agent)).answer())


@when(parsers.parse("agent {agent:w} rejects the call on the phone"))
@sync
async def rejects_on_phone(world: World, agent: str) -> None:
    """The agent declines the call on its handset once it rings."""
    phone = _phone(world.agent(agent))
    await phone_reaches(phone, "ring")
    await phone.reject()


@when(parsers.parse("agent {agent:w} hangs up the nailed connection"))
@sync
async def hangs_up_nailed(world: World, agent: str) -> None:
    """Hangs up the NAILED_CONNECTION line on the handset (it signs the agent out)."""
    await _phone(world.agent(agent)).hang_up()


@when(parsers.parse("nobody answers agent {agent:w}'s phone"))
@sync
async def nobody_answers(world: World, agent: str) -> None:
    """Waits until the ringing handset stops ringing by itself (ring-no-answer, 15 s of
    simulator time: speed the clock up first)."""
    await phone_reaches(_phone(world.agent(agent)), "ended")


# -- call actions in the app -------------------------------------------------------------------


def ringing_dialog(agent: Agent) -> dict[str, Any] | None:
    """The dialog where the agent's own participant is ALERTING."""
    ringing = view.dialogs_where_i_am(app_dialogs(agent), agent.me, "ALERTING")
    return ringing[0] if ringing else None


def call_of(world: World, agent: Agent) -> Pick:
    return lambda: the_call(world, agent, app_dialogs(agent))


def consult_of(agent: Agent) -> Pick:
    return lambda: consult_call(app_dialogs(agent))


async def act(agent: Agent, action: str, pick: Pick, what: str = "the call", **params: Any) -> str:
    """Waits until the picked dialog offers `action` (its `actions` in the app), then
    POSTs it; a refusal fails the step."""

    def ready() -> dict[str, Any] | None:
        dialog = pick()
        return dialog if dialog and view.offers(dialog, action) else None

    dialog = await until(agent, ready, f"{what} offering {action}")
    return await agent.app.action(dialog["id"], action, **params)


async def attempt(
    world: World, agent: Agent, action: str, pick: Pick, what: str = "the call", **params: Any
) -> None:
    """Waits until the picked dialog exists, then POSTs the action whether offered or not;
    the outcome is kept for "it is refused with ..." / "it is accepted"."""
    dialog = await until(agent, pick, what)
    await world.try_(action, agent.app.action(dialog["id"], action, **params))


@when(parsers.parse("agent {agent:w} answers in the app"))
@sync
async def answers_in_app(world: World, agent: str) -> None:
    """ANSWER on the ringing call from the app (on a NAILED_CONNECTION the line is already
    connected; on CALL_BY_CALL it connects the ringing handset)."""
    who = world.agent(agent)
    await act(who, "ANSWER", lambda: ringing_dialog(who), "a ringing call")


@when(parsers.parse("agent {agent:w} tries to answer in the app"))
@sync
async def tries_to_answer_in_app(world: World, agent: str) -> None:
    """ANSWER on the ringing call, offered or not (e.g. a desk login has no call control)."""
    who = world.agent(agent)
    await attempt(world, who, "ANSWER", lambda: ringing_dialog(who), "a ringing call")


@when(parsers.parse("agent {agent:w} puts the call on hold"))
@sync
async def holds(world: World, agent: str) -> None:
    """HOLD on the agent's call with the customer."""
    who = world.agent(agent)
    await act(who, "HOLD", call_of(world, who))


@when(parsers.parse("agent {agent:w} tries to put the call on hold"))
@sync
async def tries_to_hold(world: World, agent: str) -> None:
    """HOLD on the agent's call, offered or not."""
    who = world.agent(agent)
    await attempt(world, who, "HOLD", call_of(world, who))


@when(parsers.parse("agent {agent:w} retrieves the call"))
@sync
async def retrieves(world: World, agent: str) -> None:
    """RETRIEVE on the held call with the customer."""
    who = world.agent(agent)
    await act(who, "RETRIEVE", call_of(world, who))


@when(parsers.parse("agent {agent:w} consults agent {other:w}"))
@sync
async def consults(world: World, agent: str, other: str) -> None:
    """CONSULT_CALL to the other agent's extension: the customer is put on hold and the
    other agent's phone rings (answer it to make TRANSFER and CONFERENCE possible)."""
    who = world.agent(agent)
    to = world.agent(other).extension
    await act(who, "CONSULT_CALL", call_of(world, who), toAddress=to)


@when(parsers.parse("agent {agent:w} transfers the call"))
@sync
async def transfers(world: World, agent: str) -> None:
    """TRANSFER on the held customer call, once the consult call is connected: the
    customer and the consulted agent stay together, the agent leaves."""
    who = world.agent(agent)
    await act(who, "TRANSFER", call_of(world, who))


@when(parsers.parse("agent {agent:w} tries to transfer the call"))
@sync
async def tries_to_transfer(world: World, agent: str) -> None:
    """TRANSFER on the customer call, offered or not (e.g. before the consult answered)."""
    who = world.agent(agent)
    await attempt(world, who, "TRANSFER", call_of(world, who))


@when(parsers.parse("agent {agent:w} conferences the calls"))
@sync
async def conferences(world: World, agent: str) -> None:
    """CONFERENCE on the held customer call, once the consult call is connected: the
    customer, the agent and the consulted agent on one call."""
    who = world.agent(agent)
    await act(who, "CONFERENCE", call_of(world, who))


@when(parsers.parse("agent {agent:w} blind-transfers the call to agent {other:w}"))
@sync
async def blind_transfers(world: World, agent: str, other: str) -> None:
    """TRANSFER_SST (single-step transfer) to the other agent's extension: the agent
    leaves at once and the call rings the other agent."""
    who = world.agent(agent)
    to = world.agent(other).extension
    await act(who, "TRANSFER_SST", call_of(world, who), toAddress=to)


@when(parsers.parse("agent {agent:w} tries to blind-transfer the call to agent {other:w}"))
@sync
async def tries_to_blind_transfer(world: World, agent: str, other: str) -> None:
    """TRANSFER_SST to the other agent's extension; Finesse may refuse it (e.g. a busy
    destination)."""
    who = world.agent(agent)
    to = world.agent(other).extension
    await attempt(world, who, "TRANSFER_SST", call_of(world, who), toAddress=to)


@when(parsers.parse("agent {agent:w} ends the call"))
@when(parsers.parse("agent {agent:w} leaves the conference"))
@sync
async def ends_the_call(world: World, agent: str) -> None:
    """DROP on the agent's call with the customer (in a conference, the others stay)."""
    who = world.agent(agent)
    await act(who, "DROP", call_of(world, who))


@when(parsers.parse("agent {agent:w} ends the consult call"))
@sync
async def ends_the_consult(world: World, agent: str) -> None:
    """DROP on the consult call; the customer stays on hold until retrieved."""
    who = world.agent(agent)
    await act(who, "DROP", consult_of(who), "the consult call")


@when(parsers.parse('agent {agent:w} picks the wrap-up reason "{reason}"'))
@sync
async def picks_wrap_up_reason(world: World, agent: str, reason: str) -> None:
    """UPDATE_CALL_DATA with that wrap-up reason on the call in wrap-up (the labels are
    those the app lists: "Resolved", "Escalated")."""
    who = world.agent(agent)
    await act(who, "UPDATE_CALL_DATA", call_of(world, who), wrapUpReason=reason)


@when(parsers.parse("agent {agent:w} sets {variable:Var} to {value}", extra_types=TYPES))
@sync
async def sets_call_variable(world: World, agent: str, variable: str, value: str) -> None:
    """UPDATE_CALL_DATA with one call variable (`callVariableN` or ECC `user.<name>`)."""
    who = world.agent(agent)
    await act(who, "UPDATE_CALL_DATA", call_of(world, who), callVariables={variable: value})


@when(parsers.parse("agent {agent:w} tries to make a call to {number:w}"))
@sync
async def tries_to_make_a_call(world: World, agent: str, number: str) -> None:
    """POST /dialogs {toAddress}: a call from the app, which may be refused."""
    await world.try_("make a call", world.agent(agent).app.make_call(number))
