"""The connector's targets, the run each was set for, and whether a run met them.

The targets were written for one run size: 2,000 agents at 2,000 events/s (the burst one
for a burst of 10,000 events in 2 s on those agents). A run of another size still measures
and reports every figure, but a target is judged only on a run of the size it was set for:
25 ms at p99 says nothing of 50 agents at 50/s, and the memory per agent of 20 agents is
mostly the connector's fixed start-up cost spread thin.
"""

from __future__ import annotations

from typing import Any

TARGETS = {
    "p50_ms": 5.0,
    "p99_ms": 25.0,
    "lost": 0,
    "p99_vs_direct": 2.0,
    "kib_per_agent": 128,
    "login_seconds": 5.0,  # 2,000 agents; 4,000 in 10 s (issue 16)
    "cpu_us_per_event": 60.0,
    "burst_p99_ms": 1000.0,
}
# The run the targets were set for; the burst target also for its burst.
TARGET_RUN = {"agents": 2000, "events_per_second": 2000}
TARGET_BURST = {"events": 10000, "seconds": 2.0}
BURST_VERDICT = "burst_no_loss_p99_lt_1s"
LABELS = {
    "p50_le_5ms": "p50 <= 5 ms",
    "p99_le_25ms": "p99 <= 25 ms",
    "no_loss": "0 lost",
    "p99_within_2x_direct": "p99 <= 2x direct p99",
    "kib_per_agent_le_128": "<= 128 KiB per agent",
    "login_le_5s": "all signed in <= 5 s",
    "cpu_le_60us_per_event": "connector CPU <= 60 us/event",
    BURST_VERDICT: "burst: 0 lost, p99 < 1 s",
}


def highest_meeting(steps: list[dict[str, Any]]) -> float | None:
    best = None
    for st in steps:
        p99 = st["e2e_ms"]["p99"]
        if st["lost"] == 0 and p99 is not None and p99 <= TARGETS["p99_ms"]:
            best = st["events_per_second"]
    return best


def verdicts(r: dict[str, Any]) -> dict[str, bool | None]:
    """Each target against the run's figures, whatever the run's size (None: the run has
    no such figure, e.g. no burst); `judged()` says which of them count."""
    e2e, direct = r["e2e_ms"], r["direct_ms"]
    out: dict[str, bool | None] = {
        "p50_le_5ms": e2e["p50"] is not None and e2e["p50"] <= TARGETS["p50_ms"],
        "p99_le_25ms": e2e["p99"] is not None and e2e["p99"] <= TARGETS["p99_ms"],
        "no_loss": r["lost"] == 0,
        "p99_within_2x_direct": (
            None
            if not (e2e["p99"] and direct["p99"])
            else e2e["p99"] <= TARGETS["p99_vs_direct"] * direct["p99"]
        ),
        "kib_per_agent_le_128": r["rss_per_agent_kib"] <= TARGETS["kib_per_agent"],
        "login_le_5s": r["login_seconds"] <= TARGETS["login_seconds"],
        "cpu_le_60us_per_event": (
            None
            if r["connector_cpu_us_per_event"] is None
            else r["connector_cpu_us_per_event"] <= TARGETS["cpu_us_per_event"]
        ),
    }
    b = r.get("burst")
    out[BURST_VERDICT] = (
        None
        if not b
        else b["lost"] == 0
        and b["e2e_ms"]["p99"] is not None
        and b["e2e_ms"]["p99"] < TARGETS["burst_p99_ms"]
    )
    return out


def is_target_run(r: dict[str, Any]) -> bool:
    return all(r[key] == value for key, value in TARGET_RUN.items())


def is_target_burst(r: dict[str, Any]) -> bool:
    b = r.get("burst")
    return (
        bool(b)
        and b["events"] == TARGET_BURST["events"]
        and (b["seconds"] == TARGET_BURST["seconds"])
    )


def judged(r: dict[str, Any]) -> dict[str, bool]:
    """Which targets this run is judged by: those set for a run of its size."""
    steady = is_target_run(r)
    return {name: steady and (name != BURST_VERDICT or is_target_burst(r)) for name in LABELS}


def target_for(name: str) -> str:
    """The run a target was set for, in words."""
    run = (
        f"{TARGET_RUN['agents']:,} agents at {TARGET_RUN['events_per_second']:,}/s"
        if name != BURST_VERDICT
        else f"a burst of {TARGET_BURST['events']:,} in {TARGET_BURST['seconds']:g} s on "
        f"{TARGET_RUN['agents']:,} agents at {TARGET_RUN['events_per_second']:,}/s"
    )
    return f"target for {run}"


def verdict_lines(r: dict[str, Any]) -> list[str]:
    """One line per target: PASS or FAIL on a run of the size it was set for, else n/a
    saying the size it was set for."""
    lines = [
        f"targets (set for {TARGET_RUN['agents']:,} agents at "
        f"{TARGET_RUN['events_per_second']:,} events/s; this run: {r['agents']:,} agents at "
        f"{r['events_per_second']:,g}/s):"
    ]
    for name, label in LABELS.items():
        met = r["meets"][name]
        if not r["judged"][name]:
            shown = f"n/a ({target_for(name)})"
        elif met is None:
            shown = "n/a (not measured in this run)"
        else:
            shown = "PASS" if met else "FAIL"
        lines.append(f"  {label:<26} {shown}")
    return lines
