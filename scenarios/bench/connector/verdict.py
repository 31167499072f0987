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
        shown = _shown(r["meets"][name], r["judged"][name], target_for(name))
        lines.append(f"  {label:<26} {shown}")
    return lines


def _shown(met: bool | None, judged: bool, set_for: str) -> str:
    """PASS or FAIL on a run of the size the target was set for, else n/a and why."""
    if not judged:
        return f"n/a ({set_for})"
    if met is None:
        return "n/a (not measured in this run)"
    return "PASS" if met else "FAIL"


# -- several connector processes (`--connectors N --state redis`) ---------------------------

CLUSTER_TARGETS = {
    "p99_ms": 25.0,
    "p99_vs_single": 1.5,  # x the single in-memory process's p99, in the same run
    "takeover_s": 15.0,  # for the agents of a killed process: 2,000 in the run set for
    "forced_logouts": 0,
    "lost": 0,
}
CLUSTER_RUN = {"agents": 4000, "events_per_second": 2000, "connectors": 2}
CLUSTER_LABELS = {
    "p99_le_25ms": "p99 <= 25 ms",
    "p99_within_1_5x_single": "p99 <= 1.5x the single process's",
    "no_loss": "0 lost",
    "takeover_le_15s": "take-over <= 15 s",
    "no_forced_logout": "0 forced logouts",
}


def cluster_verdicts(r: dict[str, Any]) -> dict[str, bool | None]:
    """The cluster's targets against the run's figures (None: not measured, e.g. a run of
    one process has no take-over)."""
    c = r["cluster"]
    p99, ratio, taken = r["e2e_ms"]["p99"], c["p99_vs_single"], c["takeover"]
    return {
        "p99_le_25ms": p99 is not None and p99 <= CLUSTER_TARGETS["p99_ms"],
        "p99_within_1_5x_single": None
        if ratio is None
        else ratio <= CLUSTER_TARGETS["p99_vs_single"],
        "no_loss": r["lost"] == 0,
        "takeover_le_15s": None
        if taken is None
        else taken["up"] >= taken["agents"] and taken["seconds"] <= CLUSTER_TARGETS["takeover_s"],
        "no_forced_logout": None if taken is None else taken["forced_logouts"] == 0,
    }


def cluster_verdict_lines(r: dict[str, Any]) -> list[str]:
    c = r["cluster"]
    judged = all(r.get(key, c.get(key)) == value for key, value in CLUSTER_RUN.items())
    lines = [
        f"cluster targets (set for {CLUSTER_RUN['agents']:,} agents at "
        f"{CLUSTER_RUN['events_per_second']:,} events/s on {CLUSTER_RUN['connectors']} "
        f"processes; this run: {r['agents']:,} agents at {r['events_per_second']:,g}/s on "
        f"{c['connectors']}):"
    ]
    for name, label in CLUSTER_LABELS.items():
        shown = _shown(c["meets"][name], judged, "not the size the target was set for")
        lines.append(f"  {label:<34} {shown}")
    return lines
