"""A ContactCenter with its outputs captured: the model tested without a network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from connector.finesse.models import DialogRequest, MobileAgent, Update, User
from finesse_sim.config import SimConfig, default_config
from finesse_sim.model.contact_center import ContactCenter


@dataclass
class World:
    cc: ContactCenter
    notes: list[tuple[str, Update]] = field(default_factory=list)
    phones: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    # -- inputs --
    def login(self, agent_id: str, ext: str | None = None, mobile: tuple[str, str] | None = None):
        agent = self.cc.agents[agent_id]
        ext = ext or agent.cfg.extension
        ma = MobileAgent(*mobile) if mobile else None
        self.cc.put_user(agent, User(state="LOGIN", extension=ext, mobile_agent=ma), "rq-login")
        return agent

    def state(self, agent_id: str, state: str, reason: str = "", request_id: str = "rq"):
        self.cc.put_user(
            self.cc.agents[agent_id], User(state=state, reason_code_id=reason), request_id
        )

    def ready(self, *agent_ids: str):
        for a in agent_ids:
            self.state(a, "READY")

    def make_call(self, agent_id: str, to: str, request_id: str = "rq-call") -> None:
        agent = self.cc.agents[agent_id]
        req = DialogRequest(
            requested_action="MAKE_CALL", from_address=agent.extension, to_address=to
        )
        self.cc.make_call(agent, req, request_id)

    def act(self, agent_id: str, dialog_id: str, action: str, request_id: str = "rq", **kw):
        agent = self.cc.agents[agent_id]
        req = DialogRequest(requested_action=action, target_media_address=agent.extension, **kw)
        self.cc.dialog_action(agent, dialog_id, req, request_id)

    def advance(self, seconds: float) -> None:
        self.cc.env.run(until=self.cc.env.now + seconds)

    # -- observations --
    def user(self, agent_id: str) -> User:
        return self.cc.user(self.cc.agents[agent_id])

    def dialogs(self, agent_id: str):
        return self.cc.dialogs(self.cc.agents[agent_id])

    def updates(self, node_suffix: str) -> list[Update]:
        return [u for node, u in self.notes if node.endswith(node_suffix)]

    def user_states(self, agent_id: str) -> list[str]:
        return [u.data.state for u in self.updates(f"/User/{agent_id}") if isinstance(u.data, User)]

    def dialog_events(self, agent_id: str) -> list[tuple[str, str]]:
        """(event, dialog state) per Dialogs-node notification of an agent."""
        out = []
        for u in self.updates(f"/User/{agent_id}/Dialogs"):
            d = u.data[0] if isinstance(u.data, list) else u.data
            out.append((u.event, getattr(d, "state", "")))
        return out

    def phone_events(self, number: str) -> list[str]:
        return [e["event"] for n, e in self.phones if n == number]

    def participant(self, agent_id: str, dialog_id: str, address: str):
        dialog = self.cc.dialog(self.cc.agents[agent_id], dialog_id)
        return dialog.participant(address)

    def clear(self) -> None:
        self.notes.clear()
        self.phones.clear()


def config(**attrs: Any) -> SimConfig:
    """The default roster with some settings changed, e.g. config(deployment="UCCX")."""
    cfg = default_config()
    for name, value in attrs.items():
        if not hasattr(cfg, name):
            raise AttributeError(f"SimConfig has no {name!r}")
        setattr(cfg, name, value)
    return cfg


def make_world(config=None) -> World:
    world: World
    cc = ContactCenter(
        config or default_config(),
        on_notification=lambda node, u: world.notes.append((node, u)),
        on_phone_event=lambda n, e: world.phones.append((n, e)),
        epoch=1_700_000_000.0,
    )
    world = World(cc)
    return world


@pytest.fixture
def world() -> World:
    return make_world()
