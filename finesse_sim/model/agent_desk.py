"""The agent side of the Finesse layer: sign-in, agent state, presence, wrap-up.

`AgentDesk` applies the rules of `agent_states` to the agents of the `Records` and derives
TALKING, HOLD, WORK and WORK_READY from each agent's call legs. It tells the ACD when an
agent can take a call, and rings a Mobile Agent's nailed connection through `Phones`; it
knows nothing else of the telephony, which calls it when legs change (`update_agent`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.finesse.models import (
    AgentState,
    ApiError,
    ApiErrorException,
    MobileAgent,
    MobileAgentMode,
    ParticipantState,
    ReasonCode,
    User,
    user_uri,
)
from finesse_sim.config import SimConfig
from finesse_sim.model import agent_states
from finesse_sim.model.calls import Agent, Call
from finesse_sim.model.errors import finesse_error, require
from finesse_sim.model.phones import Phones
from finesse_sim.model.publisher import Publisher
from finesse_sim.model.records import Records
from finesse_sim.model.views import NO_REASON_ID

S = AgentState
P = ParticipantState
CCE_EXTENSION = re.compile(r"^[0-9]{1,15}$", re.ASCII)
E164_EXTENSION = re.compile(r"^\+?[0-9]{1,14}$", re.ASCII)


def system_code(category: str, code: str, label: str) -> ReasonCode:
    """A reason code the system sets (RONA, forced logout, ...), not one an agent picks."""
    return ReasonCode(
        id=code, category=category, code=code, label=label, for_all=True, system_code=True
    )


def personal(config: SimConfig, call: Call) -> bool:
    """A non-ICD call on CCX: it never touches the agent's state (docs/finesse.md, Agent states)."""
    return config.deployment == "UCCX" and call.queue is None


@dataclass(eq=False, slots=True)
class AgentDesk:
    records: Records
    publisher: Publisher
    phones: Phones

    def authenticate(self, user: str, password: str) -> Agent:
        """Basic-auth (or XMPP SASL) check with Finesse's lockout: 5 bad passwords in a row,
        over REST and XMPP alike (one user store behind both), lock for 5 minutes."""
        agent = self.records.agent(user)
        if agent is None:
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        now = self.records.env.now
        if now < agent.locked_until:
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if password != agent.cfg.password:
            agent.failed_logins += 1
            if agent.failed_logins >= self.records.config.lockout_attempts:
                agent.failed_logins = 0
                agent.locked_until = now + self.records.config.timers.lockout
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        agent.failed_logins = 0
        return agent

    def set_state(self, agent: Agent, state: str, reason: ReasonCode | None = None) -> None:
        if state != agent.state or reason != agent.reason:
            if state != agent.state:
                agent.state_change_time = self.records.timestamp()
            agent.state = state
            agent.reason = reason
        if state in (S.READY, S.NOT_READY):
            agent.base, agent.base_reason = state, reason
        self.publisher.touch(agent)
        if state == S.READY and not agent.live_legs():
            # READY is published before the router may reserve the agent, and the call it
            # routes is unsolicited: it carries no requestId.
            self.publisher.flush()
            request_id, self.publisher.request_id = self.publisher.request_id, ""
            self.records.acd.agent_available(agent.id)
            self.publisher.flush()
            self.publisher.request_id = request_id
        else:
            self.records.acd.agent_unavailable(agent.id)

    def put_user(self, agent: Agent, req: User, request_id: str = "") -> None:
        """PUT /User/{id}: LOGIN, READY, NOT_READY, LOGOUT. Raises ApiErrorException."""
        with self.publisher.input(request_id):
            require(req.state, "state", "State Parameter missing")
            if req.state == S.LOGIN:
                self._login(agent, req)
                return
            if not agent.logged_in:
                raise finesse_error(400, "Invalid State", "User is not logged in", "state")
            reason = self._reason_for(req.state, req.reason_code_id)
            self._change_state(agent, req.state, reason)

    def _reason_for(self, state: str, reason_code_id: str) -> ReasonCode | None:
        if state not in (S.NOT_READY, S.LOGOUT):
            return None
        configured = self.records.config.reason_codes_for(state)
        if not reason_code_id or reason_code_id == NO_REASON_ID:
            if configured:
                raise finesse_error(
                    400, "Parameter Missing", "reasonCodeId is required", "reasonCodeId"
                )
            return None
        code = self.records.config.reason_code(state, reason_code_id)
        if code is None:
            raise finesse_error(400, "Invalid Input", "Invalid reasonCodeId", "reasonCodeId")
        return code

    def _change_state(self, agent: Agent, state: str, reason: ReasonCode | None) -> None:
        if (
            self.records.config.deployment == "UCCX"
            and state == S.READY
            and any(leg.call.queue is None for leg in agent.live_legs())
        ):
            # CCX refuses READY during a non-ICD call (docs/finesse.md, Agent states).
            error = ApiError("Invalid State", "CF_RESOURCE_BUSY", "33")
            self.publisher.async_error(user_uri(agent.id), user_uri(agent.id), error)
            return
        if state == S.LOGOUT and agent.live_legs():
            # CTI refuses to sign out an agent whose device has a call (even a ringing one).
            raise finesse_error(400, "Invalid State", "The agent's device has a call", "state")
        decision = agent_states.decide(self.records.config.deployment, agent.state, state)
        if isinstance(decision, agent_states.Refuse):
            raise ApiErrorException(decision.status, decision.error)
        if isinstance(decision, agent_states.RefuseLater):
            self.publisher.async_error(user_uri(agent.id), user_uri(agent.id), decision.error)
            return
        if isinstance(decision, agent_states.Pend):
            agent.pending, agent.pending_reason = state, reason
            self.publisher.touch(agent, force=True)
            return
        if agent.state in agent_states.WRAP_UP:
            self._check_wrap_up_data(agent)
            self.end_wrap_up(agent)
        if state == S.LOGOUT:
            self.logout(agent, reason)
            return
        agent.pending, agent.pending_reason = "", None
        self.publisher.touch(agent, force=True)
        self.set_state(agent, state, reason)

    def _check_wrap_up_data(self, agent: Agent) -> None:
        if self.records.config.wrap_up_on_incoming != "REQUIRED_WITH_WRAP_UP_DATA":
            return
        for leg in agent.legs:
            if leg.state == P.WRAP_UP and not leg.gone and not leg.call.wrap_up_reason:
                raise finesse_error(
                    400, "Invalid State", "Wrap-up data is required", "wrapUpReason"
                )

    def _login(self, agent: Agent, req: User) -> None:
        ext = req.extension
        require(ext, "extension", "Extension Parameter missing")
        pattern = E164_EXTENSION if self.records.config.deployment == "UCCX" else CCE_EXTENSION
        if not pattern.match(ext):
            # CCE: no E.164 extensions; CCX: up to 15 characters, + and 14 digits (DG125 p46).
            raise finesse_error(400, "Invalid Input", "Invalid extension specified", "extension")
        mobile = req.mobile_agent
        if mobile is not None:
            if self.records.config.deployment != "UCCE":
                raise finesse_error(
                    400, "Invalid Input", "Mobile Agent is UCCE only", "mobileAgent"
                )
            require(mobile.mode, "mode")
            require(mobile.dial_number, "dialNumber")
            if mobile.mode not in MobileAgentMode.__members__:
                raise finesse_error(400, "Invalid Input", "Invalid mobile agent mode", "mode")
        node = user_uri(agent.id)
        if agent.login_timer is not None:
            # A NAILED_CONNECTION setup call is still ringing: this LOGIN waits for it too.
            agent.login_request_id = self.publisher.request_id
            return
        if agent.logged_in:
            # A forced login keeps the current state (docs/finesse.md, User: sign-in and state
            # changes).
            self.publisher.touch(agent, force=True)
            return
        if ext not in self.records.config.devices:
            self.publisher.async_error(
                node, node, ApiError("Invalid Device", "CF_INVALID_DEVICE", ext)
            )
            return
        holder = next(
            (a for a in self.records.agents.values() if a is not agent and a.extension == ext),
            None,
        )
        if holder is not None:
            self.publisher.async_error(node, node, ApiError("Device Busy", "CF_DEVICE_BUSY", ext))
            return
        agent.extension = ext
        agent.mobile = MobileAgent(mobile.mode, mobile.dial_number) if mobile else None
        if mobile is not None and mobile.mode == MobileAgentMode.NAILED_CONNECTION:
            # The setup call must be answered before the login completes (MA90).
            agent.login_request_id = self.publisher.request_id
            self.phones.send(
                mobile.dial_number,
                "ring",
                callId=f"nailed-{agent.id}",
                **{"from": ext, "to": mobile.dial_number},
            )
            agent.login_timer = self.publisher.after(
                self.records.config.timers.ring_no_answer, lambda: self._nailed_failed(agent)
            )
            return
        self._complete_login(agent)

    def _complete_login(self, agent: Agent) -> None:
        agent.pending, agent.pending_reason = "", None
        self.publisher.touch(agent, force=True)
        self.set_state(agent, S.NOT_READY, None)

    def _nailed_failed(self, agent: Agent) -> None:
        """Setup call rejected or unanswered: the login does not complete."""
        if agent.login_timer:
            agent.login_timer.cancel()
        dial = agent.mobile.dial_number if agent.mobile else ""
        agent.extension, agent.mobile, agent.login_timer = "", None, None
        self.phones.send(dial, "ended", callId=f"nailed-{agent.id}")
        self.publisher.request_id = agent.login_request_id
        self.publisher.touch(agent, force=True)

    def answer_setup_call(self, number: str) -> str | None:
        """The handset at `number` answers a nailed connection's setup call: the waiting
        LOGIN completes. Returns the setup call's id, None if `number` has no such call."""
        for agent in self.records.agents.values():
            if (
                agent.mobile
                and agent.mobile.dial_number == number
                and agent.login_timer is not None
                and not agent.logged_in
            ):
                agent.login_timer.cancel()
                agent.login_timer = None
                agent.nailed_up = True
                self.phones.send(number, "connected", callId=f"nailed-{agent.id}")
                self.publisher.request_id = agent.login_request_id
                self._complete_login(agent)
                return f"nailed-{agent.id}"
        return None

    def reject_setup_call(self, number: str) -> str | None:
        """The handset at `number` rejects a setup call: the LOGIN fails. Returns the setup
        call's id, None if `number` has no such call."""
        for agent in self.records.agents.values():
            if agent.mobile and agent.mobile.dial_number == number and agent.login_timer:
                self._nailed_failed(agent)
                return f"nailed-{agent.id}"
        return None

    def logout(self, agent: Agent, reason: ReasonCode | None) -> None:
        for timer in (agent.wrap_up_timer, agent.presence_timer, agent.login_timer):
            if timer:
                timer.cancel()
        if agent.mobile and agent.mobile.mode == MobileAgentMode.NAILED_CONNECTION:
            self.phones.send(agent.mobile.dial_number, "ended", callId=f"nailed-{agent.id}")
        agent.extension, agent.mobile, agent.nailed_up = "", None, False
        agent.pending, agent.pending_reason = "", None
        agent.in_call = False
        self.publisher.touch(agent, force=True)
        self.set_state(agent, S.LOGOUT, reason)

    def presence(self, agent_id: str, available: bool) -> None:
        """XMPP presence of the agent's desktop: lost for 60 s means a forced logout."""
        agent = self.records.agent(agent_id)
        if agent is None:
            return
        with self.publisher.input(""):
            if agent.presence_timer:
                agent.presence_timer.cancel()
                agent.presence_timer = None
            if not available and agent.logged_in:
                agent.presence_timer = self.publisher.after(
                    self.records.config.timers.forced_logout, lambda: self._forced_logout(agent)
                )

    def _forced_logout(self, agent: Agent) -> None:
        agent.presence_timer = None
        if not agent.logged_in:
            return
        code = system_code(S.LOGOUT, self.records.config.system_codes.forced_logout, "Forced")
        if agent.live_legs():
            agent.pending, agent.pending_reason = S.LOGOUT, code
            self.publisher.touch(agent, force=True)
            return
        if agent.state in agent_states.WRAP_UP:
            self.end_wrap_up(agent)
        self.logout(agent, code)

    def end_wrap_up(self, agent: Agent) -> None:
        if agent.wrap_up_timer:
            agent.wrap_up_timer.cancel()
            agent.wrap_up_timer = None
        for leg in agent.legs:
            if leg.state == P.WRAP_UP and not leg.gone:
                leg.gone = True
                self.publisher.touch_call(leg.call)
                self.records.forget(leg.call)
        agent.legs = [leg for leg in agent.legs if not leg.gone]

    def _wrap_up_expired(self, agent: Agent) -> None:
        agent.wrap_up_timer = None
        target = agent_states.wrap_up_timer_target(agent.state, agent.wrap_up_then)
        reason = agent.wrap_up_then_reason if target == agent.wrap_up_then else None
        self.end_wrap_up(agent)
        agent.pending, agent.pending_reason = "", None
        if target == S.LOGOUT:
            self.logout(agent, reason)
        else:
            if target == S.NOT_READY and reason is None:
                reason = agent.base_reason
            self.set_state(agent, target, reason)

    def update_agent(self, agent: Agent) -> None:
        """Derive TALKING / HOLD from the agent's legs; when the last call ends, apply
        wrap-up and pending state (docs/finesse.md, Agent states)."""
        every = agent.live_legs()
        live = every
        if self.records.config.deployment == "UCCX":
            live = [leg for leg in every if not personal(self.records.config, leg.call)]
        states = {leg.state for leg in live}
        if states & {P.ACTIVE, P.INITIATED, P.INITIATING, P.FAILED}:
            if agent.wrap_up_timer is not None:
                self.end_wrap_up(agent)
            if agent.state != S.TALKING:
                self.set_state(agent, S.TALKING, None)
            agent.in_call = True
        elif P.HELD in states:
            self.set_state(agent, S.HOLD, None)
            agent.in_call = True
        elif P.ALERTING in states:
            return
        elif agent.in_call:
            agent.in_call = False
            self._after_call(agent)
        elif agent.state == S.RESERVED:
            # Reserved but the call never arrived (the caller hung up while it rang).
            self.set_state(agent, agent.base, agent.base_reason)
        elif agent.state == S.READY and not every:
            self.set_state(agent, S.READY, agent.reason)  # routable again

    def _after_call(self, agent: Agent) -> None:
        target = agent.pending or agent.base
        reason = agent.pending_reason if agent.pending else agent.base_reason
        wrap = any(leg.state == P.WRAP_UP and not leg.gone for leg in agent.legs)
        outcome = agent_states.after_call(self.records.config.deployment, target, wrap_up=wrap)
        if outcome.state == S.LOGOUT:
            self.end_wrap_up(agent)
            self.logout(agent, reason)
            return
        agent.pending, agent.pending_reason = "", None
        if outcome.wrap_up:
            agent.wrap_up_then, agent.wrap_up_then_reason = outcome.then, reason
            agent.base, agent.base_reason = target, reason
            self.set_state(agent, outcome.state, None)
            agent.wrap_up_timer = self.publisher.after(
                self.records.config.timers.wrap_up, lambda: self._wrap_up_expired(agent)
            )
        else:
            self.set_state(agent, outcome.state, reason)
