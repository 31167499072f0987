"""`mobagent bench --chart PATH`: a PNG of latency against load."""

from __future__ import annotations

from typing import Any

from scenarios.bench.connector.verdict import TARGETS


def chart(result: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result["steps"]
    rates = [st["achieved_per_second"] for st in steps]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in (
        ("p50", "connector p50", "o-"),
        ("p99", "connector p99", "s-"),
        ("p999", "connector p99.9", "^-"),
    ):
        ax.plot(rates, [st["e2e_ms"][key] for st in steps], style, label=label)
    ax.plot(rates, [st["direct_ms"]["p99"] for st in steps], "x--", label="direct slixmpp p99")
    ax.axhline(TARGETS["p99_ms"], color="red", lw=0.8, ls=":", label="p99 target 25 ms")
    ax.set_xlabel("events per second (achieved)")
    start = "simulator publish" if result.get("inject") == "bulk" else "simulator 202"
    ax.set_ylabel(f"latency, ms ({start} -> app receives)")
    ax.set_yscale("log")
    ax.set_title(f"Connector push latency, {result['agents']} agents")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
