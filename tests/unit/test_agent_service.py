"""The agent use cases through their narrow ports, without a network: the simulator's model
stands behind a `FinessePort`, and a loopback `NotificationTransport` hands its
notifications to each agent's link."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import pytest

from connector.errors import AgentError, Refusal
from connector.finesse.models import MobileAgent, User
from connector.finesse.rest import Credentials
from connector.metrics import Metrics
from connector.service.agents import AgentService
from connector.service.tokens import Tokens
from connector.store.memory import MemoryState
from connector.stream import Frame
from tests.unit.conftest import World, make_world

MOBILE = MobileAgent("CALL_BY_CALL", "+15551230001")


@dataclass
class ModelFinesse:
    """FinessePort over the simulator's model: each change is made at once, and its
    notifications reach the transport on the next turn of the loop, as a 202 would."""

    world: World
    transport: LoopbackTransport
    calls: list[str] = field(default_factory=list)

    def _agent(self, creds: Credentials):
        return self.world.cc.agents[creds.agent_id]

    def _later(self) -> None:
        asyncio.get_running_loop().call_soon(self.transport.pump)

    async def get_user(self, creds: Credentials) -> User:
        self.calls.append("get_user")
        return self.world.user(creds.agent_id)

    async def get_dialogs(self, creds: Credentials):
        self.calls.append("get_dialogs")
        return self.world.dialogs(creds.agent_id)

    async def put_user(self, creds, *, state, extension="", reason_code_id="", **kw) -> str:
        self.calls.append(f"put_user {state}")
        rid = kw.get("request_id") or uuid.uuid4().hex
        request = User(
            state=state,
            extension=extension,
            reason_code_id=reason_code_id,
            mobile_agent=kw.get("mobile_agent"),
        )
        self.world.cc.put_user(self._agent(creds), request, rid)
        self._later()
        return rid

    async def make_call(self, creds, *, from_address, to_address, **kw) -> str:
        self.calls.append("make_call")
        raise AssertionError("not used here")

    async def dialog_action(self, creds, dialog_id, request, request_id=None) -> str:
        self.calls.append(f"dialog_action {request.requested_action}")
        raise AssertionError("not used here")

    async def reason_codes(self, creds, category):
        return []

    async def wrap_up_reasons(self, creds):
        return []


@dataclass
class Opened:
    transport: LoopbackTransport
    agent_id: str
    connected: bool = True

    async def subscribe(self, node: str) -> None:
        pass

    async def stop(self) -> None:
        self.transport.listeners.pop(self.agent_id, None)


@dataclass
class LoopbackTransport:
    """NotificationTransport: the model's notifications, to the listener of their agent."""

    world: World
    listeners: dict = field(default_factory=dict)

    async def open(self, creds, listener) -> Opened:
        self.listeners[creds.agent_id] = listener
        listener.on_connection(True)
        return Opened(self, creds.agent_id)

    async def move_to(self, base_url: str) -> None:
        raise AssertionError("no failover here")

    def pump(self) -> None:
        notes, self.world.notes[:] = list(self.world.notes), []
        for node, update in notes:
            listener = self.listeners.get(node.split("/")[4])  # /finesse/api/User/{id}...
            if listener is not None:
                listener.on_update(node, update)


@dataclass
class RecordingSink:
    unattended_only: bool = False
    frames: list[tuple[str, Frame]] = field(default_factory=list)

    def deliver(self, agent_id: str, frame: Frame) -> None:
        self.frames.append((agent_id, frame))


def service(*sinks: RecordingSink) -> tuple[AgentService, ModelFinesse]:
    world = make_world()
    transport = LoopbackTransport(world)
    finesse = ModelFinesse(world, transport)
    agents = AgentService(finesse, transport, MemoryState(Tokens()), Metrics(), sinks=sinks)
    return agents, finesse


async def test_sign_in_set_state_and_sign_out_through_the_ports():
    agents, finesse = service()
    token, link = await agents.sign_in("1001", "password", "5001", MOBILE)
    assert await agents.authenticate(token) is link
    assert agents.agent(link)["state"] == "NOT_READY"
    rid = await agents.set_state(link, "READY")
    await asyncio.sleep(0)  # the notification's turn of the loop
    assert agents.agent(link)["state"] == "READY"
    states = [f.message() for f in link.stream.reader(since=0).take()]
    assert [m["data"] for m in states if m["type"] == "agent.state"][-1]["requestId"] == rid
    await agents.set_state(link, "NOT_READY", 2)  # Finesse refuses READY -> LOGOUT
    await asyncio.sleep(0)
    await agents.sign_out(link, "3")
    assert finesse.world.user("1001").state == "LOGOUT"
    with pytest.raises(AgentError) as refused:
        await agents.authenticate(token)
    assert refused.value.kind is Refusal.UNAUTHORIZED


async def test_a_sign_in_asks_finesse_for_the_user_and_its_dialogs_once_each():
    # The credentials check GETs the User; the LOGIN notification is the newer User, so
    # after it only the Dialogs are fetched (a sign-in is a notification session's first
    # connection: no resync of its own).
    agents, finesse = service()
    await agents.sign_in("1001", "password", "5001", MOBILE)
    await asyncio.sleep(0)  # anything scheduled meanwhile has its turn
    assert finesse.calls == ["get_user", "put_user LOGIN", "get_dialogs"]


async def test_a_reconnect_after_sign_in_resyncs_user_and_dialogs():
    agents, finesse = service()
    _, link = await agents.sign_in("1001", "password", "5001", MOBILE)
    finesse.calls.clear()
    link.on_connection(False)
    link.on_connection(True)
    await asyncio.wait_for(link._resync_task, 5)
    assert finesse.calls == ["get_user", "get_dialogs"]


async def test_a_state_only_session_is_refused_call_control_without_asking_finesse():
    agents, finesse = service()
    _, link = await agents.sign_in("1001", "password", "5001", None)
    before = list(finesse.calls)
    with pytest.raises(AgentError) as refused:
        await agents.make_call(link, "5002")
    assert refused.value.kind is Refusal.CALL_CONTROL_UNAVAILABLE
    assert finesse.calls == before


async def test_sinks_get_every_event_and_push_only_while_nobody_watches():
    store, push = RecordingSink(), RecordingSink(unattended_only=True)
    agents, _ = service(store, push)
    _, link = await agents.sign_in("1001", "password", "5001", MOBILE)
    signed_in = len(store.frames)
    assert signed_in > 0 and len(push.frames) == signed_in  # nobody watching yet
    assert all(agent == "1001" for agent, _ in store.frames)

    reader = link.stream.reader()
    assert link.stream.attended
    await agents.set_state(link, "READY")
    await asyncio.sleep(0)
    assert len(store.frames) > signed_in and len(push.frames) == signed_in

    reader.close()
    reader.close()  # idempotent: one reader, detached once
    assert not link.stream.attended and link.stream.readers == 0
    await agents.set_state(link, "NOT_READY", 1)
    await asyncio.sleep(0)
    assert push.frames[-1][1].message()["data"]["state"] == "NOT_READY"
    assert [f.seq for _, f in store.frames] == list(range(1, link.stream.seq + 1))


async def test_a_stale_logout_notification_is_checked_with_finesse_and_repaired():
    """A User LOGOUT notification that Finesse's REST answer contradicts (late, out of
    order) does not end the session: the resync puts the app right."""
    from connector.finesse.models import Update

    agents, _ = service()
    token, link = await agents.sign_in("1001", "password", "5001", MOBILE)
    node = "/finesse/api/User/1001"
    link.on_update(node, Update("PUT", node, User(state="LOGOUT", extension="5001")))
    assert agents.agent(link)["state"] == "LOGOUT"  # what the notification said...
    await link._resync_task
    assert agents.agent(link)["state"] == "NOT_READY"  # ...and what Finesse says
    assert await agents.authenticate(token) is link


async def test_a_real_logout_in_finesse_ends_the_session_once_confirmed():
    agents, finesse = service()
    token, link = await agents.sign_in("1001", "password", "5001", MOBILE)
    cc = finesse.world.cc
    cc.put_user(cc.agents["1001"], User(state="LOGOUT", reason_code_id="3"), "desktop")
    finesse.transport.pump()
    await link._resync_task
    ended = [f.message() for f in link.stream.reader(since=0).take()][-1]
    assert ended["type"] == "session.ended" and ended["data"]["reason"] == "logged_out"
    with pytest.raises(AgentError):
        await agents.authenticate(token)
