"""Steps about agents: logging in and out through the app, agent states and reason codes,
and the simulator's clock."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from connector.finesse import codec
from mobile_sim.app import AppError
from scenarios.steps.world import (
    MODES,
    PASSWORD,
    WAIT,
    Agent,
    World,
    describe_user,
    finesse_until,
    on_screen,
    sync,
    until,
)


async def finesse_user_until(
    agent: Agent,
    check: Any,
    what: str,
    describe: Any = describe_user,
    timeout: float = WAIT,
) -> Any:
    """The agent's User as Finesse holds it (GET User as the agent), once `check` holds."""
    return await finesse_until(agent, agent.finesse.get_user, check, what, describe, timeout)


LOGIN_COLUMNS = {"agent", "mode", "dial number", "extension", "password"}


def rows(datatable: list[list[str]], required: set[str], allowed: set[str]) -> list[dict[str, str]]:
    """A data table with a header row, as dicts; empty cells are left out."""
    if not datatable or len(datatable) < 2:
        raise AssertionError("the step needs a data table: a header row and at least one row")
    header = [h.strip() for h in datatable[0]]
    unknown = set(header) - allowed
    if unknown:
        raise AssertionError(
            f"unknown column(s) {sorted(unknown)}; the table takes {sorted(allowed)}"
        )
    missing = required - set(header)
    if missing:
        raise AssertionError(f"missing column(s) {sorted(missing)}")
    return [
        {k: v.strip() for k, v in zip(header, row, strict=True) if v.strip()}
        for row in datatable[1:]
    ]


def mode_of(row: dict[str, str]) -> str:
    mode = row.get("mode", "CALL_BY_CALL")
    if mode not in MODES:
        raise AssertionError(f"mode {mode!r}: use one of {', '.join(MODES)}")
    return mode


async def reason_code_id(agent: Agent, category: str, label: str) -> str:
    """The id of a reason code, from the list the app gets (GET /reason-codes)."""
    codes = await agent.app.reason_codes(category)
    for code in codes:
        if code["label"] == label:
            return str(code["id"])
    labels = ", ".join(repr(c["label"]) for c in codes)
    raise AssertionError(f"no {category} reason code {label!r}; the app lists {labels}")


async def state_shown(agent: Agent, state: str, timeout: float = WAIT) -> None:
    await until(agent, lambda: agent.app.agent.get("state") == state, f"the agent {state}", timeout)
    await on_screen(agent, state=state)
    await finesse_user_until(
        agent,
        lambda u: u.state == state,
        f"state {state}",
        lambda u: f"state {u.state}",
        timeout,
    )


# -- logging in ---------------------------------------------------------------------------------


@given(parsers.parse("these agents are logged in through the app:"))
@sync
async def agents_logged_in(world: World, datatable: list[list[str]]) -> None:
    """Logs each agent in through the app (POST /sessions) and opens its event stream.
    Columns: `agent`, `mode` (CALL_BY_CALL, NAILED_CONNECTION, or `desk` for a login on
    the extension only), `dial number` and `extension` (defaults from the roster: agent
    100N on extension 500N and dial number +1555123000N). A NAILED_CONNECTION login
    answers the setup call on the phone, as the login requires. Agents start NOT_READY."""
    for row in rows(datatable, {"agent"}, LOGIN_COLUMNS):
        agent = await world.new_agent(
            row["agent"], mode_of(row), row.get("dial number", ""), row.get("extension", "")
        )
        await world.sign_in(agent, row.get("password", PASSWORD))


@given(parsers.parse("agent {agent:w} is logged in through the app as {mode:w}"))
@sync
async def agent_logged_in(world: World, agent: str, mode: str) -> None:
    """One agent logged in, with the roster's extension and dial number; `mode` is
    CALL_BY_CALL, NAILED_CONNECTION or desk."""
    await world.sign_in(await world.new_agent(agent, mode))


@when(parsers.parse("agent {agent:w} logs in through the app again"))
@sync
async def agent_logs_in_again(world: World, agent: str) -> None:
    """Logs the agent in again with the same mode, extension and dial number as before."""
    await world.sign_in(world.agent(agent))


@when(parsers.parse("agent {agent:w} tries to log in through the app with:"))
@sync
async def agent_tries_to_log_in(world: World, agent: str, datatable: list[list[str]]) -> None:
    """A login that may be refused (check it with "it is refused with ..."). One row of
    `password`, `mode`, `extension`, `dial number`; what is left out is the roster's."""
    (row,) = rows(datatable, set(), LOGIN_COLUMNS - {"agent"})
    mode = mode_of(row)
    who = await world.new_agent(agent, mode, row.get("dial number", ""), row.get("extension", ""))
    await world.try_("log in", world.sign_in(who, row.get("password", PASSWORD)))


@when(
    parsers.parse("agent {agent:w} tries to log in as NAILED_CONNECTION and rejects the setup call")
)
@sync
async def agent_rejects_setup_call(world: World, agent: str) -> None:
    """A NAILED_CONNECTION login with the roster's numbers; the setup call rings the phone
    and the agent rejects it, so Finesse does not complete the login."""
    who = await world.new_agent(agent, "NAILED_CONNECTION")
    await world.try_("log in", world.sign_in(who, setup_call="reject"))


@then(parsers.parse("agent {agent:w} is signed in as {mode:w} in the app and in Finesse"))
@sync
async def signed_in_as(world: World, agent: str, mode: str) -> None:
    """The login's mobile mode as the app shows it (`agent.mobile`) and as Finesse holds it
    (`mobileAgent`); `desk` means no mobile agent at all."""
    who = world.agent(agent)
    want = None if mode == "desk" else mode

    def app_mode() -> str | None:
        mobile = who.app.agent.get("mobile")
        return mobile.get("mode") if mobile else None

    await until(who, lambda: app_mode() == want, f"mobile mode {want}")
    await finesse_user_until(
        who,
        lambda u: (u.mobile_agent.mode if u.mobile_agent else None) == want,
        f"mobile mode {want}",
        lambda u: f"mobileAgent {u.mobile_agent}",
    )


@then(parsers.parse("agent {agent:w}'s app has call control"))
@sync
async def has_call_control(world: World, agent: str) -> None:
    """The login answered `capabilities.callControl: true` (a mobile login)."""
    caps = world.agent(agent).app.capabilities
    assert caps.get("callControl") is True, f"agent {agent}: capabilities {caps}"


@then(parsers.parse("agent {agent:w}'s app has no call control"))
@sync
async def has_no_call_control(world: World, agent: str) -> None:
    """The login answered `capabilities.callControl: false` (a state-only desk login)."""
    caps = world.agent(agent).app.capabilities
    assert caps.get("callControl") is False, f"agent {agent}: capabilities {caps}"


# -- agent state ----------------------------------------------------------------------------


@given(parsers.parse("agent {agent:w} is READY"))
@sync
async def agent_is_ready(world: World, agent: str) -> None:
    """Asks READY from the app and waits until the app and Finesse show it."""
    who = world.agent(agent)
    if who.app.agent.get("state") != "READY":
        await who.app.ready()
    await state_shown(who, "READY")


@given(parsers.parse("these agents are READY, in this order:"))
@sync
async def agents_ready_in_order(world: World, datatable: list[list[str]]) -> None:
    """Each agent of the `agent` column goes READY, one after the other (each waits until
    Finesse shows it): the first has then been available the longest."""
    for row in rows(datatable, {"agent"}, {"agent"}):
        who = world.agent(row["agent"])
        await who.app.ready()
        await state_shown(who, "READY")


@when(parsers.parse("agent {agent:w} goes READY"))
@sync
async def goes_ready(world: World, agent: str) -> None:
    """Asks READY from the app (PUT /agent/state); a refusal fails the step. Check the
    outcome with a Then step: during a call it becomes a pending state."""
    who = world.agent(agent)
    await who.app.ready()


@when(parsers.parse('agent {agent:w} goes NOT_READY with reason "{reason}"'))
@sync
async def goes_not_ready(world: World, agent: str, reason: str) -> None:
    """Asks NOT_READY with the reason code of that label (as the app lists it, e.g.
    "Break" or "Lunch"); a refusal fails the step."""
    who = world.agent(agent)
    code = await reason_code_id(who, "NOT_READY", reason)
    await who.app.not_ready(code)


@when(parsers.parse("agent {agent:w} tries to go {state:w}"))
@sync
async def tries_to_go(world: World, agent: str, state: str) -> None:
    """Asks for a state without a reason code; the outcome is checked by "it is refused
    with ..." or "it is accepted"."""
    who = world.agent(agent)
    await world.try_(f"go {state}", who.app.set_state(state))


@when(parsers.parse("agent {agent:w} tries to go NOT_READY with reason code {code:d}"))
@sync
async def tries_not_ready_code(world: World, agent: str, code: int) -> None:
    """Asks NOT_READY with a raw reason code id (e.g. one that does not exist)."""
    who = world.agent(agent)
    await world.try_("go NOT_READY", who.app.not_ready(code))


def _reason_matches(reason: dict[str, Any] | None, label: str) -> bool:
    return bool(reason) and reason.get("label") == label


@then(parsers.parse("agent {agent:w} is {state:w} in the app and in Finesse"))
@then(
    parsers.parse(
        "within {seconds:g} seconds agent {agent:w} is {state:w} in the app and in Finesse"
    )
)
@sync
async def is_state_in_both(world: World, agent: str, state: str, seconds: float = WAIT) -> None:
    """The agent state the app shows (waiting for its agent.state event) and the one
    Finesse holds (GET User as the agent). Use "within N seconds" where a timer decides."""
    await state_shown(world.agent(agent), state, seconds)


@then(parsers.parse("agent {agent:w} is {state:w} in the app"))
@sync
async def is_state_in_app(world: World, agent: str, state: str) -> None:
    """The agent state the app shows (waiting for its agent.state event)."""
    who = world.agent(agent)
    await until(who, lambda: who.app.agent.get("state") == state, f"the agent {state}")
    await on_screen(who, state=state)


@then(parsers.parse("agent {agent:w} is {state:w} in Finesse"))
@sync
async def is_state_in_finesse(world: World, agent: str, state: str) -> None:
    """The state Finesse holds (GET User as the agent); also works for an agent whose
    login was refused."""
    who = world.agents.get(agent) or await world.new_agent(agent, "desk", with_phone=False)
    await finesse_user_until(
        who,
        lambda u: u.state == state,
        f"state {state}",
        lambda u: f"state {u.state}",
    )


@then(
    parsers.parse('agent {agent:w} is {state:w} with reason "{reason}" in the app and in Finesse')
)
@then(
    parsers.parse(
        'within {seconds:g} seconds agent {agent:w} is {state:w} with reason "{reason}" '
        "in the app and in Finesse"
    )
)
@sync
async def is_state_with_reason(
    world: World, agent: str, state: str, reason: str, seconds: float = WAIT
) -> None:
    """The state and its reason code's label, in the app (`agent.reasonCode`) and in
    Finesse (the User's reasonCode)."""
    who = world.agent(agent)
    await until(
        who,
        lambda: (
            who.app.agent.get("state") == state
            and _reason_matches(who.app.agent.get("reasonCode"), reason)
        ),
        f"the agent {state} with reason {reason!r}",
        seconds,
    )
    await finesse_user_until(
        who,
        lambda u: u.state == state and u.reason_code is not None and u.reason_code.label == reason,
        f"state {state} with reason {reason!r}",
        describe_user,
        seconds,
    )


@then(
    parsers.parse(
        "agent {agent:w} is {state:w} with reason code {code:d} in the app and in Finesse"
    )
)
@sync
async def is_state_with_code(world: World, agent: str, state: str, code: int) -> None:
    """The state and the reason code's number (e.g. the system code 32767 that
    ring-no-answer sets on UCCE), in the app and in Finesse."""
    who = world.agent(agent)

    def app_ok() -> bool:
        reason = who.app.agent.get("reasonCode") or {}
        return who.app.agent.get("state") == state and str(reason.get("code")) == str(code)

    await until(who, app_ok, f"the agent {state} with reason code {code}")
    await finesse_user_until(
        who,
        lambda u: (
            u.state == state
            and (u.reason_code.code if u.reason_code else u.reason_code_id) == str(code)
        ),
        f"state {state} with reason code {code}",
        describe_user,
    )


@then(parsers.parse('agent {agent:w} is {state:w} with reason "{reason}" in Finesse'))
@sync
async def is_state_with_reason_in_finesse(
    world: World, agent: str, state: str, reason: str
) -> None:
    """The state and its reason code's label as Finesse holds them (e.g. after a logout,
    when the app is signed out)."""
    who = world.agent(agent)
    await finesse_user_until(
        who,
        lambda u: u.state == state and u.reason_code is not None and u.reason_code.label == reason,
        f"state {state} with reason {reason!r}",
        describe_user,
    )


@then(parsers.parse("agent {agent:w} has the pending state {state:w} in the app and in Finesse"))
@sync
async def has_pending(world: World, agent: str, state: str) -> None:
    """A state asked during a call waits for the call's end: `pendingState` in the app
    and in Finesse."""
    who = world.agent(agent)
    await until(who, lambda: who.app.agent.get("pendingState") == state, f"pending state {state}")
    await finesse_user_until(
        who,
        lambda u: u.pending_state == state,
        f"pending state {state}",
        describe_user,
    )


@then(parsers.parse("agent {agent:w} has no pending state in the app and in Finesse"))
@sync
async def has_no_pending(world: World, agent: str) -> None:
    """`pendingState` is empty in the app and in Finesse."""
    who = world.agent(agent)
    await until(who, lambda: not who.app.agent.get("pendingState"), "no pending state")
    await finesse_user_until(
        who,
        lambda u: not u.pending_state,
        "no pending state",
        describe_user,
    )


async def finesse_list(agent: Agent, path: str, parse_list: Any) -> list[str]:
    res = await agent.finesse.request("GET", f"/finesse/api/User/{agent.id}/{path}")
    assert res.status == 200, f"Finesse answered {res.status}: {res.text[:200]}"
    return [item.label for item in parse_list(res.text)]


@then(
    parsers.parse("agent {agent:w}'s app and Finesse list the {category:w} reason codes {labels}")
)
@sync
async def lists_reason_codes(world: World, agent: str, category: str, labels: str) -> None:
    """The reason codes of a category (NOT_READY or LOGOUT), labels in order and
    comma-separated: GET /reason-codes in the app, GET User/{id}/ReasonCodes in Finesse."""
    who = world.agent(agent)
    in_app = [c["label"] for c in await who.app.reason_codes(category)]
    in_finesse = await finesse_list(
        who, f"ReasonCodes?category={category}", codec.parse_reason_codes
    )
    assert (in_app, in_finesse) == (split(labels),) * 2, (
        f"agent {agent}: {category} reason codes {in_app} in the app, {in_finesse} in Finesse"
    )


@then(parsers.parse("agent {agent:w}'s app and Finesse list the wrap-up reasons {labels}"))
@sync
async def lists_wrap_up_reasons(world: World, agent: str, labels: str) -> None:
    """The wrap-up reasons, labels in order and comma-separated: GET /wrapup-reasons in the
    app, GET User/{id}/WrapUpReasons in Finesse."""
    who = world.agent(agent)
    in_app = [r["label"] for r in await who.app.wrap_up_reasons()]
    in_finesse = await finesse_list(who, "WrapUpReasons", codec.parse_wrap_up_reasons)
    assert (in_app, in_finesse) == (split(labels),) * 2, (
        f"agent {agent}: wrap-up reasons {in_app} in the app, {in_finesse} in Finesse"
    )


def split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(" and ", ",").split(",") if part.strip()]


# -- logging out ------------------------------------------------------------------------------


@when(parsers.parse('agent {agent:w} logs out with reason "{reason}"'))
@sync
async def logs_out_with_reason(world: World, agent: str, reason: str) -> None:
    """DELETE /sessions/current with the LOGOUT reason code of that label (e.g. "End of
    shift"); a refusal fails the step."""
    who = world.agent(agent)
    code = await reason_code_id(who, "LOGOUT", reason)
    who.old_token = who.app.token
    await who.app.logout(code)


@when(parsers.parse("agent {agent:w} tries to log out"))
@when(parsers.parse('agent {agent:w} tries to log out with reason "{reason}"'))
@sync
async def tries_to_log_out(world: World, agent: str, reason: str = "") -> None:
    """A logout that may be refused (Finesse's rules: on UCCE only from NOT_READY, never
    during a call); checked by "it is refused with ..." or "it is accepted"."""
    who = world.agent(agent)
    code = await reason_code_id(who, "LOGOUT", reason) if reason else None
    who.old_token = who.app.token
    await world.try_("log out", _logout(who, code))


async def _logout(agent: Agent, code: str | None) -> None:
    # AppClient.logout stops listening only once the DELETE succeeded.
    await agent.app.logout(code)


@then(parsers.parse("agent {agent:w}'s app is signed out"))
@sync
async def app_signed_out(world: World, agent: str) -> None:
    """The session's token no longer works: GET /agent with it answers 401."""
    who = world.agent(agent)
    token = who.old_token or who.app.token
    assert token, f"agent {agent} never signed in"
    saved, who.app.token = who.app.token, token
    try:
        await who.app.get_agent()
    except AppError as exc:
        assert exc.status == 401, f"agent {agent}: GET /agent answered {exc}"
    else:
        raise AssertionError(f"agent {agent}: the old token still works after the logout")
    finally:
        who.app.token = saved


@then(parsers.parse("the connector holds {count:d} session"))
@then(parsers.parse("the connector holds {count:d} sessions"))
@sync
async def connector_sessions(world: World, count: int) -> None:
    """GET /healthz: how many agents the connector holds a session for."""
    got = await world.stack.sessions()
    assert got == count, f"the connector holds {got} session(s), expected {count}"


@then(parsers.parse("Finesse refuses agent {agent:w}'s password"))
@sync
async def finesse_refuses_password(world: World, agent: str) -> None:
    """A REST GET as the agent with its right password answers 401 (e.g. locked out)."""
    res = await world.stack.finesse_agent(agent).request("GET", f"/finesse/api/User/{agent}")
    assert res.status == 401, f"Finesse answered {res.status}: {res.text[:200]}"


# -- the simulator's clock --------------------------------------------------------------------


@given(parsers.parse("the simulator clock runs {factor:d} times faster"))
@sync
async def clock_faster(world: World, factor: int) -> None:
    """Every Finesse timer (wrap-up 60 s, ring-no-answer 15 s, ...) runs that many times
    faster, until the end of the scenario. Use it only where a timer matters."""
    await world.speed(factor)
