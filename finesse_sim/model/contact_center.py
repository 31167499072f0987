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
    Dialog,
    MediaProperties,
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
from finesse_sim.model.acd import Acd
from finesse_sim.model.agent_desk import NO_REASON_ID, AgentDesk
from finesse_sim.model.calls import LIVE, Agent, Call, Leg
from finesse_sim.model.dialog_requests import DialogRequests
from finesse_sim.model.errors import finesse_error, require
from finesse_sim.model.participant_actions import participant_actions
from finesse_sim.model.telephony import Telephony
from finesse_sim.model.timers import schedule

S = AgentState
P = ParticipantState

Notify = Callable[[str, Update], None]
PhoneEvent = Callable[[str, dict[str, Any]], None]


class ContactCenter(AgentDesk, Telephony, DialogRequests):
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
        self._generation = 0
        self._build()

    def _build(self) -> None:
        self.agents: dict[str, Agent] = {a.id: Agent(a) for a in self.config.agents}
        self._by_login_name = {a.cfg.login_name: a for a in self.agents.values()}
        self.calls: dict[str, Call] = {}
        self.acd = Acd(lambda: self.env.now, self._on_route)
        for q in self.config.queues:
            self.acd.add_queue(q.id, q.name, q.dn, q.agents)

    def reset(self) -> None:
        """Everyone logged out, no calls, no faults. Clients are told: a DELETE for every
        dialog they know and a LOGOUT for every agent they saw signed in. Timers of the old
        world do nothing when they fire (they belong to an older generation)."""
        self._generation += 1
        self._dirty_agents.clear()
        self._dirty_calls.clear()
        self.notifications_to_lose = 0
        was_in_service, self.in_service = self.in_service, True
        old = self.agents
        self._build()
        if not was_in_service:
            return  # clients saw OUT_OF_SERVICE: they re-read everything when it ends
        with self._input(""):
            for agent in old.values():
                node = dialogs_uri(agent.id)
                for dialog in agent.known.values():
                    self._emit(node, Update("DELETE", node, [dialog]))
                if agent.shown_user is not None and agent.shown_user.state != S.LOGOUT:
                    self._touch(self.agents[agent.id], force=True)

    def timestamp(self) -> str:
        moment = datetime.fromtimestamp(self.epoch + self.env.now, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def _after(self, delay: float, fn: Callable[[], None]):
        generation = self._generation

        def fire() -> None:
            if generation != self._generation:
                return  # set before a reset
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

    def agent(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id) or self._by_login_name.get(agent_id)

    def authenticate(self, user: str, password: str, *, count_failure: bool = True) -> Agent:
        """Basic-auth check with Finesse's lockout: 5 bad passwords lock for 5 minutes."""
        agent = self.agent(user)
        if agent is None:
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if self.env.now < agent.locked_until:
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if password != agent.cfg.password:
            if count_failure:
                agent.failed_logins += 1
                if agent.failed_logins >= self.config.lockout_attempts:
                    agent.failed_logins = 0
                    agent.locked_until = self.env.now + self.config.timers.lockout
            raise finesse_error(401, "Authorization Failure", "UNAUTHORIZED", user)
        if count_failure:
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
            raise finesse_error(404, "TeamId Not Found", "Invalid team id", team_id)
        if agent.cfg.team_id != team_id and "Supervisor" not in agent.cfg.roles:
            raise finesse_error(
                401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id
            )
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
            raise finesse_error(
                404, "Not Found", "Invalid dialogId specified for dialog", dialog_id
            )
        leg = call.leg_of(agent)
        if leg is None:
            if any(x.agent is agent for x in call.legs):
                # The agent's part of the call is over (e.g. ring-no-answer re-queued it).
                raise finesse_error(
                    404, "Not Found", "Invalid dialogId specified for dialog", dialog_id
                )
            raise finesse_error(
                401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id
            )
        return call, leg

    def dialog_of(self, call: Call, keep: Agent | None = None) -> Dialog:
        """The Dialog as Finesse shows it. An agent's participant disappears once its part is
        over, except in the DELETE sent to that agent (`keep`), which shows it DROPPED."""
        participants = []
        kept = next((x for x in reversed(call.legs) if x.agent is keep), None) if keep else None
        for leg in call.legs:
            if leg.gone and leg.agent is not None and leg is not kept:
                continue
            ending = leg is kept
            participants.append(
                Participant(
                    media_address=leg.address,
                    state=P.DROPPED if ending else leg.state,
                    actions=[] if ending else self._actions(leg),
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
        agent, call = leg.agent, leg.call
        # TRANSFER / CONFERENCE: offered on the held call once its own consult is active.
        consult_active = (
            agent is not None
            and call.associated is not None
            and any(
                x.agent is agent and x.state == P.ACTIVE and not x.gone
                for x in call.associated.legs
            )
        )
        actions = participant_actions(
            leg.state,
            is_agent=agent is not None,
            other_call_active=consult_active,
            active_extras=self.config.active_extra_actions,
        )
        if agent is not None and Action.CONSULT_CALL in actions:
            # An agent line holds two calls, and only a conference's controller may extend
            # it (DG125 p110).
            busy = any(x is not leg and x.state in LIVE and not x.gone for x in agent.legs)
            if busy or call.controller not in (None, agent):
                actions.remove(Action.CONSULT_CALL)
        return actions

    def reason_codes(self, category: str | None) -> list[ReasonCode]:
        require(category, "category", "category parameter is required")
        if category not in (S.NOT_READY, S.LOGOUT):
            raise finesse_error(400, "Invalid Input", "Invalid category specified", "category")
        return self.config.reason_codes_for(category)

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
                if agent.logged_in or (
                    agent.shown_user is not None and agent.shown_user.state != S.LOGOUT
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
