"""`mobagent connector` with its garbage-collector pauses recorded, for `mobagent bench
--gc-stats PATH`.

    python -m scenarios.bench.gc_connector PATH [connector options]

Runs the connector exactly as `python -m mobagent connector` does, with a `gc.callbacks`
hook timing every collection (time.perf_counter(), per generation). At exit it writes PATH
as JSON:

    {"gen0": [seconds, ...], "gen1": [...], "gen2": [...], "frozen": n,
     "log": [[monotonic start, generation, seconds, collected, thread CPU seconds], ...],
     "census": [[monotonic, generation, objects, [[type name, count], ...]], ...]}

`log` lines collections up with the benchmark's phases (the bench prints the monotonic
start of each); a pause whose CPU seconds are well below its seconds was the scheduler's,
not the collector's. Environment MOBAGENT_BENCH_GC: `census` also counts, before each
young collection of more than 20,000 objects, what they are (the question "what does the
hot path leave behind?"; it lengthens those pauses); `off` disables the collector (the
connector's own full collections still run). The connector's code is untouched: a hook
around it for diagnosis only.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections import Counter
from typing import Any

CENSUS_ABOVE = 20_000


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    mode = os.environ.get("MOBAGENT_BENCH_GC", "")
    pauses: dict[str, list[float]] = {"gen0": [], "gen1": [], "gen2": []}
    log: list[tuple[float, int, float, int, float]] = []
    census: list[tuple[float, int, int, list[tuple[str, int]]]] = []
    started = [0.0, 0.0, 0.0]

    def hook(phase: str, info: dict[str, Any]) -> None:
        generation = info["generation"]
        if phase == "start":
            if mode == "census" and generation < 2:
                young = gc.get_objects(generation)
                if len(young) > CENSUS_ABOVE:
                    kinds = Counter(type(o).__name__ for o in young).most_common(15)
                    census.append((time.monotonic(), generation, len(young), kinds))
                del young
            started[:] = time.perf_counter(), time.monotonic(), time.thread_time()
        else:
            took = time.perf_counter() - started[0]
            pauses[f"gen{generation}"].append(took)
            cpu = time.thread_time() - started[2]
            log.append((started[1], generation, took, info["collected"], cpu))

    gc.callbacks.append(hook)
    if mode == "off":
        gc.disable()
        gc.enable = lambda: None
    from mobagent.cli import main as cli

    try:
        return cli(["connector", *argv])
    finally:
        with open(out, "w") as f:
            report = {**pauses, "frozen": gc.get_freeze_count(), "log": log, "census": census}
            json.dump(report, f)


if __name__ == "__main__":
    raise SystemExit(main())
