"""`mobagent connector` with its garbage-collector pauses recorded, for `mobagent bench
--gc-stats PATH [--gc-freeze]`.

    python -m scenarios.bench.gc_connector PATH [connector options]

Runs the connector exactly as `python -m mobagent connector` does, with a `gc.callbacks`
hook timing every collection (time.perf_counter(), per generation). SIGUSR1 calls
gc.freeze() (moves every object alive now to the permanent generation: what a connector
could do once its sessions are in). At exit the pauses go to PATH as JSON:
{"gen0": [...seconds], "gen1": [...], "gen2": [...], "frozen": n}. The connector's code is
untouched: a hook around it for diagnosis only.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
import time


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    pauses: dict[str, list[float]] = {"gen0": [], "gen1": [], "gen2": []}
    started = [0.0]

    def hook(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[f"gen{info['generation']}"].append(time.perf_counter() - started[0])

    gc.callbacks.append(hook)
    signal.signal(signal.SIGUSR1, lambda _s, _f: gc.freeze())
    from mobagent.cli import main as cli

    try:
        return cli(["connector", *argv])
    finally:
        with open(out, "w") as f:
            json.dump({**pauses, "frozen": gc.get_freeze_count()}, f)


if __name__ == "__main__":
    raise SystemExit(main())
