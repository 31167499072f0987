"""`mobagent bench` judges a target only on a run of the size it was set for."""

from __future__ import annotations

from scenarios.bench.connector.verdict import judged, verdict_lines, verdicts


def result(agents: int, rate: float, burst: dict | None = None) -> dict:
    r = {
        "agents": agents,
        "events_per_second": rate,
        "e2e_ms": {"p50": 0.1, "p99": 30.0},
        "direct_ms": {"p50": 0.1, "p99": 2.0},
        "lost": 0,
        "rss_per_agent_kib": 400.0,
        "login_seconds": 1.0,
        "connector_cpu_us_per_event": 75.0,
        "burst": burst,
    }
    r["meets"] = verdicts(r)
    r["judged"] = judged(r)
    return r


def line(lines: list[str], label: str) -> str:
    return next(x for x in lines if x.strip().startswith(label))


def test_a_run_of_the_target_size_passes_and_fails():
    lines = verdict_lines(result(2000, 2000))
    assert line(lines, "p50 <= 5 ms").endswith("PASS")
    assert line(lines, "p99 <= 25 ms").endswith("FAIL")
    assert line(lines, "<= 128 KiB per agent").endswith("FAIL")
    assert line(lines, "connector CPU <= 60 us/event").endswith("FAIL")
    assert line(lines, "all signed in <= 5 s").endswith("PASS")
    assert "n/a (target for a burst of 10,000 in 2 s" in line(lines, "burst:")


def test_a_smaller_run_is_not_judged_but_keeps_its_figures():
    r = result(50, 50)
    assert r["meets"]["p99_le_25ms"] is False  # the figure against the target, kept
    assert not any(r["judged"].values())
    lines = verdict_lines(r)
    assert lines[0] == (
        "targets (set for 2,000 agents at 2,000 events/s; this run: 50 agents at 50/s):"
    )
    assert line(lines, "p99 <= 25 ms").endswith("n/a (target for 2,000 agents at 2,000/s)")
    assert not any(x.endswith(("PASS", "FAIL")) for x in lines)


def test_the_burst_target_is_judged_on_its_own_burst():
    burst = {"events": 10000, "seconds": 2.0, "lost": 0, "e2e_ms": {"p99": 6.0}}
    r = result(2000, 2000, burst)
    assert r["judged"]["burst_no_loss_p99_lt_1s"] is True
    assert line(verdict_lines(r), "burst:").endswith("PASS")
    small = result(2000, 2000, {**burst, "events": 200})
    assert small["judged"]["burst_no_loss_p99_lt_1s"] is False
