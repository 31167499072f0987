"""The queueing core: queues reached by a DN, agent availability, longest-available routing.

It holds no Finesse object: a waiting call is any object (the Finesse layer's call, or a
bare token in the offline model), an agent is an id. The Finesse layer tells it when an
agent becomes available or unavailable and offers it calls; it answers with `on_route`.

Routing rule (UCCE "longest available agent"): a new call goes to the member of its queue
that has been available longest; a newly available agent takes the oldest waiting call of
the queues it serves. Calls wait FIFO; a re-queued call (ring-no-answer) goes to the front.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class Waiting:
    call: Hashable
    queue: Queue
    since: float


@dataclass(eq=False, slots=True)
class Queue:
    id: str
    name: str
    dn: str
    members: set[str] = field(default_factory=set)
    waiting: deque[Waiting] = field(default_factory=deque)
    # available members in the order they became available (dicts keep insertion order)
    available: dict[str, float] = field(default_factory=dict)


class Acd:
    def __init__(
        self, now: Callable[[], float], on_route: Callable[[Hashable, str, Queue], None]
    ) -> None:
        self._now = now
        self._on_route = on_route
        self.queues: dict[str, Queue] = {}  # by DN
        self._queues_of: dict[str, list[Queue]] = {}  # agent id -> queues served
        self._available_since: dict[str, float] = {}
        self._waiting_of: dict[Hashable, Waiting] = {}

    def add_queue(self, id: str, name: str, dn: str, members: list[str]) -> Queue:
        queue = Queue(id=id, name=name, dn=dn, members=set(members))
        self.queues[dn] = queue
        for agent in members:
            self._queues_of.setdefault(agent, []).append(queue)
        return queue

    def queue_for(self, dn: str) -> Queue | None:
        return self.queues.get(dn)

    def is_available(self, agent: str) -> bool:
        return agent in self._available_since

    # -- agents -----------------------------------------------------------------------------

    def agent_available(self, agent: str) -> None:
        """The agent can take a routed call now (Finesse: READY)."""
        if agent in self._available_since:
            return
        now = self._now()
        self._available_since[agent] = now
        queues = self._queues_of.get(agent, ())
        for queue in queues:
            queue.available[agent] = now
        oldest = min(
            (q.waiting[0] for q in queues if q.waiting), key=lambda w: w.since, default=None
        )
        if oldest is not None:
            self._route(oldest, agent)

    def agent_unavailable(self, agent: str) -> None:
        if self._available_since.pop(agent, None) is None:
            return
        for queue in self._queues_of.get(agent, ()):
            queue.available.pop(agent, None)

    # -- calls ------------------------------------------------------------------------------

    def offer(self, call: Hashable, queue: Queue, *, front: bool = False) -> None:
        """A call arrives at (or returns to) a queue: route it now or let it wait."""
        waiting = Waiting(call, queue, self._now())
        if queue.available:
            agent = next(iter(queue.available))  # longest available
            self._route(waiting, agent, queued=False)
            return
        self._waiting_of[call] = waiting
        if front:
            queue.waiting.appendleft(waiting)
        else:
            queue.waiting.append(waiting)

    def withdraw(self, call: Hashable) -> bool:
        """The call leaves its queue without an agent (abandoned, hung up)."""
        waiting = self._waiting_of.pop(call, None)
        if waiting is None:
            return False
        waiting.queue.waiting.remove(waiting)
        return True

    def is_waiting(self, call: Hashable) -> bool:
        return call in self._waiting_of

    def _route(self, waiting: Waiting, agent: str, *, queued: bool = True) -> None:
        if queued:
            waiting.queue.waiting.remove(waiting)
            del self._waiting_of[waiting.call]
        self.agent_unavailable(agent)
        self._on_route(waiting.call, agent, waiting.queue)

    def reset(self) -> None:
        for queue in self.queues.values():
            queue.waiting.clear()
            queue.available.clear()
        self._available_since.clear()
        self._waiting_of.clear()
