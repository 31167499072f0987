"""What a simulated agent's shift came to: calls, holds, consults, breaks, and the requests
that did not go as planned (expected refusals, races, errors, timeouts).

An *expected refusal* is a mis-tap's 409 `action_not_allowed`; a *race* is a refusal that a
change the app saw right after explains (the customer hung up as the agent pressed HOLD);
*errors* and *timeouts* are the unexpected.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class ShiftCounts:
    answered: int = 0  # customer calls answered (routed, transferred or blind-transferred)
    consults_answered: int = 0  # a colleague's consult calls answered
    missed: int = 0  # rang, but gone before the answer (customer hung up, ring-no-answer)
    ring_no_answer: int = 0
    wrap_ups: int = 0
    holds: int = 0
    consults: int = 0  # consult calls placed
    consults_unanswered: int = 0  # the colleague did not answer in time (or was busy)
    transfers: int = 0
    conferences: int = 0
    blind_transfers: int = 0
    customer_hangups: int = 0
    breaks: int = 0
    mistaps: int = 0
    backgrounded: int = 0
    left_for_push: int = 0  # backgrounded with the WebSocket closed, relying on push
    push_wakes: int = 0  # the app came back because a push woke it
    resumes: int = 0  # event stream resumed by `since` after a drop
    resyncs: int = 0  # fresh snapshots after a wait timed out
    relogins: int = 0
    no_colleague: int = 0  # wanted a colleague, none READY
    expected_refusals: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)

    @property
    def unexpected(self) -> int:
        return sum(self.errors.values()) + sum(self.timeouts.values())

    def add(self, other: ShiftCounts) -> None:
        for count in fields(self):
            mine = getattr(self, count.name)
            if isinstance(mine, Counter):
                mine.update(getattr(other, count.name))
            else:
                setattr(self, count.name, mine + getattr(other, count.name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for count in fields(self):
            value = getattr(self, count.name)
            if isinstance(value, Counter):
                value = dict(sorted(value.items()))
            out[_camel(count.name)] = value
        out["unexpected"] = self.unexpected
        return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)
