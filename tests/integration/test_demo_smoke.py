"""`mobagent demo` end to end, briefly: every process starts, works and stops cleanly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scenarios.demo.run import histogram_quantile

pytestmark = pytest.mark.integration


def test_a_short_demo_runs_reports_and_stops_cleanly(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mobagent",
            "demo",
            "--duration",
            "8",
            "--agents",
            "3",
            "--speed",
            "40",
            "--json",
            "--report",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{\n") :])
    assert summary["swarm"]["exitStatus"] == 0 and summary["swarm"]["unexpected"] == 0
    assert summary["swarm"]["agents"]["loggedOut"] == 3
    assert summary["calls"]["offered"] > 0
    # The summary says what the live-vs-model table says (one reading for both).
    assert summary["calls"]["offered"] == summary["liveVsModel"]["live"]["offered"]
    assert summary["eventsOut"] > 0
    report = json.loads((tmp_path / "demo.json").read_text())
    assert report["samples"] and report["summary"] == summary
    # Only the demo's 3 agents are counted: the roster's other 7 are never signed in.
    assert all(sum(s["agents"].values()) == 3 for s in report["samples"] if s["agents"])
    assert "<svg" in (tmp_path / "demo.html").read_text()


def test_histogram_quantiles_interpolate_within_buckets():
    text = "\n".join(
        [
            'm_bucket{le="0.001"} 50',
            'm_bucket{le="0.01"} 90',
            'm_bucket{le="0.1"} 100',
            'm_bucket{le="+Inf"} 100',
        ]
    )
    assert histogram_quantile(text, "m", 0.5) == pytest.approx(0.001)
    assert histogram_quantile(text, "m", 0.7) == pytest.approx(0.0055)
    assert histogram_quantile(text, "m", 0.99) == pytest.approx(0.091)
    assert histogram_quantile("", "m", 0.5) is None
