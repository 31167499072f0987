"""Guard: connector memory per connected agent stays <= 300 KiB at 200 agents over STARTTLS.

200 apps sign in through the connector (each with a live Finesse XMPP session over STARTTLS
and an event WebSocket), measured by scenarios.bench.connector_memory. An unshared
ssl.SSLContext costs ~900 KiB per agent, so this catches one; the 128 KiB target itself is
measured at 1,000 agents and belongs to the README.
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
AGENTS = 200
LIMIT_KIB = 300


@pytest.mark.timeout(60)
def test_connector_memory_per_agent_over_starttls_is_under_300_kib():
    cmd = [sys.executable, "-m", "scenarios.bench.connector_memory"]
    cmd += ["--agents", str(AGENTS), "--json", "--tls"]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=50)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("connector_memory --agents 200 --tls took more than 50 s")
    assert proc.returncode == 0, stderr[-2000:]
    run = json.loads(stdout)["runs"]["starttls"]
    assert run["failures"] == 0, run["failure_samples"]
    assert run["connector_counts"]["sessions"] == AGENTS
    assert run["connector_counts"]["websockets"] == AGENTS
    assert 0 < run["rss_per_agent_kib"] <= LIMIT_KIB, run["connector_rss_mib"]
