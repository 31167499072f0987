"""Inputs and the notifications derived from them.

Every input (a request, a phone tap, a timer) runs inside `Publisher.input`; the rules mark
the agents and calls they touch, and when the input is fully applied `flush` compares what
each agent's client was last told with what is true now and publishes a POST, PUT or
DELETE for the difference. A transition can therefore never forget its notification, and
a recovery from OUT_OF_SERVICE is the same diff against what clients knew before the
outage (docs/finesse.md, Out of service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from connector.finesse.models import (
    AgentState,
    ApiError,
    Dialog,
    Update,
    dialogs_uri,
    team_users_uri,
    user_uri,
)
from finesse_sim.model import views
from finesse_sim.model.calls import Agent, Call
from finesse_sim.model.records import Records
from finesse_sim.model.timers import Timer, schedule

S = AgentState
Notify = Callable[[str, Update], None]


class Publisher:
    def __init__(self, records: Records, on_notification: Notify) -> None:
        self._records = records
        self._config = records.config
        self.on_notification = on_notification
        # The requestId of the input being applied: notifications it causes carry it.
        self.request_id = ""
        self._depth = 0
        self._dirty_agents: dict[Agent, bool] = {}  # agent -> force a User notification
        self._dirty_calls: set[Call] = set()
        self.in_service = True
        self.notifications_to_lose = 0  # a fault: drop the next N notifications
        self.notifications_lost = 0
        self._generation = 0  # timers of an older world (before a reset) do nothing

    @contextmanager
    def input(self, request_id: str) -> Iterator[None]:
        """Every input runs inside this: it tags notifications with the request's id and
        publishes what changed once the input is fully applied."""
        outer = self.request_id
        self._depth += 1
        if self._depth == 1:
            self.request_id = request_id
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.flush()
                self.request_id = outer

    def after(self, delay: float, fn: Callable[[], None]) -> Timer:
        """A timer: when it fires, `fn` runs as an input of its own."""
        generation = self._generation

        def fire() -> None:
            if generation != self._generation:
                return  # set before a reset
            with self.input(""):
                fn()

        return schedule(self._records.env, delay, fire)

    def touch(self, agent: Agent, *, force: bool = False) -> None:
        self._dirty_agents[agent] = self._dirty_agents.get(agent, False) or force

    def touch_call(self, call: Call, *, force: bool = False) -> None:
        self._dirty_calls.add(call)
        call.force_publish = call.force_publish or force

    def emit(self, node: str, update: Update) -> None:
        if self.notifications_to_lose > 0:
            self.notifications_to_lose -= 1
            self.notifications_lost += 1
            return
        self.on_notification(node, update)

    def async_error(self, node: str, source: str, error: ApiError) -> None:
        """A request accepted with 202 and refused later: the error comes as an event."""
        self.emit(node, Update("PUT", source, [error], self.request_id))

    def flush(self) -> None:
        if not self.in_service:
            # OUT_OF_SERVICE: no events (docs/finesse.md, Out of service); the recovery diff
            # catches up.
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
        user = views.user(self._config, agent)
        if not force and user == agent.shown_user:
            return
        old = agent.shown_user
        agent.shown_user = user
        self.emit(
            user_uri(agent.id),
            Update("PUT", user_uri(agent.id), user, self.request_id),
        )
        if old is None or (old.state, old.reason_code, old.pending_state, old.extension) != (
            user.state,
            user.reason_code,
            user.pending_state,
            user.extension,
        ):
            team = team_users_uri(agent.cfg.team_id)
            self.emit(team, Update("PUT", user_uri(agent.id), views.team_member(agent)))

    def _publish_call(self, call: Call) -> None:
        dialog = views.dialog(self._config, call)
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
            self.emit(node, Update("POST", node, [dialog], self.request_id))
        elif shown and (force or known != dialog):
            agent.known[call.id] = dialog
            self.emit(node, Update("PUT", dialog.uri, dialog, self.request_id))
        elif not shown and known is not None:
            del agent.known[call.id]
            call.watchers.discard(agent)
            last = views.dialog(self._config, call, keep=agent)
            self.emit(node, Update("DELETE", node, [last], self.request_id))

    def set_in_service(self, in_service: bool) -> None:
        """OUT_OF_SERVICE stops every event; back IN_SERVICE, the latest state of every
        logged-in agent and dialog is re-published (docs/finesse.md, Out of service)."""
        if in_service == self.in_service:
            return
        self.in_service = in_service
        if not in_service:
            return
        with self.input(""):
            for agent in self._records.agents.values():
                if agent.logged_in or _seen_signed_in(agent):
                    self.touch(agent, force=True)
                self._republish_dialogs(agent)

    def _republish_dialogs(self, agent: Agent) -> None:
        live = {leg.call.id: leg.call for leg in agent.legs if not leg.gone}
        for call_id in list(agent.known):
            if call_id not in live:
                dialog = agent.known.pop(call_id)
                node = dialogs_uri(agent.id)
                self.emit(node, Update("DELETE", node, [dialog]))
        for call in live.values():
            self.touch_call(call, force=True)

    def restart(self) -> bool:
        """Forget everything pending for the old world (marks, faults, timers) and be IN
        SERVICE again. Returns whether clients were told the old world (it was in service)."""
        self._generation += 1
        self._dirty_agents.clear()
        self._dirty_calls.clear()
        self.notifications_to_lose = 0
        was_in_service, self.in_service = self.in_service, True
        return was_in_service

    def retract(self, old: dict[str, Agent]) -> None:
        """Tell clients the old world is gone: a DELETE for every dialog they know and a
        LOGOUT for every agent they saw signed in (its successor in the new records)."""
        with self.input(""):
            for agent in old.values():
                node = dialogs_uri(agent.id)
                for dialog in agent.known.values():
                    self.emit(node, Update("DELETE", node, [dialog]))
                if _seen_signed_in(agent):
                    self.touch(self._records.agents[agent.id], force=True)


def _seen_signed_in(agent: Agent) -> bool:
    return agent.shown_user is not None and agent.shown_user.state != S.LOGOUT
