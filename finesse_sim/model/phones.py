"""The handsets' side of the model: what each phone number is told (ring, connected, held,
dtmf, ended).

One output port, shared by the agent desk (a Mobile Agent's nailed-connection setup call)
and the telephony (every other call); the runtime forwards the events to phone watchers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PhoneEvent = Callable[[str, dict[str, Any]], None]


class Phones:
    def __init__(self, on_event: PhoneEvent) -> None:
        self.on_event = on_event

    def send(self, number: str | None, event: str, **data: Any) -> None:
        """`number` None or empty: the leg has no handset of its own (a nailed connection)."""
        if number:
            self.on_event(number, {"event": event, "number": number, **data})
