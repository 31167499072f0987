"""The connector exactly as `mobagent connector`, under cProfile, for `mobagent bench
--cprofile PATH`.

    python -m scenarios.bench.connector.profiled PATH [connector options]
"""

from __future__ import annotations

import sys


def main(out: str, argv: list[str]) -> int:
    """The connector exactly as `mobagent connector`, under cProfile; stats to `out`."""
    import cProfile

    from mobagent.cli import main as cli

    prof = cProfile.Profile()
    prof.enable()
    try:
        return cli(["connector", *argv])
    finally:
        prof.disable()
        prof.dump_stats(out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2:]))
