"""Steps for faults and attacks: the notification service dropping, lost notifications,
someone guessing an agent's password, Finesse logging an agent out behind the app's back."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from mobile_sim.app import AppClient
from scenarios.steps.world import PASSWORD, World, sync, until

LOGOUT_REASON = 3  # the roster's LOGOUT reason code ("End of shift")
SESSION_ENDED_CLOSE = 4001  # the WebSocket close code of an ended session


@given(parsers.parse("the connector re-reads every agent from Finesse every {seconds:g} seconds"))
@sync
async def reconcile_every(world: World, seconds: float) -> None:
    """Finesse never resends a lost notification: the connector's periodic re-read (60 s by
    default; off in the test stack unless a scenario asks) repairs what was lost."""
    world.stack.started.connector.agents.reconcile_every(seconds)


@when("Finesse's notification service drops every connection")
@sync
async def notifications_drop(world: World) -> None:
    """The simulator closes every XMPP session (the `xmpp_drop` fault); clients reconnect."""
    await world.sim.fault("xmpp_drop")


@when(parsers.parse("Finesse loses the next {count:d} notification"))
@when(parsers.parse("Finesse loses the next {count:d} notifications"))
@sync
async def notifications_lost(world: World, count: int) -> None:
    """The simulator drops that many notifications without sending them
    (`lose_notifications`): the state in Finesse moves on, the apps are not told."""
    await world.sim.fault("lose_notifications", count=count)


@when(
    parsers.parse(
        "someone tries to log in as agent {agent:w} with the password {password} {times:d} times"
    )
)
@sync
async def someone_guesses(world: World, agent: str, password: str, times: int) -> None:
    """Sign-ins from another app with a wrong password; the last outcome is kept for "it is
    refused with ..."."""
    async with AppClient(world.stack.connector_url, http=world.stack.http) as intruder:
        for _ in range(times):
            await world.try_("log in", intruder.login(agent, password, "5009", listen=False))


@when(parsers.parse("agent {agent:w} is logged out in Finesse from the desktop"))
@sync
async def desktop_logout(world: World, agent: str) -> None:
    """The agent's desktop (REST as the agent, not the connector) sends LOGOUT."""
    body = f"<User><state>LOGOUT</state><reasonCodeId>{LOGOUT_REASON}</reasonCodeId></User>"
    res = await world.stack.finesse_agent(agent).request("PUT", f"/finesse/api/User/{agent}", body)
    assert res.status == 202, f"Finesse answered {res.status}: {res.text[:200]}"


@then(parsers.parse("agent {agent:w}'s app shows the session ended: {reason:w}"))
@sync
async def session_ended(world: World, agent: str, reason: str) -> None:
    """The app's last event is `session.ended` with that reason, its token no longer works
    and its event stream is closed."""
    who = world.agent(agent)
    ended = await until(who, lambda: who.app.ended, "session.ended")
    assert ended.get("reason") == reason, f"the session ended with {ended}"
    assert who.app.history[-1]["type"] == "session.ended", who.app.history[-1]
    assert await who.app.stream_ended(), "the event stream is still open"
    assert who.app.close_code == SESSION_ENDED_CLOSE, f"closed with {who.app.close_code}"


@then(parsers.parse("Finesse accepts agent {agent:w}'s password"))
@sync
async def finesse_accepts_password(world: World, agent: str) -> None:
    """A REST GET as the agent with its right password answers 200: not locked out."""
    res = await world.stack.finesse_agent(agent, PASSWORD).request(
        "GET", f"/finesse/api/User/{agent}"
    )
    assert res.status == 200, f"Finesse answered {res.status}: {res.text[:200]}"


@then(parsers.parse("agent {agent:w}'s app saw the notifications reconnect"))
@sync
async def notifications_reconnected(world: World, agent: str) -> None:
    """A `system.status` "reconnecting", then one "connected" after it: the connector told
    the app about the gap, and it is over."""
    who = world.agent(agent)

    def reconnected() -> bool:
        seen = [
            e["data"].get("notifications") for e in who.app.history if e["type"] == "system.status"
        ]
        return "reconnecting" in seen and seen[-1] == "connected"

    await until(who, reconnected, "notifications reconnecting, then connected")
