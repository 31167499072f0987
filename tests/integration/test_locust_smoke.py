"""`python -m scenarios.load.run` end to end: Locust against a simulator and a connector.

Small headless runs (single process, then a master and two workers on loopback): Locust
exits 0, requests were made, none failed, the custom statistics (command round trip
`rtt ...`, `push dialog.created`) are in its final stats, and so is every user's logout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def run_load(
    tmp_path: Path, *extra: str, modes: str | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    prefix = tmp_path / "locust"
    cmd = [sys.executable, "-m", "scenarios.load.run", "--spawn-rate", "4", "--headless"]
    cmd += ["--calls-per-minute", "60", "--csv", str(prefix), *extra]
    # Its own process group, so that a timeout takes the processes it started down with it.
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, **({"LOAD_MODE_WEIGHTS": modes} if modes else {})},
    )
    try:
        out, _ = proc.communicate(timeout=50)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"load run {' '.join(extra)} took more than 50 s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out[-4000:]
    assert "load: PASS" in out, out[-4000:]
    assert Path(f"{prefix}_stats.csv").exists()
    with open(f"{prefix}.json") as f:  # the final statistics, after every on_stop
        return {(e["method"], e["name"]): e for e in json.load(f)}


def check(stats: dict[tuple[str, str], dict[str, Any]], *, push: bool, users: int) -> None:
    assert sum(e["num_requests"] for e in stats.values()) > 0
    assert sum(e["num_failures"] for e in stats.values()) == 0
    assert ("rtt", "READY") in stats
    assert stats[("POST", "inject call")]["num_requests"] > 0
    if push:
        assert ("push", "dialog.created") in stats
    # every user logged out at the end of its shift, and the master heard of it
    assert stats[("DELETE", "logout")]["num_requests"] == users


@pytest.mark.timeout(60)
def test_single_process(tmp_path: Path) -> None:
    # The default mix of logins (nailed and state-only users give no push samples).
    check(run_load(tmp_path, "--users", "3", "--run-time", "12s"), push=False, users=3)


@pytest.mark.timeout(60)
def test_distributed_master_and_two_workers(tmp_path: Path) -> None:
    # Every user CALL_BY_CALL, so each routed call gives a push-latency sample.
    # Shifts shorter than the run: the workers' logouts reach the master's statistics.
    stats = run_load(
        tmp_path,
        *("--users", "4", "--run-time", "16s", "--workers", "2", "--shift-seconds", "6"),
        modes="CALL_BY_CALL=1",
    )
    check(stats, push=True, users=4)
