"""The contact centre's records: its agents, its calls and its queues, on one clock.

`Records` owns them so that the agent desk, the telephony and the dialog requests all read
the same world, and a reset (`clear`) replaces that world in one place. It holds data and
lookups only; the rules that change the records live in the collaborators.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import simpy

from finesse_sim.config import SimConfig
from finesse_sim.model.acd import Acd, Queue
from finesse_sim.model.calls import Agent, Call

RouteHandler = Callable[[Any, str, Queue], None]  # (the Call, agent id, its queue)


def _unwired(call: Any, agent_id: str, queue: Queue) -> None:
    raise RuntimeError("Records.route is not wired: nobody takes the ACD's routed calls")


class Records:
    def __init__(self, config: SimConfig, env: simpy.Environment, epoch: float) -> None:
        self.config = config
        self.env = env
        self.epoch = epoch  # wall-clock time of simpy time 0, for Finesse's timestamps
        # Who takes a call the ACD routes to an agent (the telephony; wired by its owner).
        self.route: RouteHandler = _unwired
        self._ids = itertools.count(10_000_001)  # dialog ids stay unique across resets
        self.clear()

    def clear(self) -> None:
        """A new world from the config: every agent logged out, no calls, empty queues."""
        self.agents: dict[str, Agent] = {a.id: Agent(a) for a in self.config.agents}
        self._by_login_name = {a.cfg.login_name: a for a in self.agents.values()}
        self.calls: dict[str, Call] = {}
        self.acd = Acd(self._now, self._route)
        for q in self.config.queues:
            self.acd.add_queue(q.id, q.name, q.dn, q.agents)

    def _now(self) -> float:
        return self.env.now

    def _route(self, call: Any, agent_id: str, queue: Queue) -> None:
        # Looked up per call: the handler is wired after the ACD is built, and survives a reset.
        self.route(call, agent_id, queue)

    def timestamp(self) -> str:
        moment = datetime.fromtimestamp(self.epoch + self.env.now, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def agent(self, agent_id: str) -> Agent | None:
        """By login id or login name, as Finesse accepts either."""
        return self.agents.get(agent_id) or self._by_login_name.get(agent_id)

    def device_agent(self, number: str) -> Agent | None:
        """The agent signed in on the device with extension `number`."""
        return next(
            (a for a in self.agents.values() if a.logged_in and a.extension == number), None
        )

    def new_call(self, **kwargs: Any) -> Call:
        call = Call(id=str(next(self._ids)), **kwargs)
        self.calls[call.id] = call
        return call

    def forget(self, call: Call) -> None:
        """An ended call is kept while an agent still wraps it up (its dialog can still
        take UPDATE_CALL_DATA); after that its id is unknown (404)."""
        if call.ended and not any(leg.agent and not leg.gone for leg in call.legs):
            self.calls.pop(call.id, None)
