"""The Finesse layer's entry point: `ContactCenter`, the simulator's functional core.

Inputs are method calls (a REST request, a phone tap, a customer's call, a presence change,
a timer); outputs go to two callbacks: `on_notification(node, Update)` for the XMPP service
and `on_phone_event(number, event)` for handsets.

`ContactCenter` is a facade: it answers the read-only queries itself and hands each input to
the collaborator that owns it. Who owns what:

- `Records`: the agents, the calls, the queues (the ACD) and the clock.
- `Publisher`: inputs, timers and the notifications derived from what they changed.
- `Phones`: the events to handsets.
- `AgentDesk`: sign-in, agent state, presence, wrap-up.
- `Telephony`: calls and legs, routing, ringing, answering, hanging up (uses the desk).
- `DialogRequests`: MAKE_CALL and the dialog actions (uses the telephony and the desk).
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

import simpy

from connector.finesse.models import (
    SYSTEM_INFO_URI,
    AgentState,
    Dialog,
    DialogRequest,
    ReasonCode,
    Team,
    TeamMember,
    User,
    dialogs_uri,
    team_users_uri,
    user_uri,
)
from finesse_sim.config import SimConfig
from finesse_sim.model import views
from finesse_sim.model.agent_desk import AgentDesk
from finesse_sim.model.calls import Agent, Call
from finesse_sim.model.dialog_requests import DialogRequests
from finesse_sim.model.errors import finesse_error, require
from finesse_sim.model.phones import PhoneEvent, Phones
from finesse_sim.model.publisher import Notify, Publisher
from finesse_sim.model.records import Records
from finesse_sim.model.telephony import Telephony

S = AgentState
T = TypeVar("T")


class _Owned(Generic[T]):
    """A settable attribute of the facade that one of its collaborators owns."""

    def __init__(self, owner: str, name: str) -> None:
        self._owner, self._name = owner, name

    def __get__(self, center: ContactCenter, cls: type | None = None) -> T:
        return getattr(getattr(center, self._owner), self._name)

    def __set__(self, center: ContactCenter, value: T) -> None:
        setattr(getattr(center, self._owner), self._name, value)


class ContactCenter:
    # The runtime and the control API flip these; tests swap the handsets' callback.
    in_service = _Owned[bool]("publisher", "in_service")
    notifications_to_lose = _Owned[int]("publisher", "notifications_to_lose")
    on_phone_event = _Owned[PhoneEvent]("phones", "on_event")

    def __init__(
        self,
        config: SimConfig,
        env: simpy.Environment | None = None,
        *,
        on_notification: Notify | None = None,
        on_phone_event: PhoneEvent | None = None,
        epoch: float | None = None,
    ) -> None:
        self.config = config
        self.env = env or simpy.Environment()
        self.records = Records(config, self.env, time.time() if epoch is None else epoch)
        self.publisher = Publisher(self.records, on_notification or (lambda node, update: None))
        self.phones = Phones(on_phone_event or (lambda number, event: None))
        self.desk = AgentDesk(self.records, self.publisher, self.phones)
        self.telephony = Telephony(self.records, self.publisher, self.phones, self.desk)
        self.requests = DialogRequests(
            self.records, self.publisher, self.phones, self.desk, self.telephony
        )
        self.records.route = self.telephony.route  # the ACD's routed calls ring agents

    # -- the records, as the runtime, the control API and tests read them -------------------

    @property
    def agents(self) -> dict[str, Agent]:
        return self.records.agents

    @property
    def calls(self) -> dict[str, Call]:
        return self.records.calls

    # -- the world as a whole ----------------------------------------------------------------

    def reset(self) -> None:
        """Everyone logged out, no calls, no faults. Clients are told: a DELETE for every
        dialog they know and a LOGOUT for every agent they saw signed in. Timers of the old
        world do nothing when they fire (they belong to an older generation)."""
        old = self.records.agents
        was_in_service = self.publisher.restart()
        self.records.clear()
        if was_in_service:  # else clients saw OUT_OF_SERVICE: they re-read everything
            self.publisher.retract(old)

    def set_in_service(self, in_service: bool) -> None:
        """OUT_OF_SERVICE stops every event; back IN_SERVICE, the latest state of every
        logged-in agent and dialog is re-published (docs/finesse.md, Out of service)."""
        self.publisher.set_in_service(in_service)

    def timestamp(self) -> str:
        return self.records.timestamp()

    # -- inputs: each handled by its owner ---------------------------------------------------

    def authenticate(self, user: str, password: str) -> Agent:
        """Basic-auth or SASL check with Finesse's lockout: 5 bad passwords lock for 5
        minutes."""
        return self.desk.authenticate(user, password)

    def put_user(self, agent: Agent, req: User, request_id: str = "") -> None:
        """PUT /User/{id}: LOGIN, READY, NOT_READY, LOGOUT. Raises ApiErrorException."""
        self.desk.put_user(agent, req, request_id)

    def presence(self, agent_id: str, available: bool) -> None:
        """XMPP presence of the agent's desktop: lost for 60 s means a forced logout."""
        self.desk.presence(agent_id, available)

    def make_call(self, agent: Agent, req: DialogRequest, request_id: str = "") -> None:
        """POST /User/{id}/Dialogs with MAKE_CALL."""
        self.requests.make_call(agent, req, request_id)

    def dialog_action(
        self, agent: Agent, dialog_id: str, req: DialogRequest, request_id: str = ""
    ) -> None:
        """PUT /Dialog/{id} with a requestedAction. Raises ApiErrorException."""
        self.requests.dialog_action(agent, dialog_id, req, request_id)

    def inject_call(
        self, dn: str, from_address: str, variables: dict[str, str] | None = None
    ) -> str:
        """A customer dials `dn` (a queue DN, an agent extension or any number)."""
        return self.telephony.inject_call(dn, from_address, variables)

    def hangup_call(self, call_id: str) -> None:
        """The customer (the call's first leg) hangs up; a queued call is abandoned."""
        self.telephony.hangup_call(call_id)

    def phone_answer(self, number: str) -> str:
        """The handset at `number` goes off hook on its ringing call. Returns the call id."""
        return self.telephony.phone_answer(number)

    def phone_reject(self, number: str) -> str:
        return self.telephony.phone_reject(number)

    def phone_hangup(self, number: str) -> list[str]:
        return self.telephony.phone_hangup(number)

    # -- queries -----------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent | None:
        return self.records.agent(agent_id)

    def user(self, agent: Agent) -> User:
        return views.user(self.config, agent)

    def team_member(self, agent: Agent) -> TeamMember:
        return views.team_member(agent)

    def team(self, agent: Agent, team_id: str) -> Team:
        team = self.config.team(team_id)
        if team is None:
            raise finesse_error(404, "TeamId Not Found", "Invalid team id", team_id)
        if agent.cfg.team_id != team_id and "Supervisor" not in agent.cfg.roles:
            raise finesse_error(
                401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id
            )
        members = [
            views.team_member(a) for a in self.records.agents.values() if a.cfg.team_id == team_id
        ]
        return Team(id=team.id, name=team.name, users=members)

    def may_subscribe(self, agent_id: str, node: str) -> bool:
        agent = self.agent(agent_id)
        if agent is None:
            return False
        own = {user_uri(agent.id), dialogs_uri(agent.id), SYSTEM_INFO_URI}
        if node in own:
            return True
        return node == team_users_uri(agent.cfg.team_id) or (
            "Supervisor" in agent.cfg.roles and node.startswith(team_users_uri(""))
        )

    def auto_nodes(self, agent_id: str) -> list[str]:
        agent = self.agent(agent_id)
        if agent is None:
            return []
        return [user_uri(agent.id), dialogs_uri(agent.id), SYSTEM_INFO_URI]

    def dialogs(self, agent: Agent) -> list[Dialog]:
        return [views.dialog(self.config, leg.call) for leg in agent.legs if not leg.gone]

    def dialog(self, agent: Agent, dialog_id: str) -> Dialog:
        return views.dialog(self.config, self.requests.own_call(agent, dialog_id)[0])

    def reason_codes(self, category: str | None) -> list[ReasonCode]:
        require(category, "category", "category parameter is required")
        if category not in (S.NOT_READY, S.LOGOUT):
            raise finesse_error(400, "Invalid Input", "Invalid category specified", "category")
        return self.config.reason_codes_for(category)

    def queue_stats(self) -> list[dict[str, Any]]:
        out = []
        for queue in self.records.acd.queues.values():
            states: dict[str, int] = {}
            for member in queue.members:
                state = self.records.agents[member].state
                states[state] = states.get(state, 0) + 1
            out.append(
                {
                    "id": queue.id,
                    "name": queue.name,
                    "dn": queue.dn,
                    "callsInQueue": len(queue.waiting),
                    "waitingCalls": [w.call.id for w in queue.waiting],
                    "longestAvailable": list(queue.available),
                    "agentsByState": states,
                }
            )
        return out
