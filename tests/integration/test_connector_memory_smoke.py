"""`python -m scenarios.bench.connector_memory --agents 20 --json [--tls]` runs end to end.

A smoke test, not the measurement: 20 agents log in through the connector and every one
holds an XMPP session and an event WebSocket; the RSS figures must be there and positive.
The <= 128 KiB per agent target is measured at 1,000 agents and belongs to docs/benchmarks.md.
"""

from __future__ import annotations

import pytest

from scenarios.stack.processes import run_json

pytestmark = pytest.mark.integration

AGENTS = 20


def run_benchmark(*extra: str) -> dict:
    args = ["scenarios.bench.connector_memory", "--agents", str(AGENTS), "--json", *extra]
    return run_json(args, timeout=75, what="connector_memory " + " ".join(extra))


def check_run(run: dict) -> None:
    assert run["failures"] == 0, run["failure_samples"]
    assert run["agents"] == AGENTS
    assert run["logins"] == AGENTS
    assert run["connector_counts"]["sessions"] == AGENTS
    assert run["connector_counts"]["websockets"] == AGENTS
    rss = run["connector_rss_mib"]
    assert rss["before"] > 0
    assert rss["after"] > 0
    assert run["rss_per_agent_kib"] > 0
    assert run["login_seconds"] > 0
    assert run["connector_exit_status"] == 0


@pytest.mark.timeout(90)
def test_plaintext_xmpp_reports_rss_per_agent_and_no_failures():
    result = run_benchmark()
    assert list(result["runs"]) == ["plain"]
    check_run(result["runs"]["plain"])
    assert result["agents"] == AGENTS
    assert result["target"]["kib_per_agent"] == 128
    assert result["machine"]["cores"] >= 1
    assert result["method"]


@pytest.mark.timeout(90)
def test_tls_measures_starttls_after_plaintext():
    result = run_benchmark("--tls")
    assert list(result["runs"]) == ["plain", "starttls"]
    for run in result["runs"].values():
        check_run(run)


@pytest.mark.timeout(90)
def test_direct_tls_is_measured_on_its_own_port():
    result = run_benchmark("--direct-tls")
    assert list(result["runs"]) == ["plain", "direct"]
    for run in result["runs"].values():
        check_run(run)
