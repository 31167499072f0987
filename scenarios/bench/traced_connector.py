"""`mobagent connector` under tracemalloc, for `connector_memory --profile`.

    MOBAGENT_BENCH_SNAPSHOT_DIR=DIR python -m scenarios.bench.traced_connector [connector options]

Runs the connector exactly as `python -m mobagent connector` does, with tracemalloc started
before anything is imported (MOBAGENT_BENCH_TRACEMALLOC_FRAMES frames per trace, default
10). Each SIGUSR1 writes the next snapshot to DIR/snapshot-N.pickle (N = 1, 2, ...; written
under a temporary name, then renamed, so a reader never sees half a file). The connector's
code is untouched: this is a hook around it for profiling only.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc

SNAPSHOT_DIR_ENV = "MOBAGENT_BENCH_SNAPSHOT_DIR"
FRAMES_ENV = "MOBAGENT_BENCH_TRACEMALLOC_FRAMES"
SNAPSHOT_NAME = "snapshot-{}.pickle"


def main() -> int:
    directory = os.environ[SNAPSHOT_DIR_ENV]
    tracemalloc.start(int(os.environ.get(FRAMES_ENV, "10")))
    taken = 0

    def dump(_signum: int, _frame: object) -> None:
        nonlocal taken
        taken += 1
        path = os.path.join(directory, SNAPSHOT_NAME.format(taken))
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)
    from mobagent.cli import main as cli

    return cli(["connector", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
