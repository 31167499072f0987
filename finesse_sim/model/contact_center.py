"""The Finesse layer: users, phones, calls and dialogs over the queueing core.

`ContactCenter` is the simulator's functional core. Inputs are method calls (a REST
request, a phone tap, a customer's call, a presence change, a timer); outputs go to two
callbacks: `on_notification(node, Update)` for the XMPP service and
`on_phone_event(number, event)` for handsets.

Notifications are derived, not hand-written: each input marks the agents and calls it
touched, and `_flush` compares what every agent's client was last told with what is true
now, then publishes a POST, PUT or DELETE for the difference. A transition can therefore
never forget its notification, and a recovery from OUT_OF_SERVICE is the same diff against
what clients knew before the outage (FINESSE.md 7.3).
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import simpy

from connector.finesse.models import (
    CALL_VARIABLE_NAMES,
    ECC_PREFIX,
    SYSTEM_INFO_URI,
    Action,
    AgentState,
    ApiError,
    ApiErrorException,
    Dialog,
    DialogRequest,
    DialogState,
    MediaProperties,
    MobileAgent,
    MobileAgentMode,
    Participant,
    ParticipantState,
    ReasonCode,
    Team,
    TeamMember,
    Update,
    User,
    UserSettings,
    dialogs_uri,
    team_users_uri,
    user_uri,
)
from finesse_sim.config import SimConfig
from finesse_sim.model import agent_states
from finesse_sim.model.acd import Acd, Queue
from finesse_sim.model.calls import CONNECTED, LIVE, Agent, Call, Leg
from finesse_sim.model.participant_actions import participant_actions
from finesse_sim.model.timers import schedule

S = AgentState
P = ParticipantState
D = DialogState

NO_REASON_ID = "-1"
DIALABLE = re.compile(r"^\+?[0-9*#]+$")
DTMF_DIGITS = {"UCCE": set("0123456789*#ABCD"), "UCCX": set("0123456789*#")}
BA_VARIABLES = frozenset(
    {
        "BACampaign",
        "BAAccountNumber",
        "BAResponse",
        "BAStatus",
        "BADialedListID",
        "BATimeZone",
        "BABuddyName",
        "BACustomerNumber",
    }
)
CALL_VARIABLE_MAX_BYTES = 40
ECC_MAX_BYTES = 2000
WRAP_UP_REASON_MAX = 40
ALL_ACTIONS = frozenset(a.value for a in Action)
NEEDS_TARGET = frozenset(ALL_ACTIONS - {Action.UPDATE_CALL_DATA, Action.MAKE_CALL})

Notify = Callable[[str, Update], None]
PhoneEvent = Callable[[str, dict[str, Any]], None]


def _error(status: int, error_type: str, message: str, data: str = "") -> ApiErrorException:
    return ApiErrorException(status, ApiError(error_type, message, data))


class ContactCenter:
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
        self.on_notification: Notify = on_notification or (lambda node, update: None)
        self.on_phone_event: PhoneEvent = on_phone_event or (lambda number, event: None)
        self.epoch = time.time() if epoch is None else epoch
        self._ids = itertools.count(10_000_001)
        self._request_id = ""
        self._depth = 0
        self._dirty_agents: dict[Agent, bool] = {}  # agent -> force a User notification
        self._dirty_calls: set[Call] = set()
        self.in_service = True
        self.notifications_to_lose = 0
        self.notifications_lost = 0
        self._build()

    def _build(self) -> None:
        self.agents: dict[str, Agent] = {a.id: Agent(a) for a in self.config.agents}
        self._by_login_name = {a.cfg.login_name: a for a in self.agents.values()}
        self.calls: dict[str, Call] = {}
        self.acd = Acd(lambda: self.env.now, self._on_route)
        for q in self.config.queues:
            self.acd.add_queue(q.id, q.name, q.dn, q.agents)

    def reset(self) -> None:
        """Everyone logged out, no calls, no faults; timers left behind do nothing."""
        for agent in self.agents.values():
            for timer in (agent.wrap_up_timer, agent.presence_timer, agent.login_timer):
                if timer:
                    timer.cancel()
        for call in self.calls.values():
            for leg in call.legs:
                for timer in (leg.rona, leg.answer_timer):
                    if timer:
                        timer.cancel()
        self._dirty_agents.clear()
        self._dirty_calls.clear()
        self.in_service = True
        self.notifications_to_lose = 0
        self._build()

    # -- time ---------------------------------------------------------------------------------

    def timestamp(self) -> str:
        moment = datetime.fromtimestamp(self.epoch + self.env.now, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def _after(self, delay: float, fn: Callable[[], None]):
        def fire() -> None:
            with self._input(""):
                fn()

        return schedule(self.env, delay, fire)

    @contextmanager
    def _input(self, request_id: str) -> Iterator[None]:
        """Every input runs inside this: it tags notifications with the request's id and
        publishes what changed once the input is fully applied."""
        outer = self._request_id
        self._depth += 1
        if self._depth == 1:
            self._request_id = request_id
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._flush()
                self._request_id = outer

    # -- reading ------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id) or self._by_login_name.get(agent_id)

    def authenticate(self, user: str, password: str, *, count_failure: bool = True) -> Agent:
        """Basic-auth check with Finesse's lockout: 5 bad passwords lock for 5 minutes."""
        agent = self.agent(user)
        if agent is None:
            raise _error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if self.env.now < agent.locked_until:
            raise _error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if password != agent.cfg.password:
            if count_failure:
                agent.failed_logins += 1
                if agent.failed_logins >= self.config.lockout_attempts:
                    agent.failed_logins = 0
                    agent.locked_until = self.env.now + self.config.timers.lockout
            raise _error(401, "Authorization Failure", "UNAUTHORIZED", user)
        agent.failed_logins = 0
        return agent

    def user(self, agent: Agent) -> User:
        settings = UserSettings(
            wrap_up_on_incoming=self.config.wrap_up_on_incoming,
            wrap_up_on_outgoing=self.config.wrap_up_on_outgoing,
        )
        team = self.config.team(agent.cfg.team_id)
        return User(
            login_id=agent.id,
            login_name=agent.cfg.login_name,
            first_name=agent.cfg.first_name,
            last_name=agent.cfg.last_name,
            state=agent.state,
            state_change_time=agent.state_change_time,
            pending_state=agent.pending,
            reason_code_id=agent.reason.id if agent.reason else NO_REASON_ID,
            reason_code=agent.reason,
            extension=agent.extension,
            roles=list(agent.cfg.roles),
            settings=settings,
            team_id=agent.cfg.team_id,
            team_name=team.name if team else "",
            mobile_agent=agent.mobile,
        )

    def team_member(self, agent: Agent) -> TeamMember:
        return TeamMember(
            login_id=agent.id,
            first_name=agent.cfg.first_name,
            last_name=agent.cfg.last_name,
            state=agent.state,
            state_change_time=agent.state_change_time,
            pending_state=agent.pending,
            extension=agent.extension,
            reason_code=agent.reason,
        )

    def team(self, agent: Agent, team_id: str) -> Team:
        team = self.config.team(team_id)
        if team is None:
            raise _error(404, "TeamId Not Found", "Invalid team id", team_id)
        if agent.cfg.team_id != team_id and "Supervisor" not in agent.cfg.roles:
            raise _error(401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id)
        members = [self.team_member(a) for a in self.agents.values() if a.cfg.team_id == team_id]
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
        return [self.dialog_of(leg.call) for leg in agent.legs if not leg.gone]

    def dialog(self, agent: Agent, dialog_id: str) -> Dialog:
        return self.dialog_of(self._own_call(agent, dialog_id)[0])

    def _own_call(self, agent: Agent, dialog_id: str) -> tuple[Call, Leg]:
        call = self.calls.get(dialog_id)
        if call is None:
            raise _error(404, "Not Found", "Invalid dialogId specified for dialog", dialog_id)
        leg = call.leg_of(agent)
        if leg is None:
            raise _error(401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id)
        return call, leg

    def dialog_of(self, call: Call, keep: Agent | None = None) -> Dialog:
        """The Dialog as Finesse shows it. An agent's participant disappears once its part is
        over, except in the DELETE sent to that agent (`keep`), which shows it DROPPED."""
        participants = []
        for leg in call.legs:
            if leg.gone and leg.agent is not None and leg.agent is not keep:
                continue
            participants.append(
                Participant(
                    media_address=leg.address,
                    state=leg.state,
                    actions=self._actions(leg),
                    media_address_type="AGENT_DEVICE" if leg.agent else "",
                    start_time=leg.start_time,
                    state_cause=leg.state_cause,
                    state_change_time=leg.state_change_time,
                )
            )
        variables = {name: call.variables.get(name, "") for name in CALL_VARIABLE_NAMES}
        variables.update((k, v) for k, v in call.variables.items() if k.startswith(ECC_PREFIX))
        queue = call.queue
        return Dialog(
            id=call.id,
            state=call.state,
            from_address=call.from_address,
            to_address=call.to_address,
            associated_dialog_uri=(
                f"/finesse/api/Dialog/{call.associated.id}" if call.associated else ""
            ),
            media_properties=MediaProperties(
                dialed_number=call.dialed_number,
                dnis=call.dnis,
                call_type=call.call_type,
                queue_number=queue.id if queue else "",
                queue_name=queue.name if queue else "",
                wrap_up_reason=call.wrap_up_reason,
                call_variables=variables,
            ),
            participants=participants,
        )

    def _actions(self, leg: Leg) -> list[str]:
        other_active = leg.agent is not None and any(
            other.state == P.ACTIVE and other.call is not leg.call for other in leg.agent.legs
        )
        return participant_actions(
            leg.state,
            is_agent=leg.agent is not None,
            other_call_active=other_active,
            active_extras=self.config.active_extra_actions,
        )

    def reason_codes(self, category: str | None) -> list[ReasonCode]:
        if not category:
            raise _error(400, "Parameter Missing", "category parameter is required", "category")
        if category not in (S.NOT_READY, S.LOGOUT):
            raise _error(400, "Invalid Input", "Invalid category specified", "category")
        return self.config.reason_codes_for(category)

    # -- publishing ---------------------------------------------------------------------------

    def _touch(self, agent: Agent, *, force: bool = False) -> None:
        self._dirty_agents[agent] = self._dirty_agents.get(agent, False) or force

    def _touch_call(self, call: Call, *, force: bool = False) -> None:
        self._dirty_calls.add(call)
        call.force_publish = call.force_publish or force

    def _emit(self, node: str, update: Update) -> None:
        if self.notifications_to_lose > 0:
            self.notifications_to_lose -= 1
            self.notifications_lost += 1
            return
        self.on_notification(node, update)

    def _flush(self) -> None:
        if not self.in_service:
            # OUT_OF_SERVICE: no events (FINESSE.md 7.3); the recovery diff catches up.
            self._dirty_agents.clear()
            self._dirty_calls.clear()
            return
        while self._dirty_agents or self._dirty_calls:
            agents, self._dirty_agents = self._dirty_agents, {}
            calls, self._dirty_calls = self._dirty_calls, set()
            for agent, force in agents.items():
                self._publish_user(agent, force)
            for call in calls:
                self._publish_call(call)

    def _publish_user(self, agent: Agent, force: bool) -> None:
        user = self.user(agent)
        if not force and user == agent.shown_user:
            return
        old = agent.shown_user
        agent.shown_user = user
        self._emit(
            user_uri(agent.id),
            Update("PUT", user_uri(agent.id), user, self._request_id),
        )
        if old is None or (old.state, old.reason_code, old.pending_state, old.extension) != (
            user.state,
            user.reason_code,
            user.pending_state,
            user.extension,
        ):
            team = team_users_uri(agent.cfg.team_id)
            self._emit(team, Update("PUT", user_uri(agent.id), self.team_member(agent)))

    def _publish_call(self, call: Call) -> None:
        dialog = self.dialog_of(call)
        force, call.force_publish = call.force_publish, False
        agents = {leg.agent for leg in call.legs if leg.agent is not None} | call.watchers
        for agent in agents:
            self._publish_dialog_to(agent, call, dialog, force)

    def _publish_dialog_to(self, agent: Agent, call: Call, dialog: Dialog, force: bool) -> None:
        node = dialogs_uri(agent.id)
        shown = call.leg_of(agent) is not None
        known = agent.known.get(call.id)
        if shown and known is None:
            agent.known[call.id] = dialog
            call.watchers.add(agent)
            self._emit(node, Update("POST", node, [dialog], self._request_id))
        elif shown and (force or known != dialog):
            agent.known[call.id] = dialog
            self._emit(node, Update("PUT", dialog.uri, dialog, self._request_id))
        elif not shown and known is not None:
            del agent.known[call.id]
            call.watchers.discard(agent)
            last = self.dialog_of(call, keep=agent)
            self._emit(node, Update("DELETE", node, [last], self._request_id))

    def _async_error(self, node: str, source: str, error: ApiError) -> None:
        self._emit(node, Update("PUT", source, [error], self._request_id))

    # -- agent state --------------------------------------------------------------------------

    def _set_state(self, agent: Agent, state: str, reason: ReasonCode | None = None) -> None:
        if state != agent.state or reason != agent.reason:
            if state != agent.state:
                agent.state_change_time = self.timestamp()
            agent.state = state
            agent.reason = reason
        if state in (S.READY, S.NOT_READY):
            agent.base, agent.base_reason = state, reason
        self._touch(agent)
        if state == S.READY and not agent.live_legs():
            # READY is published before the router may reserve the agent, and the call it
            # routes is unsolicited: it carries no requestId.
            self._flush()
            request_id, self._request_id = self._request_id, ""
            self.acd.agent_available(agent.id)
            self._flush()
            self._request_id = request_id
        else:
            self.acd.agent_unavailable(agent.id)

    def put_user(self, agent: Agent, req: User, request_id: str = "") -> None:
        """PUT /User/{id}: LOGIN, READY, NOT_READY, LOGOUT. Raises ApiErrorException."""
        with self._input(request_id):
            if not req.state:
                raise _error(400, "Parameter Missing", "State Parameter missing", "state")
            if req.state == S.LOGIN:
                self._login(agent, req)
                return
            if not agent.logged_in:
                raise _error(400, "Invalid State", "User is not logged in", "state")
            reason = self._reason_for(req.state, req.reason_code_id)
            self._change_state(agent, req.state, reason)

    def _reason_for(self, state: str, reason_code_id: str) -> ReasonCode | None:
        if state not in (S.NOT_READY, S.LOGOUT):
            return None
        configured = self.config.reason_codes_for(state)
        if not reason_code_id or reason_code_id == NO_REASON_ID:
            if configured:
                raise _error(400, "Parameter Missing", "reasonCodeId is required", "reasonCodeId")
            return None
        code = self.config.reason_code(state, reason_code_id)
        if code is None:
            raise _error(400, "Invalid Input", "Invalid reasonCodeId", "reasonCodeId")
        return code

    def _change_state(self, agent: Agent, state: str, reason: ReasonCode | None) -> None:
        if (
            self.config.deployment == "UCCX"
            and state == S.READY
            and any(leg.call.queue is None for leg in agent.live_legs())
        ):
            # CCX refuses READY during a non-ICD call (FINESSE.md 3.2).
            error = ApiError("Invalid State", "CF_RESOURCE_BUSY", "33")
            self._async_error(user_uri(agent.id), user_uri(agent.id), error)
            return
        decision = agent_states.decide(self.config.deployment, agent.state, state)
        if isinstance(decision, agent_states.Refuse):
            raise ApiErrorException(decision.status, decision.error)
        if isinstance(decision, agent_states.RefuseLater):
            self._async_error(user_uri(agent.id), user_uri(agent.id), decision.error)
            return
        if isinstance(decision, agent_states.Pend):
            agent.pending, agent.pending_reason = state, reason
            self._touch(agent, force=True)
            return
        if agent.state in agent_states.WRAP_UP:
            self._check_wrap_up_data(agent)
            self._end_wrap_up(agent)
        if state == S.LOGOUT:
            self._logout(agent, reason)
            return
        agent.pending, agent.pending_reason = "", None
        self._touch(agent, force=True)
        self._set_state(agent, state, reason)

    def _check_wrap_up_data(self, agent: Agent) -> None:
        if self.config.wrap_up_on_incoming != "REQUIRED_WITH_WRAP_UP_DATA":
            return
        for leg in agent.legs:
            if leg.state == P.WRAP_UP and not leg.gone and not leg.call.wrap_up_reason:
                raise _error(400, "Invalid State", "Wrap-up data is required", "wrapUpReason")

    def _login(self, agent: Agent, req: User) -> None:
        ext = req.extension
        if not ext:
            raise _error(400, "Parameter Missing", "Extension Parameter missing", "extension")
        if not ext.isdigit() or (self.config.deployment == "UCCE" and len(ext) > 15):
            raise _error(400, "Invalid Input", "Invalid extension specified", "extension")
        mobile = req.mobile_agent
        if mobile is not None:
            if self.config.deployment != "UCCE":
                raise _error(400, "Invalid Input", "Mobile Agent is UCCE only", "mobileAgent")
            if not mobile.mode:
                raise _error(400, "Parameter Missing", "mode is required", "mode")
            if not mobile.dial_number:
                raise _error(400, "Parameter Missing", "dialNumber is required", "dialNumber")
            if mobile.mode not in MobileAgentMode.__members__:
                raise _error(400, "Invalid Input", "Invalid mobile agent mode", "mode")
        node = user_uri(agent.id)
        if agent.logged_in:
            # A forced login keeps the current state (FINESSE.md 2.1).
            self._touch(agent, force=True)
            return
        if ext not in self.config.devices:
            self._async_error(node, node, ApiError("Invalid Device", "CF_INVALID_DEVICE", ext))
            return
        holder = next(
            (a for a in self.agents.values() if a is not agent and a.extension == ext), None
        )
        if holder is not None:
            self._async_error(node, node, ApiError("Device Busy", "CF_DEVICE_BUSY", ext))
            return
        agent.extension = ext
        agent.mobile = MobileAgent(mobile.mode, mobile.dial_number) if mobile else None
        if mobile is not None and mobile.mode == MobileAgentMode.NAILED_CONNECTION:
            # The setup call must be answered before the login completes (MA90).
            agent.login_request_id = self._request_id
            self._phone(
                mobile.dial_number,
                "ring",
                callId=f"nailed-{agent.id}",
                **{"from": ext, "to": mobile.dial_number},
            )
            agent.login_timer = self._after(
                self.config.timers.ring_no_answer, lambda: self._nailed_failed(agent)
            )
            return
        self._complete_login(agent)

    def _complete_login(self, agent: Agent) -> None:
        agent.pending, agent.pending_reason = "", None
        self._touch(agent, force=True)
        self._set_state(agent, S.NOT_READY, None)

    def _nailed_failed(self, agent: Agent) -> None:
        """Setup call rejected or unanswered: the login does not complete."""
        if agent.login_timer:
            agent.login_timer.cancel()
        dial = agent.mobile.dial_number if agent.mobile else ""
        agent.extension, agent.mobile, agent.login_timer = "", None, None
        self._phone(dial, "ended", callId=f"nailed-{agent.id}")
        self._request_id = agent.login_request_id
        self._touch(agent, force=True)

    def _logout(self, agent: Agent, reason: ReasonCode | None) -> None:
        for timer in (agent.wrap_up_timer, agent.presence_timer, agent.login_timer):
            if timer:
                timer.cancel()
        if agent.mobile and agent.mobile.mode == MobileAgentMode.NAILED_CONNECTION:
            self._phone(agent.mobile.dial_number, "ended", callId=f"nailed-{agent.id}")
        agent.extension, agent.mobile, agent.nailed_up = "", None, False
        agent.pending, agent.pending_reason = "", None
        agent.in_call = False
        self._touch(agent, force=True)
        self._set_state(agent, S.LOGOUT, reason)

    def presence(self, agent_id: str, available: bool) -> None:
        """XMPP presence of the agent's desktop: lost for 60 s means a forced logout."""
        agent = self.agent(agent_id)
        if agent is None:
            return
        with self._input(""):
            if agent.presence_timer:
                agent.presence_timer.cancel()
                agent.presence_timer = None
            if not available and agent.logged_in:
                agent.presence_timer = self._after(
                    self.config.timers.forced_logout, lambda: self._forced_logout(agent)
                )

    def _forced_logout(self, agent: Agent) -> None:
        agent.presence_timer = None
        if not agent.logged_in:
            return
        code = self._system_code(S.LOGOUT, self.config.system_codes.forced_logout, "Forced")
        if agent.live_legs():
            agent.pending, agent.pending_reason = S.LOGOUT, code
            self._touch(agent, force=True)
            return
        if agent.state in agent_states.WRAP_UP:
            self._end_wrap_up(agent)
        self._logout(agent, code)

    def _system_code(self, category: str, code: str, label: str) -> ReasonCode:
        return ReasonCode(
            id=code, category=category, code=code, label=label, for_all=True, system_code=True
        )

    # -- wrap-up ------------------------------------------------------------------------------

    def _end_wrap_up(self, agent: Agent) -> None:
        if agent.wrap_up_timer:
            agent.wrap_up_timer.cancel()
            agent.wrap_up_timer = None
        for leg in agent.legs:
            if leg.state == P.WRAP_UP and not leg.gone:
                leg.gone = True
                self._touch_call(leg.call)
                self._forget(leg.call)
        agent.legs = [leg for leg in agent.legs if not leg.gone]

    def _forget(self, call: Call) -> None:
        """An ended call is kept while an agent still wraps it up (its dialog can still
        take UPDATE_CALL_DATA); after that its id is unknown (404)."""
        if call.ended and not any(leg.agent and not leg.gone for leg in call.legs):
            self.calls.pop(call.id, None)

    def _wrap_up_expired(self, agent: Agent) -> None:
        agent.wrap_up_timer = None
        target = agent_states.wrap_up_timer_target(agent.state, agent.wrap_up_then)
        reason = agent.wrap_up_then_reason if target == agent.wrap_up_then else None
        self._end_wrap_up(agent)
        agent.pending, agent.pending_reason = "", None
        if target == S.LOGOUT:
            self._logout(agent, reason)
        else:
            if target == S.NOT_READY and reason is None:
                reason = agent.base_reason
            self._set_state(agent, target, reason)

    # -- phones -------------------------------------------------------------------------------

    def _phone(self, number: str | None, event: str, **data: Any) -> None:
        if number:
            self.on_phone_event(number, {"event": event, "number": number, **data})

    def phone_answer(self, number: str) -> str:
        """The handset at `number` goes off hook on its ringing call. Returns the call id."""
        with self._input(""):
            for agent in self.agents.values():
                if (
                    agent.mobile
                    and agent.mobile.dial_number == number
                    and agent.login_timer is not None
                    and not agent.logged_in
                ):
                    agent.login_timer.cancel()
                    agent.login_timer = None
                    agent.nailed_up = True
                    self._phone(number, "connected", callId=f"nailed-{agent.id}")
                    self._request_id = agent.login_request_id
                    self._complete_login(agent)
                    return f"nailed-{agent.id}"
            for call in self.calls.values():
                for leg in call.legs:
                    if leg.phone == number and leg.state == P.INITIATING and call.dial_target:
                        self._phone(number, "connected", callId=call.id)
                        self._dial(call)
                        return call.id
            leg = self._ringing_leg(number)
            self._answer(leg)
            return leg.call.id

    def phone_reject(self, number: str) -> str:
        with self._input(""):
            for agent in self.agents.values():
                if agent.mobile and agent.mobile.dial_number == number and agent.login_timer:
                    self._nailed_failed(agent)
                    return f"nailed-{agent.id}"
            leg = self._ringing_leg(number)
            if leg.routed and leg.agent is not None:
                self._ring_no_answer(leg)
            else:
                self._fail_leg(leg, "BUSY")
            return leg.call.id

    def phone_hangup(self, number: str) -> list[str]:
        with self._input(""):
            ended = []
            for call in list(self.calls.values()):
                for leg in call.legs:
                    if leg.phone == number and leg.state in LIVE and not leg.gone:
                        if leg.state == P.ALERTING:
                            continue
                        ended.append(call.id)
                        self._drop_leg(leg)
            for agent in self.agents.values():
                if (
                    agent.nailed_up
                    and agent.mobile
                    and agent.mobile.dial_number == number
                    and agent.logged_in
                ):
                    # Hanging up the nailed connection signs the agent out (UNCONFIRMED).
                    ended.append(f"nailed-{agent.id}")
                    for leg in agent.live_legs():
                        self._drop_leg(leg)
                    self._end_wrap_up(agent)
                    self._logout(agent, None)
            if not ended:
                raise _error(404, "Not Found", "No call on this phone", number)
            return ended

    def _ringing_leg(self, number: str) -> Leg:
        for call in self.calls.values():
            for leg in call.legs:
                if leg.phone == number and leg.state == P.ALERTING and not leg.gone:
                    return leg
        raise _error(404, "Not Found", "This phone is not ringing", number)

    # -- calls: arrival and routing -----------------------------------------------------------

    def _new_call(self, **kwargs: Any) -> Call:
        call = Call(id=str(next(self._ids)), **kwargs)
        self.calls[call.id] = call
        return call

    def _leg(self, call: Call, address: str, state: str, **kwargs: Any) -> Leg:
        now = self.timestamp()
        leg = Leg(call, address, state, start_time=now, state_change_time=now, **kwargs)
        call.legs.append(leg)
        if leg.agent is not None:
            leg.agent.legs.append(leg)
        self._touch_call(call)
        return leg

    def _set_leg(self, leg: Leg, state: str, cause: str = "") -> None:
        if leg.state != state:
            leg.state = state
            leg.state_change_time = self.timestamp()
        leg.state_cause = cause
        self._touch_call(leg.call)
        if leg.agent is not None:
            # TRANSFER/CONFERENCE on the agent's other calls depend on this leg's state.
            for other in leg.agent.legs:
                self._touch_call(other.call)

    def inject_call(
        self, dn: str, from_address: str, variables: dict[str, str] | None = None
    ) -> str:
        """A customer dials `dn` (a queue DN, an agent extension or any number)."""
        variables = dict(variables or {})
        self._check_variables(variables)
        with self._input(""):
            queue = self.acd.queue_for(dn)
            call = self._new_call(
                state=D.INITIATED,
                from_address=from_address,
                to_address=dn,
                call_type="ACD_IN" if queue else "OTHER_IN",
                dialed_number=dn,
                dnis=dn,
                queue=queue,
                variables=variables,
            )
            self._leg(call, from_address, P.INITIATED, phone=from_address)
            if queue is not None:
                self.acd.offer(call, queue)
            else:
                self._deliver(call, dn)
            return call.id

    def _on_route(self, call: Any, agent_id: str, queue: Queue) -> None:
        agent = self.agents[agent_id]
        self._set_state(agent, S.RESERVED, None)
        call.dnis = agent.extension
        self._deliver_to_agent(call, agent, routed=True)

    def _device_agent(self, number: str) -> Agent | None:
        return next(
            (a for a in self.agents.values() if a.logged_in and a.extension == number), None
        )

    def _deliver(self, call: Call, number: str) -> None:
        """Ring `number`: a queue DN queues the call, an agent device alerts the agent, any
        other dialable number is an outside phone."""
        queue = self.acd.queue_for(number)
        if queue is not None:
            call.queue = queue
            self.acd.offer(call, queue)
            return
        agent = self._device_agent(number)
        if agent is not None:
            if agent.live_legs():
                self._fail_call(call, "BUSY")
                return
            self._deliver_to_agent(call, agent, routed=False)
            return
        if not DIALABLE.match(number):
            self._fail_call(call, "BAD_DESTINATION")
            return
        leg = self._leg(call, number, P.ALERTING, phone=number)
        self._set_call_state(call)
        self._phone(number, "ring", callId=call.id, **{"from": call.from_address, "to": number})
        delay = self.config.timers.external_answer
        if delay >= 0:
            leg.answer_timer = self._after(delay, lambda: self._answer_if_ringing(leg))

    def _deliver_to_agent(self, call: Call, agent: Agent, *, routed: bool) -> None:
        leg = self._leg(call, agent.extension, P.ALERTING, agent=agent, routed=routed)
        leg.phone = agent.phone
        self._set_call_state(call)
        if not routed and agent.state == S.READY:
            self._set_state(agent, S.RESERVED, None)
        self.acd.agent_unavailable(agent.id)
        self._phone(
            leg.phone, "ring", callId=call.id, **{"from": call.from_address, "to": call.to_address}
        )
        if routed:
            leg.rona = self._after(
                self.config.timers.ring_no_answer, lambda: self._ring_no_answer(leg)
            )

    def _answer_if_ringing(self, leg: Leg) -> None:
        if leg.state == P.ALERTING and not leg.gone:
            self._answer(leg)

    def _ring_no_answer(self, leg: Leg) -> None:
        """RONA: the agent goes NOT_READY with a system code, the call goes back to the
        front of its queue."""
        if leg.state != P.ALERTING or leg.gone or leg.agent is None:
            return
        agent, call = leg.agent, leg.call
        self._remove_leg(leg)
        self._phone(leg.phone, "ended", callId=call.id)
        code = self.config.system_codes.rona_code(self.config.deployment)
        self._set_state(agent, S.NOT_READY, self._system_code(S.NOT_READY, code, "Ring No Answer"))
        self._touch(agent, force=True)
        if call.queue is not None and not call.ended:
            call.state = D.INITIATED
            self.acd.offer(call, call.queue, front=True)
        else:
            self._end_call(call)

    def _remove_leg(self, leg: Leg) -> None:
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.state = P.DROPPED
        leg.gone = True
        if leg.agent is not None:
            leg.agent.legs = [x for x in leg.agent.legs if x is not leg]
        self._touch_call(leg.call)

    # -- calls: connecting, dropping, ending --------------------------------------------------

    def _set_call_state(self, call: Call) -> None:
        states = {leg.state for leg in call.legs if not leg.gone}
        if call.ended:
            new = D.DROPPED
        elif states & CONNECTED and len(call.connected()) >= 2:
            new = D.ACTIVE
        elif P.ALERTING in states:
            new = D.ALERTING
        elif P.FAILED in states:
            new = D.FAILED
        elif P.INITIATED in states:
            new = D.INITIATED
        elif P.INITIATING in states:
            new = D.INITIATING
        elif states & CONNECTED:
            new = D.ACTIVE
        else:
            new = D.DROPPED
        if new != call.state:
            call.state = new
            self._touch_call(call)

    def _answer(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.answered = True
        self._set_leg(leg, P.ACTIVE)
        for other in call.legs:
            if other is not leg and other.state in (P.INITIATED, P.INITIATING) and not other.gone:
                other.answered = True
                self._set_leg(other, P.ACTIVE)
        self._set_call_state(call)
        for other in call.legs:
            if other.state in CONNECTED:
                self._phone(other.phone, "connected", callId=call.id)
        for agent in self._agents_of(call):
            self._update_agent(agent)

    def _agents_of(self, call: Call) -> list[Agent]:
        seen: list[Agent] = []
        for leg in call.legs:
            if leg.agent is not None and leg.agent not in seen:
                seen.append(leg.agent)
        return seen

    def _fail_call(self, call: Call, cause: str) -> None:
        """The far end is busy or not dialable: the caller's leg FAILED (only DROP)."""
        for leg in call.legs:
            if leg.state in (P.INITIATING, P.INITIATED) and not leg.gone:
                self._set_leg(leg, P.FAILED, cause)
        if not any(leg.agent for leg in call.legs if leg.state == P.FAILED):
            self._end_call(call)
            return
        self._set_call_state(call)

    def _fail_leg(self, leg: Leg, cause: str) -> None:
        """An outside phone rejected the call."""
        self._remove_leg(leg)
        self._phone(leg.phone, "ended", callId=leg.call.id)
        self._fail_call(leg.call, cause)

    def _drop_leg(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        self._set_leg(leg, P.DROPPED)
        self._phone(leg.phone, "ended", callId=call.id)
        remaining = [x for x in call.legs if x.state in LIVE and not x.gone]
        if len(call.connected()) >= 2 or (
            len(remaining) >= 2 and any(x.state == P.ALERTING for x in remaining)
        ):
            # Someone left a conference (or the transferring agent left a ringing call).
            self._flush()
            self._leave(leg)
            self._set_call_state(call)
            return
        if leg.agent is None:
            # The caller hung up: its DROPPED is seen before END_CALL (FINESSE.md 2.2). When
            # the agent drops, the one PUT shows every participant DROPPED.
            self._flush()
        self._end_call(call)

    def _leave(self, leg: Leg) -> None:
        """An agent's leg is over but the call goes on for others."""
        agent = leg.agent
        if agent is None:
            leg.gone = True
            return
        if self._wraps(agent, leg):
            self._set_leg(leg, P.WRAP_UP)
        else:
            leg.gone = True
            agent.legs = [x for x in agent.legs if x is not leg]
            self._touch_call(leg.call)
        self._update_agent(agent)

    def _wraps(self, agent: Agent, leg: Leg) -> bool:
        mode = (
            self.config.wrap_up_on_outgoing
            if leg.call.outgoing_agent is agent
            else self.config.wrap_up_on_incoming
        )
        return agent_states.wrap_up_applies(mode, leg.answered) and not [
            x for x in agent.live_legs() if x is not leg
        ]

    def _end_call(self, call: Call) -> None:
        """END_CALL: every leg DROPPED (PUT), then DELETE, or WRAP_UP for an agent whose
        wrap-up applies (FINESSE.md 2.2, CTI event mapping)."""
        if call.ended:
            return
        self.acd.withdraw(call)
        call.ended = True
        for leg in call.legs:
            if leg.state in LIVE and not leg.gone:
                for timer in (leg.rona, leg.answer_timer):
                    if timer:
                        timer.cancel()
                self._set_leg(leg, P.DROPPED)
                self._phone(leg.phone, "ended", callId=call.id)
        self._set_call_state(call)
        self._flush()
        for leg in call.legs:
            if leg.agent is not None and not leg.gone:
                self._leave(leg)
        if call.associated is not None and call.associated.associated is call:
            call.associated.associated = None
            self._touch_call(call.associated)
        self._forget(call)

    def _update_agent(self, agent: Agent) -> None:
        """Derive TALKING / HOLD from the agent's legs; when the last call ends, apply
        wrap-up and pending state (FINESSE.md 3.1, 3.3)."""
        every = agent.live_legs()
        live = every
        if self.config.deployment == "UCCX":
            # CCX: non-ICD (personal) calls leave the agent state alone (FINESSE.md 3.2).
            live = [leg for leg in every if leg.call.queue is not None]
        states = {leg.state for leg in live}
        if states & {P.ACTIVE, P.INITIATED, P.INITIATING, P.FAILED}:
            if agent.wrap_up_timer is not None:
                self._end_wrap_up(agent)
            if agent.state != S.TALKING:
                self._set_state(agent, S.TALKING, None)
            agent.in_call = True
        elif P.HELD in states:
            self._set_state(agent, S.HOLD, None)
            agent.in_call = True
        elif P.ALERTING in states:
            return
        elif agent.in_call:
            agent.in_call = False
            self._after_call(agent)
        elif agent.state == S.RESERVED:
            # Reserved but the call never arrived (the caller hung up while it rang).
            self._set_state(agent, agent.base, agent.base_reason)
        elif agent.state == S.READY and not every:
            self._set_state(agent, S.READY, agent.reason)  # routable again

    def _after_call(self, agent: Agent) -> None:
        target = agent.pending or agent.base
        reason = agent.pending_reason if agent.pending else agent.base_reason
        wrap = any(leg.state == P.WRAP_UP and not leg.gone for leg in agent.legs)
        outcome = agent_states.after_call(self.config.deployment, target, wrap_up=wrap)
        if outcome.state == S.LOGOUT:
            self._end_wrap_up(agent)
            self._logout(agent, reason)
            return
        agent.pending, agent.pending_reason = "", None
        if outcome.wrap_up:
            agent.wrap_up_then, agent.wrap_up_then_reason = outcome.then, reason
            agent.base, agent.base_reason = target, reason
            self._set_state(agent, outcome.state, None)
            agent.wrap_up_timer = self._after(
                self.config.timers.wrap_up, lambda: self._wrap_up_expired(agent)
            )
        else:
            self._set_state(agent, outcome.state, reason)

    # -- customer and control inputs ----------------------------------------------------------

    def hangup_call(self, call_id: str) -> None:
        """The customer (the call's first leg) hangs up; a queued call is abandoned."""
        with self._input(""):
            call = self.calls.get(call_id)
            if call is None:
                raise _error(404, "Not Found", "Unknown call", call_id)
            if self.acd.withdraw(call):
                call.ended = True
                self.calls.pop(call.id, None)
                self._phone(call.from_address, "ended", callId=call.id)
                return
            customer = next(
                (x for x in call.legs if x.agent is None and x.state in LIVE and not x.gone),
                None,
            )
            if customer is None:
                self._end_call(call)
            else:
                self._drop_leg(customer)

    # -- dialog requests ----------------------------------------------------------------------

    def make_call(self, agent: Agent, req: DialogRequest, request_id: str = "") -> None:
        """POST /User/{id}/Dialogs with MAKE_CALL."""
        with self._input(request_id):
            if req.requested_action != Action.MAKE_CALL:
                if not req.requested_action:
                    raise _error(
                        400, "Parameter Missing", "requestedAction is required", "requestedAction"
                    )
                raise _error(400, "Invalid Input", "Invalid requestedAction", "requestedAction")
            if not req.to_address:
                raise _error(400, "Parameter Missing", "toAddress is required", "toAddress")
            if not req.from_address:
                raise _error(400, "Parameter Missing", "fromAddress is required", "fromAddress")
            if not agent.logged_in:
                raise _error(400, "Invalid State", "User is not logged in", "state")
            if req.from_address != agent.extension:
                raise _error(
                    400, "Invalid Input", "fromAddress is not your extension", "fromAddress"
                )
            if req.to_address == agent.extension:
                raise _error(400, "Invalid Destination", "Cannot call own extension", "toAddress")
            variables = {}
            if req.media_properties is not None:
                if self.config.deployment == "UCCX":
                    raise _error(
                        400, "Invalid Input", "mediaProperties not allowed", "mediaProperties"
                    )
                if req.media_properties.wrap_up_reason:
                    raise _error(400, "Invalid Input", "wrapUpReason not allowed", "wrapUpReason")
                variables = dict(req.media_properties.call_variables)
                self._check_variables(variables)
            if agent.state not in (S.READY, S.NOT_READY) or agent.live_legs():
                raise _error(
                    400, "Invalid State", f"Cannot make a call in state {agent.state}", "state"
                )
            if agent.state == S.READY:
                # CCE 12.5+: calling from READY moves the agent NOT_READY with 50006.
                code = self.config.system_codes.made_call_from_ready
                self._set_state(
                    agent, S.NOT_READY, self._system_code(S.NOT_READY, code, "Made call")
                )
                self._flush()
            call = self._new_call(
                state=D.INITIATING,
                from_address=agent.extension,
                to_address=req.to_address,
                call_type="AGENT_INSIDE" if self._device_agent(req.to_address) else "OUT",
                dialed_number=req.to_address,
                variables=variables,
                outgoing_agent=agent,
            )
            self._originate(call, agent, req.to_address)

    def _originate(self, call: Call, agent: Agent, to_address: str) -> None:
        leg = self._leg(call, agent.extension, P.INITIATING, agent=agent, phone=agent.phone)
        call.dial_target = to_address
        self._update_agent(agent)
        if agent.mobile and agent.mobile.mode == MobileAgentMode.CALL_BY_CALL:
            # Call-by-call outbound: the agent's own phone rings first (MA90); the far end
            # is dialled once the agent answers it (see phone_answer).
            self._phone(leg.phone, "ring", callId=call.id, **{"from": to_address, "to": leg.phone})
            return
        self._after(self.config.timers.network, lambda: self._dial(call))

    def _dial(self, call: Call) -> None:
        if call.ended or not call.dial_target:
            return
        to_address, call.dial_target = call.dial_target, ""
        for leg in call.legs:
            if leg.state == P.INITIATING:
                self._set_leg(leg, P.INITIATED)
        self._set_call_state(call)
        self._flush()
        self._deliver(call, to_address)

    def dialog_action(
        self, agent: Agent, dialog_id: str, req: DialogRequest, request_id: str = ""
    ) -> None:
        """PUT /Dialog/{id} with a requestedAction. Raises ApiErrorException."""
        with self._input(request_id):
            action = req.requested_action
            if not action:
                raise _error(
                    400, "Parameter Missing", "requestedAction is required", "requestedAction"
                )
            if action not in ALL_ACTIONS or action == Action.MAKE_CALL:
                raise _error(400, "Invalid Input", "Invalid requestedAction", "requestedAction")
            call, leg = self._own_call(agent, dialog_id)
            if action in NEEDS_TARGET:
                if not req.target_media_address:
                    raise _error(
                        400,
                        "Parameter Missing",
                        "targetMediaAddress is required",
                        "targetMediaAddress",
                    )
                if req.target_media_address != leg.address:
                    raise _error(
                        400, "Invalid Input", "Invalid targetMediaAddress", "targetMediaAddress"
                    )
            if action not in self._actions(leg):
                # DG125 p108: DTMF on a HELD participant is a 401 Invalid State.
                status = 401 if leg.state == P.HELD and action == Action.SEND_DTMF else 400
                raise _error(
                    status,
                    "Invalid State",
                    f"Action {action} is not allowed in participant state {leg.state}",
                    "requestedAction",
                )
            getattr(self, f"_do_{action.lower()}")(agent, call, leg, req)

    def _do_answer(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # On a CALL_BY_CALL agent this also connects the ringing handset (UNCONFIRMED how real
        # Mobile Agent treats a desktop answer there).
        self._answer(leg)

    def _do_hold(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self._set_leg(leg, P.HELD)
        self._phone(leg.phone, "held", callId=call.id)
        self._update_agent(agent)

    def _do_retrieve(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # Retrieving one call puts the agent's other active call on hold, as the phone does.
        for other in agent.live_legs():
            if other.state == P.ACTIVE:
                self._set_leg(other, P.HELD)
                self._phone(other.phone, "held", callId=other.call.id)
        self._set_leg(leg, P.ACTIVE)
        self._phone(leg.phone, "connected", callId=call.id)
        self._update_agent(agent)

    def _do_drop(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self._drop_leg(leg)

    def _do_consult_call(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        if not req.to_address:
            raise _error(400, "Parameter Missing", "toAddress is required", "toAddress")
        if req.to_address == agent.extension:
            raise _error(400, "Invalid Destination", "Cannot call own extension", "toAddress")
        self._set_leg(leg, P.HELD)
        self._phone(leg.phone, "held", callId=call.id)
        consult = self._new_call(
            state=D.INITIATING,
            from_address=agent.extension,
            to_address=req.to_address,
            call_type="CONSULT",
            dialed_number=req.to_address,
            variables=dict(call.variables),
            outgoing_agent=agent,
            associated=call,
        )
        call.associated = consult
        self._touch_call(call)
        self._originate(consult, agent, req.to_address)

    def _consult_pair(self, agent: Agent, call: Call) -> tuple[Call, Leg]:
        consult = call.associated
        other = consult.leg_of(agent) if consult else None
        if consult is None or other is None or other.state != P.ACTIVE:
            raise _error(400, "Invalid State", "No active consult call", "requestedAction")
        return consult, other

    def _do_transfer(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Consult transfer: the held caller joins the consult call, whose dialog survives;
        call data follows the call."""
        consult, own = self._consult_pair(agent, call)
        movers = [x for x in call.legs if x is not leg and x.state in LIVE and not x.gone]
        # The transferring agent's customer-call leg ends (wrap-up applies to it).
        self._set_leg(leg, P.DROPPED)
        for mover in movers:
            call.legs.remove(mover)
            mover.call = consult
            consult.legs.insert(0, mover)
            if mover.state == P.HELD:
                self._set_leg(mover, P.ACTIVE)
            self._touch_call(consult)
        consult.variables = dict(call.variables)
        consult.call_type = "TRANSFER"
        consult.queue = call.queue
        consult.associated = None
        consult.outgoing_agent = None
        call.associated = None
        self._remove_leg(own)
        self._phone(own.phone, "ended", callId=consult.id)
        self._set_call_state(consult)
        self._end_call(call)
        for other in self._agents_of(consult):
            self._update_agent(other)

    def _do_conference(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Consult conference: the consulted party joins the original call."""
        consult, own = self._consult_pair(agent, call)
        movers = [x for x in consult.legs if x is not own and x.state in LIVE and not x.gone]
        for mover in movers:
            consult.legs.remove(mover)
            mover.call = call
            call.legs.append(mover)
        self._set_leg(leg, P.ACTIVE)
        call.call_type = "CONFERENCE"
        call.associated = None
        consult.associated = None
        self._touch_call(call)
        self._remove_leg(own)
        self._end_call(consult)
        for other in self._agents_of(call):
            self._update_agent(other)
        self._set_call_state(call)

    def _do_transfer_sst(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Single-step (blind) transfer: the agent leaves, the call goes on to toAddress."""
        to = req.to_address
        if not to:
            raise _error(400, "Parameter Missing", "toAddress is required", "toAddress")
        if to == agent.extension:
            raise _error(
                400, "Invalid Destination", "Cannot transfer to own extension", "toAddress"
            )
        if not DIALABLE.match(to):
            raise _error(400, "Invalid Destination", "Invalid destination", "toAddress")
        target = self._device_agent(to)
        if target is not None and target.live_legs():
            raise _error(400, "Invalid Destination", "Destination is busy", "toAddress")
        self._set_leg(leg, P.DROPPED)
        self._phone(leg.phone, "ended", callId=call.id)
        self._flush()
        self._leave(leg)
        call.call_type = "TRANSFER"
        call.to_address = to
        self._deliver(call, to)
        self._set_call_state(call)

    def _do_send_dtmf(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        digits = req.action_params.get("dtmfString", "")
        if not digits:
            raise _error(400, "Parameter Missing", "dtmfString is required", "dtmfString")
        if not set(digits) <= DTMF_DIGITS[self.config.deployment]:
            raise _error(400, "Invalid Input", "Invalid DTMF digits", "dtmfString")
        for other in call.legs:
            if other is not leg and other.state in CONNECTED:
                self._phone(other.phone, "dtmf", callId=call.id, digits=digits)
        self._touch_call(call, force=True)

    def _do_update_call_data(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        media = req.media_properties
        if media is None:
            raise _error(400, "Parameter Missing", "mediaProperties is required", "mediaProperties")
        if len(media.wrap_up_reason.encode()) > WRAP_UP_REASON_MAX:
            raise _error(400, "Invalid Input", "wrapUpReason is too long", "wrapUpReason")
        merged = dict(call.variables)
        merged.update(media.call_variables)
        self._check_variables(merged)
        call.variables = merged
        if media.wrap_up_reason:
            call.wrap_up_reason = media.wrap_up_reason
        self._touch_call(call, force=True)

    def _check_variables(self, variables: dict[str, str]) -> None:
        ecc = 0
        for name, value in variables.items():
            if name in BA_VARIABLES:
                raise _error(400, "Invalid Input", f"{name} may not be set", name)
            if name in CALL_VARIABLE_NAMES:
                if len(value.encode()) > CALL_VARIABLE_MAX_BYTES:
                    raise _error(400, "Invalid Input", f"{name} is longer than 40 bytes", name)
            elif name.startswith(ECC_PREFIX) and len(name) > len(ECC_PREFIX):
                ecc += len(name.encode()) + len(value.encode())
            else:
                raise _error(400, "Invalid Input", f"Unknown call variable {name}", name)
        if ecc > ECC_MAX_BYTES:
            raise _error(400, "Invalid Input", "ECC variables exceed 2000 bytes", "callvariables")

    # -- out of service -----------------------------------------------------------------------

    def set_in_service(self, in_service: bool) -> None:
        """OUT_OF_SERVICE stops every event; back IN_SERVICE, the latest state of every
        logged-in agent and dialog is re-published (FINESSE.md 7.3)."""
        if in_service == self.in_service:
            return
        self.in_service = in_service
        if not in_service:
            return
        with self._input(""):
            for agent in self.agents.values():
                if (
                    agent.logged_in
                    or agent.shown_user is None
                    or agent.shown_user.state != S.LOGOUT
                ):
                    self._touch(agent, force=True)
                self._republish_dialogs(agent)

    def _republish_dialogs(self, agent: Agent) -> None:
        live = {leg.call.id: leg.call for leg in agent.legs if not leg.gone}
        for call_id in list(agent.known):
            if call_id not in live:
                dialog = agent.known.pop(call_id)
                node = dialogs_uri(agent.id)
                self._emit(node, Update("DELETE", node, [dialog]))
        for call in live.values():
            self._touch_call(call, force=True)

    # -- statistics ---------------------------------------------------------------------------

    def queue_stats(self) -> list[dict[str, Any]]:
        out = []
        for queue in self.acd.queues.values():
            states: dict[str, int] = {}
            for member in queue.members:
                state = self.agents[member].state
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
