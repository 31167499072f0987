"""The connector's targets and whether a run met them."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "p50_ms": 5.0,
    "p99_ms": 25.0,
    "lost": 0,
    "p99_vs_direct": 2.0,
    "kib_per_agent": 128,
    "login_seconds": 10.0,
    "burst_p99_ms": 1000.0,
}


def highest_meeting(steps: list[dict[str, Any]]) -> float | None:
    best = None
    for st in steps:
        p99 = st["e2e_ms"]["p99"]
        if st["lost"] == 0 and p99 is not None and p99 <= TARGETS["p99_ms"]:
            best = st["events_per_second"]
    return best


def verdicts(r: dict[str, Any]) -> dict[str, bool | None]:
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
        "login_le_10s": r["login_seconds"] <= TARGETS["login_seconds"],
    }
    b = r.get("burst")
    out["burst_no_loss_p99_lt_1s"] = (
        None
        if not b
        else b["lost"] == 0
        and b["e2e_ms"]["p99"] is not None
        and b["e2e_ms"]["p99"] < TARGETS["burst_p99_ms"]
    )
    return out
