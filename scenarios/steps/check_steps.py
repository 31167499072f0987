"""Steps that check: what the agent's app shows (it waits for the events), what Finesse
holds (a REST GET as the agent), what the phone did, the queue, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_bdd import parsers, then

from mobile_sim import view
from scenarios.steps.agent_steps import rows, split
from scenarios.steps.call_steps import ringing_dialog
from scenarios.steps.world import (
    TYPES,
    WAIT,
    Agent,
    World,
    app_dialogs,
    consult_call,
    default_extension,
    describe_dialogs,
    finesse_dialogs,
    finesse_until,
    on_screen,
    own,
    phone_reaches,
    sync,
    the_call,
    until,
)

DialogCheck = Callable[[dict[str, Any]], bool]
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "latest": -1}


async def call_shown(world: World, agent: Agent, check: DialogCheck, what: str) -> None:
    """The agent's call (its dialog with the customer) passes `check` in the app, then in
    Finesse (GET /User/{id}/Dialogs as the agent)."""

    def in_app() -> bool:
        dialog = the_call(world, agent, app_dialogs(agent))
        return dialog is not None and check(dialog)

    await until(agent, in_app, what)

    def in_finesse(dialogs: list[dict[str, Any]]) -> bool:
        dialog = the_call(world, agent, dialogs)
        return dialog is not None and check(dialog)

    await finesse_until(agent, lambda: finesse_dialogs(agent), in_finesse, what, describe_dialogs)


# -- incoming calls ---------------------------------------------------------------------------


async def _incoming(agent: Agent, check: DialogCheck, what: str, seconds: float) -> None:
    def found() -> bool:
        dialog = ringing_dialog(agent)
        return dialog is not None and check(dialog)

    await until(agent, found, what, seconds)


@then(parsers.parse("agent {agent:w}'s app shows an incoming call"))
@then(parsers.parse("within {seconds:g} seconds agent {agent:w}'s app shows an incoming call"))
@sync
async def shows_incoming(world: World, agent: str, seconds: float = WAIT) -> None:
    """A dialog where the agent's own participant is ALERTING (a call is offered)."""
    who = world.agent(agent)
    await _incoming(who, lambda d: True, "an incoming call", seconds)
    await on_screen(who, call="Incoming call")


@then(
    parsers.parse(
        "agent {agent:w}'s app shows an incoming call with {variable:Var} {value}",
        extra_types=TYPES,
    )
)
@then(
    parsers.parse(
        "within {seconds:g} seconds agent {agent:w}'s app shows an incoming call "
        "with {variable:Var} {value}",
        extra_types=TYPES,
    )
)
@sync
async def shows_incoming_with(
    world: World, agent: str, variable: str, value: str, seconds: float = WAIT
) -> None:
    """An incoming call whose call variable (or ECC variable) has that value."""
    who = world.agent(agent)
    await _incoming(
        who,
        lambda d: d.get("callVariables", {}).get(variable) == value,
        f"an incoming call with {variable} {value}",
        seconds,
    )


@then(parsers.parse("agent {agent:w}'s app shows an incoming call from the {ordinal:w} customer"))
@sync
async def shows_incoming_from(world: World, agent: str, ordinal: str) -> None:
    """An incoming call from a given customer of the scenario, in order of calling:
    first, second, third, fourth, or latest."""
    who = world.agent(agent)
    if ordinal not in ORDINALS:
        raise AssertionError(f"{ordinal!r}: say {', '.join(ORDINALS)}")
    if ORDINALS[ordinal] >= len(world.calls):
        raise AssertionError(f"only {len(world.calls)} customer(s) called in this scenario")
    caller = world.calls[ORDINALS[ordinal]].caller
    await _incoming(
        who,
        lambda d: d.get("fromAddress") == caller,
        f"an incoming call from the {ordinal} customer ({caller})",
        WAIT,
    )


@then(parsers.parse("agent {agent:w}'s app shows an incoming consult call from agent {other:w}"))
@sync
async def shows_incoming_consult(world: World, agent: str, other: str) -> None:
    """An incoming CONSULT call placed by the other agent (from its extension)."""
    who = world.agent(agent)
    ext = world.agent(other).extension
    await _incoming(
        who,
        lambda d: d.get("callType") == "CONSULT" and d.get("fromAddress") == ext,
        f"an incoming consult call from agent {other} ({ext})",
        WAIT,
    )


# -- the call, in the app ----------------------------------------------------------------------


@then(parsers.parse("agent {agent:w}'s app shows the call {state:w}"))
@sync
async def shows_call_state(world: World, agent: str, state: str) -> None:
    """The state of the agent's call (the dialog's state: ALERTING, ACTIVE, ...)."""
    who = world.agent(agent)

    def check() -> bool:
        dialog = the_call(world, who, app_dialogs(who))
        return dialog is not None and dialog.get("state") == state

    await until(who, check, f"the call {state}")


def _own_state(world: World, agent: Agent, state: str, dialogs: list[dict[str, Any]]) -> bool:
    dialog = the_call(world, agent, dialogs)
    return dialog is not None and view.my_state(dialog, agent.me) == state


@then(parsers.parse("agent {agent:w}'s app shows the call on hold"))
@sync
async def shows_on_hold(world: World, agent: str) -> None:
    """The agent's own participant on its call with the customer is HELD."""
    who = world.agent(agent)
    await until(who, lambda: _own_state(world, who, "HELD", app_dialogs(who)), "the call HELD")
    await on_screen(who, call="Call on hold")


@then(parsers.parse("agent {agent:w}'s app shows the call in wrap-up"))
@sync
async def shows_in_wrap_up(world: World, agent: str) -> None:
    """The call has ended for the agent and its dialog stays in WRAP_UP (wrap-up applies)."""
    who = world.agent(agent)
    await until(
        who, lambda: _own_state(world, who, "WRAP_UP", app_dialogs(who)), "the call in WRAP_UP"
    )
    await on_screen(who, wrap_up=True)


@then(parsers.parse("agent {agent:w}'s app offers {action:w} on the call"))
@sync
async def offers_action(world: World, agent: str, action: str) -> None:
    """The action is among the `actions` of the agent's call in the app (e.g. TRANSFER
    once a consult call is connected)."""
    who = world.agent(agent)

    def check() -> bool:
        dialog = the_call(world, who, app_dialogs(who))
        return dialog is not None and view.offers(dialog, action)

    await until(who, check, f"the call offering {action}")


@then(parsers.parse("agent {agent:w}'s app offers no call control on the call"))
@sync
async def offers_nothing(world: World, agent: str) -> None:
    """The agent's call shows no action at all (a state-only desk login)."""
    who = world.agent(agent)
    dialog = await until(who, lambda: the_call(world, who, app_dialogs(who)), "the call")
    assert dialog.get("actions") == [], f"agent {agent}: actions {dialog.get('actions')}"


# -- the call, in the app and in Finesse --------------------------------------------------------


@then(parsers.parse("agent {agent:w} is talking to the customer in the app and in Finesse"))
@sync
async def talking_to_customer(world: World, agent: str) -> None:
    """The agent's call with the (latest) customer is ACTIVE, with the agent's participant
    and the customer's both ACTIVE, in the app and in Finesse."""
    who = world.agent(agent)
    caller = world.call.caller

    def check(dialog: dict[str, Any]) -> bool:
        mine, theirs = own(who, dialog), view.participant(dialog, caller)
        return (
            dialog.get("state") == "ACTIVE"
            and mine is not None
            and mine.get("state") == "ACTIVE"
            and theirs is not None
            and theirs.get("state") == "ACTIVE"
        )

    await call_shown(world, who, check, f"an ACTIVE call with the customer {caller}")


@then(parsers.parse("agent {agent:w} has no call in the app and in Finesse"))
@sync
async def has_no_call(world: World, agent: str) -> None:
    """No dialog at all for the agent, in the app and in Finesse (a call in wrap-up still
    counts as a call)."""
    who = world.agent(agent)
    await until(who, lambda: not who.app.dialogs, "no call")
    await finesse_until(
        who, lambda: finesse_dialogs(who), lambda ds: not ds, "no call", describe_dialogs
    )


@then(parsers.parse("agent {agent:w}'s call is a {call_type:w} call in the app and in Finesse"))
@sync
async def call_type_is(world: World, agent: str, call_type: str) -> None:
    """The call's `callType` (ACD_IN, CONSULT, TRANSFER, CONFERENCE, ...)."""
    who = world.agent(agent)
    await call_shown(world, who, lambda d: d.get("callType") == call_type, f"a {call_type} call")


@then(
    parsers.parse(
        "agent {agent:w}'s call carries {variable:Var} {value} in the app and in Finesse",
        extra_types=TYPES,
    )
)
@sync
async def call_carries(world: World, agent: str, variable: str, value: str) -> None:
    """One call variable (or ECC `user.*` variable) of the agent's call."""
    who = world.agent(agent)
    await call_shown(
        world,
        who,
        lambda d: d.get("callVariables", {}).get(variable) == value,
        f"the call with {variable} {value}",
    )


@then(
    parsers.parse("agent {agent:w}'s call carries these call variables in the app and in Finesse:")
)
@sync
async def call_carries_table(world: World, agent: str, datatable: list[list[str]]) -> None:
    """Every call variable of a `variable` | `value` table, on the agent's call."""
    who = world.agent(agent)
    want = {
        r["variable"]: r.get("value", "")
        for r in rows(datatable, {"variable", "value"}, {"variable", "value"})
    }

    def check(dialog: dict[str, Any]) -> bool:
        got = dialog.get("callVariables", {})
        return all(got.get(k) == v for k, v in want.items())

    await call_shown(world, who, check, f"the call with {want}")


@then(
    parsers.parse(
        'agent {agent:w}\'s call has the wrap-up reason "{reason}" in the app and in Finesse'
    )
)
@sync
async def call_wrap_up_reason(world: World, agent: str, reason: str) -> None:
    """The wrap-up reason recorded on the agent's call."""
    who = world.agent(agent)
    await call_shown(
        world, who, lambda d: d.get("wrapUpReason") == reason, f"wrap-up reason {reason!r}"
    )


@then(parsers.parse("agent {agent:w}'s call has these participants in the app and in Finesse:"))
@sync
async def call_participants(world: World, agent: str, datatable: list[list[str]]) -> None:
    """Exactly these participants on the agent's call, with their states. `participant`
    is `customer` (the latest customer) or `agent 100N`. Participants who left the call
    (DROPPED, or WRAP_UP for an agent who left) are ignored unless the table lists that
    state."""
    who = world.agent(agent)
    want: dict[str, str] = {}
    for row in rows(datatable, {"participant", "state"}, {"participant", "state"}):
        name = row["participant"]
        if name == "customer":
            address = world.call.caller
        elif name.startswith("agent "):
            other = name.removeprefix("agent ").strip()
            address = (
                world.agents[other].extension if other in world.agents else default_extension(other)
            )
        else:
            raise AssertionError(f"participant {name!r}: say 'customer' or 'agent 100N'")
        want[address] = row["state"]
    ignored = {"DROPPED", "WRAP_UP"} - set(want.values())

    def check(dialog: dict[str, Any]) -> bool:
        got = {
            p["mediaAddress"]: p["state"]
            for p in dialog.get("participants", [])
            if p.get("state") not in ignored
        }
        return got == want

    await call_shown(world, who, check, f"the call with participants {want}")


# -- the phone --------------------------------------------------------------------------------


def _phone_event(event: str, doc: str) -> Callable[..., None]:
    @sync
    async def step(world: World, agent: str) -> None:
        who = world.agent(agent)
        if who.phone is None:
            raise AssertionError(f"agent {agent} has no phone in this scenario")
        await phone_reaches(who.phone, event)

    step.__doc__ = doc
    return step


then(parsers.parse("agent {agent:w}'s phone rings"))(
    _phone_event("ring", "The agent's handset rings (now, or within the wait).")
)
then(parsers.parse("agent {agent:w}'s phone is connected"))(
    _phone_event("connected", "The agent's handset is connected to a call.")
)
then(parsers.parse("agent {agent:w}'s phone is on hold"))(
    _phone_event("held", "The agent's handset hears its call put on hold.")
)
then(parsers.parse("agent {agent:w}'s phone hangs up"))(
    _phone_event("ended", "The call on the agent's handset has ended (hung up or gone).")
)


# -- the queue --------------------------------------------------------------------------------


async def _queue(world: World, dn: str) -> dict[str, Any]:
    for queue in await world.sim.queues():
        if queue["dn"] == dn:
            return queue
    raise AssertionError(f"no queue on DN {dn}")


@then(parsers.parse("queue {dn:w} holds {count:d} waiting call"))
@then(parsers.parse("queue {dn:w} holds {count:d} waiting calls"))
@sync
async def queue_holds(world: World, dn: str, count: int) -> None:
    """How many calls wait in the queue now (GET /sim/v1/queues)."""
    queue = await _queue(world, dn)
    assert queue["callsInQueue"] == count, f"queue {dn}: {queue}"


@then(parsers.parse("the longest available agents of queue {dn:w} are {agents}"))
@sync
async def longest_available(world: World, dn: str, agents: str) -> None:
    """The queue's READY agents in routing order, longest available first
    (comma-separated, e.g. `1002, 1003, 1001`)."""
    queue = await _queue(world, dn)
    assert queue["longestAvailable"] == split(agents), f"queue {dn}: {queue}"


# -- refusals ------------------------------------------------------------------------------------


@then(parsers.parse("it is refused with {status:d} {error}"))
@sync
async def refused(world: World, status: int, error: str) -> None:
    """The last "tries to" step was refused with that HTTP status and error type (the
    connector's own, e.g. 409 action_not_allowed, or Finesse's passed through, e.g. 400
    Invalid State)."""
    attempt = world.attempt
    assert attempt is not None, "no 'tries to' step before this one"
    assert attempt.error is not None, f"{attempt.what} was accepted: {attempt.result}"
    got = (attempt.error.status, attempt.error.type)
    assert got == (status, error), f"{attempt.what} was refused with {got}: {attempt.error}"


@then(parsers.parse("it is accepted"))
@sync
async def accepted(world: World) -> None:
    """The last "tries to" step was accepted."""
    attempt = world.attempt
    assert attempt is not None, "no 'tries to' step before this one"
    assert attempt.error is None, f"{attempt.what} was refused: {attempt.error}"


@then(parsers.parse('the refusal does not mention "{text}"'))
@sync
async def refusal_hides(world: World, text: str) -> None:
    """The error the app got does not contain that text (e.g. the password)."""
    attempt = world.attempt
    assert attempt is not None and attempt.error is not None, "nothing was refused"
    assert text not in str(attempt.error), f"the refusal says {attempt.error}"


@then(parsers.parse("agent {agent:w}'s consult call is gone from the app"))
@sync
async def consult_gone(world: World, agent: str) -> None:
    """No CONSULT dialog left in the agent's app."""
    who = world.agent(agent)
    await until(who, lambda: consult_call(app_dialogs(who)) is None, "no consult call")
