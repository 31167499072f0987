"""Steps for an app in the background: push subscriptions, the app leaving and coming back
to the screen, pushes as the phone receives them, the push service's faults, and Finesse's
forced logout."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, parsers, then, when

from mobile_sim.push_service import PushMessage, SimPushService
from scenarios.steps.world import World, sync

FORCED_LOGOUT_SPEED = 200  # Finesse's 60 s without presence, in 0.3 s


def push_service(world: World) -> SimPushService:
    push = world.stack.started.push
    assert push is not None, "the stack runs without the simulated push service"
    return push


@given(parsers.parse("agent {agent:w}'s app is subscribed to push"))
@sync
async def subscribed(world: World, agent: str) -> None:
    """The app subscribes at the simulated push service with the connector's VAPID key and
    gives the connector the subscription (as the browser app does after sign-in). A push
    does not open the app by itself: the agent does ("agent ... opens the app")."""
    app = world.agent(agent).app
    await app.subscribe_push(push_service(world))
    app.wake_on_push = False


@given(parsers.parse("agent {agent:w}'s app is in the background"))
@when(parsers.parse("agent {agent:w}'s app goes to the background"))
@sync
async def in_background(world: World, agent: str) -> None:
    """The app says it is hidden (PUT /app-state) and the phone closes its WebSocket."""
    await world.agent(agent).app.background()


@when(parsers.parse("agent {agent:w} opens the app"))
@sync
async def opens_the_app(world: World, agent: str) -> None:
    """Back on screen (from the notification, or by hand): the event stream resumes after
    the last event the app saw (`?since=`), and the app says it is visible."""
    await world.agent(agent).app.foreground()


@given("the push service is down")
@sync
async def push_service_down(world: World) -> None:
    """The simulated push service answers every push 503 (its control endpoint's `down`)."""
    push = push_service(world)
    async with world.stack.http.post(  # type: ignore[union-attr]
        f"{push.origin}/control/faults", json={"down": True}
    ) as response:
        assert response.status == 200, await response.text()


async def pushed(world: World, agent: str, type_: str) -> PushMessage:
    return await world.agent(agent).app.wait_for_push(type_, timeout=5.0)


@then(
    parsers.parse(
        "agent {agent:w}'s app gets a push of the incoming call with its caller, queue and "
        "call variables"
    )
)
@sync
async def call_pushed(world: World, agent: str) -> None:
    """The phone receives (and decrypts) a push of `dialog.created`: the latest customer's
    number, the queue, the call variables the customer called with; urgent, for the ring
    time, one topic per call. The app's WebSocket is closed meanwhile."""
    who = world.agent(agent)
    message = await pushed(world, agent, "dialog.created")
    call: dict[str, Any] = message.payload["data"]
    customer = world.call
    assert call["fromAddress"] == customer.caller, call
    assert call["queueName"], f"no queue in {call}"
    for name, value in customer.variables.items():
        assert call["callVariables"].get(name) == value, (name, call["callVariables"])
    assert message.urgency == "high" and message.topic and message.ttl > 0, message
    assert not who.app.stream_open, "the app's WebSocket is open: the push was not needed"


@then(parsers.parse("agent {agent:w}'s app gets a push that the session ended: {reason:w}"))
@sync
async def session_end_pushed(world: World, agent: str, reason: str) -> None:
    """The phone receives a push of `session.ended` with that reason; the app shows the
    session ended, its token dropped."""
    message = await pushed(world, agent, "session.ended")
    assert message.payload["data"].get("reason") == reason, message.payload
    app = world.agent(agent).app
    assert app.ended.get("reason") == reason and not app.token, app.ended


@then(parsers.parse("the push service refused the push to agent {agent:w}'s app"))
@sync
async def push_refused(world: World, agent: str) -> None:
    """The connector tried: the push service answered its push 503 (it retries while the
    call rings); the phone got nothing."""
    push = push_service(world)
    await push.wait_until(lambda: push.stats["503"] > 0, timeout=5.0)
    app = world.agent(agent).app
    assert not app.pushes.history, [m.payload.get("type") for m in app.pushes.history]


@when(parsers.parse("Finesse logs agent {agent:w} out after its presence was lost"))
@sync
async def forced_logout(world: World, agent: str) -> None:
    """Finesse's forced logout (reason code 255): the agent's notification connection drops
    and Finesse refuses its reconnects until, 60 s of Finesse's time later (the clock runs
    fast here), it logs the agent out; then the connector gets back in."""
    lab = world.stack.started
    sim = lab.finesse.sim
    server = sim.sides[0].xmpp
    original = server.authenticate
    server.authenticate = lambda user, password: user != agent and original(user, password)
    try:
        await world.speed(FORCED_LOGOUT_SPEED)
        await world.sim.fault("xmpp_drop")
        await sim.wait_until(lambda: sim.model.agents[agent].state == "LOGOUT", timeout=10)
    finally:
        server.authenticate = original
