"""`mobagent bench --agents 20 --events-per-second 50 --seconds 3 --json` runs end to end.

A smoke test, not the measurement: the simulator, the connector and the load generator
start, 20 apps and the direct slixmpp subscribers sign in, every flip's event arrives and
the latencies are there and positive. The targets (p99 <= 25 ms at 2,000 events/s, ...)
belong to the README, not to CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(90)
def test_bench_reports_latency_memory_and_no_loss():
    cmd = [sys.executable, "-m", "mobagent", "bench", "--agents", "20"]
    cmd += ["--events-per-second", "50", "--seconds", "3", "--direct", "5", "--json"]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a timeout takes the processes it started down with it
    )
    try:
        stdout, stderr = proc.communicate(timeout=75)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("mobagent bench took more than 75 s")
    assert proc.returncode == 0, stderr[-2000:]
    r = json.loads(stdout)
    assert r["agents"] == 20
    assert r["events_per_second"] == 50
    assert r["lost"] == 0
    assert r["failure_count"] == 0, r["failures"]
    assert r["events_sent"] > 0
    assert r["events_received"] == r["events_sent"]
    for key in ("p50", "p95", "p99", "p999"):
        assert r["e2e_ms"][key] > 0
        assert r["e2e_from_put_ms"][key] > 0
    # The direct client's event may be read before its own 202 (a lower bound of 0 ms).
    assert r["direct_ms"]["p99"] >= 0
    assert r["direct_from_put_ms"]["p99"] > 0
    assert r["command_rtt_ms"]["p50"] > 0
    assert r["command_rtt_ms"]["p99"] > 0
    assert r["login_seconds"] > 0
    assert r["connector_rss_mib"] > 0
    assert r["rss_per_agent_kib"] > 0
    assert r["connector_cpu_percent"] >= 0
