"""`python -m scenarios.bench.sim_bench --quick --json` runs end to end.

A smoke test, not a timed one: it checks that every phase measured something and that no
request or notification went missing; the throughput targets belong to docs/benchmarks.md.
"""

from __future__ import annotations

import pytest

from scenarios.stack.processes import run_json

pytestmark = pytest.mark.integration


@pytest.mark.timeout(90)
def test_quick_benchmark_reports_positive_throughput_and_no_failures():
    result = run_json(
        ["scenarios.bench.sim_bench", "--quick", "--json"], timeout=60, what="the quick benchmark"
    )

    rest = result["rest_get_user"]
    assert rest["requests"] > 0
    assert rest["failed"] == 0, rest["failures"]
    assert rest["seconds"] > 0
    assert rest["per_wall_second"] > 0
    assert rest["per_sim_cpu_second"] > 0

    fanout = result["fanout"]
    assert fanout["clients"] > 0
    assert fanout["deliveries"] > 0
    assert fanout["deliveries"] == fanout["expected"]
    assert fanout["failed"] == 0, fanout["failures"]
    assert fanout["per_wall_second"] > 0
    assert fanout["per_sim_cpu_second"] > 0

    publish = result.get("fanout_publish_path")
    if publish is not None:  # the notification service's own helper, when present
        assert publish["failed"] == 0
        assert publish["per_sim_cpu_second"] > 0

    assert result["machine"]["cores"] >= 1
    assert result["machine"]["python"]
    assert result["method"]
