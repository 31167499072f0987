"""How fast this machine runs Python, by a fixed piece of standard-library work.

`python -m scenarios.bench.yardstick` prints it; every benchmark report carries it in
`machine.yardstick_us`.

Why: the project's 2-core machine is not always the same hardware, and a figure measured on
one is not comparable with one measured on another (the connector's CPU per event doubled
from 2026-11-26 to 2026-12-07 with the same code, when the machine went from an Intel Xeon
to an AMD EPYC: docs/benchmarks.md, "The machine changed"). The work is the kind the
connector does per event (an XML notification parsed, a dict walked, JSON written) but none
of our code, so a change of ours never moves it: two reports whose yardsticks differ by a
third were measured on machines that differ by a third.
"""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET

# A Finesse User notification's payload, fixed: the yardstick must never change.
_DOCUMENT = (
    "<Update><data><user><dialogs>/finesse/api/User/1001/Dialogs</dialogs>"
    "<extension>1001001</extension><firstName>Agent</firstName><lastName>One</lastName>"
    "<loginId>1001</loginId><loginName>agent1001</loginName><pendingState></pendingState>"
    "<reasonCodeId>1</reasonCodeId><roles><role>Agent</role></roles>"
    "<settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings>"
    "<state>NOT_READY</state><stateChangeTime>2026-12-07T10:00:00.000Z</stateChangeTime>"
    "<teamId>1</teamId><teamName>Sales</teamName><uri>/finesse/api/User/1001</uri>"
    "</user></data><event>PUT</event><requestId>42</requestId><source>/finesse/api/User/1001"
    "</source></Update>"
)
ROUNDS = 2000
RUNS = 9


def _round() -> int:
    root = ET.fromstring(_DOCUMENT)
    user = root.find("data/user")
    assert user is not None
    fields = {child.tag: (child.text or "") for child in user}
    return len(json.dumps({"type": "agent.state", "data": fields}, separators=(",", ":")))


def yardstick_us(rounds: int = ROUNDS, runs: int = RUNS) -> float:
    """Microseconds per round (parse, walk, serialise), the best of `runs` timings: on a
    shared VM the median moves by half with the neighbours (33-57 us in five tries), the
    best by a few percent (31-33): the best is the hardware's speed, the rest its noise."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(rounds):
            _round()
        timings.append((time.perf_counter() - started) * 1e6 / rounds)
    return round(min(timings), 2)


if __name__ == "__main__":
    sys.stdout.write(f"{yardstick_us()} us per round\n")
