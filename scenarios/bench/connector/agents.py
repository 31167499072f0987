"""One agent of the benchmark's load and the times it records: of its flips (the 202 read,
or the command sent) and of its events."""

from __future__ import annotations

import asyncio
import dataclasses

from scenarios.bench.roster import agent_id


@dataclasses.dataclass
class LoadAgent:
    """One agent driven by the benchmark: how it receives (app, direct or command) and the
    times of its flips (202 read, or command sent) and of its events. A `direct` one is a
    watcher: a second session of an app agent, receiving the same events."""

    index: int
    kind: str  # "app" | "direct" | "command"
    state: str = "NOT_READY"
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    acks: list[float] = dataclasses.field(default_factory=list)
    puts: list[float] = dataclasses.field(default_factory=list)  # just before each PUT
    recv: list[float] = dataclasses.field(default_factory=list)
    sent: int = 0
    rids: dict[str, float] = dataclasses.field(default_factory=dict)  # requestId -> sent
    rid_recv: dict[str, float] = dataclasses.field(default_factory=dict)
    token: str = ""
    twin: LoadAgent | None = None  # a direct watcher's app agent (whose acks it shares)

    @property
    def id(self) -> str:
        return agent_id(self.index)
