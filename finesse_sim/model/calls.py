"""Telephony objects of the Finesse layer: agents (Finesse users), calls and their legs.

A call is what Finesse shows as a Dialog (the dialog id is the call id); each leg is one
Participant. These are plain mutable records, owned by `records`: the rules that change
them live in `agent_desk`, `telephony` and `dialog_requests`, the rules that judge them in
`agent_states` and `participant_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.finesse.models import (
    AgentState,
    Dialog,
    MobileAgent,
    ParticipantState,
    ReasonCode,
    User,
)
from finesse_sim.config import AgentConfig
from finesse_sim.model.acd import Queue
from finesse_sim.model.timers import Timer

LIVE = frozenset(
    {
        ParticipantState.INITIATING,
        ParticipantState.INITIATED,
        ParticipantState.ALERTING,
        ParticipantState.ACTIVE,
        ParticipantState.HELD,
        ParticipantState.FAILED,
    }
)
CONNECTED = frozenset({ParticipantState.ACTIVE, ParticipantState.HELD})


@dataclass(eq=False)
class Agent:
    cfg: AgentConfig
    state: str = AgentState.LOGOUT
    reason: ReasonCode | None = None
    state_change_time: str = ""
    pending: str = ""
    pending_reason: ReasonCode | None = None
    # the state to return to when calls end (READY or NOT_READY + reason)
    base: str = AgentState.NOT_READY
    base_reason: ReasonCode | None = None
    extension: str = ""
    mobile: MobileAgent | None = None
    nailed_up: bool = False  # NAILED_CONNECTION: the setup call is answered
    legs: list[Leg] = field(default_factory=list)
    in_call: bool = False  # TALKING/HOLD reached since the last idle state
    last_call_outgoing: bool = False
    wrap_up_then: str = ""
    wrap_up_then_reason: ReasonCode | None = None
    wrap_up_timer: Timer | None = None
    presence_timer: Timer | None = None
    login_timer: Timer | None = None
    login_request_id: str = ""
    failed_logins: int = 0
    locked_until: float = -1.0
    known: dict[str, Dialog] = field(default_factory=dict)  # what the client was told
    shown_user: User | None = None

    @property
    def id(self) -> str:
        return self.cfg.id

    @property
    def logged_in(self) -> bool:
        return self.state != AgentState.LOGOUT

    @property
    def phone(self) -> str | None:
        """The handset that rings for this agent's calls; None on a nailed connection."""
        if self.mobile is None:
            return self.extension
        if self.mobile.mode == "NAILED_CONNECTION":
            return None
        return self.mobile.dial_number

    def live_legs(self) -> list[Leg]:
        return [leg for leg in self.legs if leg.state in LIVE and not leg.gone]


@dataclass(eq=False)
class Leg:
    call: Call
    address: str  # the participant's mediaAddress
    state: str
    agent: Agent | None = None
    phone: str | None = None  # the handset that rings / connects for this leg
    start_time: str = ""
    state_change_time: str = ""
    state_cause: str = ""
    routed: bool = False  # delivered by the router: the agent is RESERVED, RONA applies
    answered: bool = False
    gone: bool = False  # no longer shown to its agent (DELETE sent)
    rona: Timer | None = None
    answer_timer: Timer | None = None


@dataclass(eq=False)
class Call:
    id: str
    state: str
    from_address: str
    to_address: str
    call_type: str
    dialed_number: str = ""
    dnis: str = ""
    queue: Queue | None = None
    variables: dict[str, str] = field(default_factory=dict)
    wrap_up_reason: str = ""
    legs: list[Leg] = field(default_factory=list)
    associated: Call | None = None
    controller: Agent | None = None  # who made it a conference: only they may extend it
    outgoing_agent: Agent | None = None  # the agent who placed it (MAKE_CALL / consult)
    ended: bool = False
    force_publish: bool = False
    dial_target: str = ""  # where an originated call goes once the caller's side is ready
    watchers: set[Agent] = field(default_factory=set)  # agents whose client knows it

    def connected(self) -> list[Leg]:
        return [leg for leg in self.legs if leg.state in CONNECTED]

    def leg_of(self, agent: Agent) -> Leg | None:
        for leg in self.legs:
            if leg.agent is agent and not leg.gone:
                return leg
        return None
