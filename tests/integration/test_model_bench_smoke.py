"""`python -m scenarios.bench.model_bench --quick --json` runs end to end.

A smoke test, not a timed one: both simulators ran and simulated the same model (their
P(wait) near Erlang's); the throughput targets belong to docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_quick_model_benchmark():
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.bench.model_bench", "--quick", "--no-patience", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    )
    report = json.loads(proc.stdout)
    row = report["mmn"]
    assert row["ours"]["calls_per_second"] > 0 and row["ciw"]["calls_per_second"] > 0
    assert len(row["ours"]["runs"]) == len(row["ciw"]["runs"]) == 3
    for name in ("ours", "ciw"):
        assert row[name]["p_wait"] == pytest.approx(row["erlang_p_wait"], abs=0.05)
    assert set(report["targets"]) == {"calls_per_second", "ratio_to_ciw", "met"}
