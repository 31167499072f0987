"""The PNG chart of `mobagent model --chart PATH`: service level against agents, and the
queue length over the run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import math
from pathlib import Path

from scenarios.model.experiment import Experiment, erlang_curve


def write_chart(
    path: str | Path,
    shown: Experiment,
    tried: dict[int, Experiment],
    target_sl: float | None = None,
    title: str = "",
) -> Path:
    """Left: simulated service level (mean and 95 % CI) for every staffing simulated, with
    Erlang's curve where the model is an Erlang model. Right: calls waiting per interval in
    `shown` (mean over replications, 95 % CI band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    config = shown.config
    sl_seconds = config.sl_seconds
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)

    agents = sorted(tried)
    lo_n = max(1, min(agents) - 3)
    hi_n = max(agents) + 3
    curve = erlang_curve(config, range(lo_n, hi_n + 1))
    if curve:
        xs = sorted(curve)
        model_name = "Erlang A" if config.queues[0].mean_patience is not None else "Erlang C"
        left.plot(xs, [curve[n].service_level for n in xs], "-", color="0.6", label=model_name)
    means = [tried[n].kpis["service_level"].mean for n in agents]
    errs = [tried[n].kpis["service_level"].half_width for n in agents]
    errs = [0.0 if math.isnan(e) else e for e in errs]
    left.errorbar(
        agents, means, yerr=errs, fmt="o", color="C0", capsize=4, label="simulated (95 % CI)"
    )
    if target_sl is not None:
        left.axhline(
            target_sl, color="C3", linestyle="--", linewidth=1, label=f"target {target_sl:.0%}"
        )
    left.axvline(
        config.agents, color="C2", linestyle=":", linewidth=1, label=f"{config.agents} agents"
    )
    left.set_xlabel("agents")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel(f"service level (answered within {sl_seconds:g} s / offered)")
    left.set_ylim(0, 1.02)
    left.grid(alpha=0.3)
    left.legend(loc="lower right")
    left.set_title("Service level against agents")

    intervals = shown.intervals()
    if intervals:
        xs = [(iv["start"] + iv["end"]) / 2 / 3600 for iv in intervals]  # type: ignore[operator]
        est = [iv["queue_length"] for iv in intervals]
        mean = [e.mean for e in est]  # type: ignore[attr-defined]
        low = [e.mean if math.isnan(e.low) else e.low for e in est]  # type: ignore[attr-defined]
        high = [e.mean if math.isnan(e.high) else e.high for e in est]  # type: ignore[attr-defined]
        right.plot(xs, mean, "-", color="C0", label="mean over replications")
        right.fill_between(xs, low, high, color="C0", alpha=0.2, label="95 % CI")
        right.legend(loc="upper right")
    start = (
        "the start" if config.horizon is not None and not config.warmup_seconds else ("the warm-up")
    )
    right.set_xlabel(f"hours after {start} (intervals of {config.interval / 60:g} min)")
    right.set_ylabel("calls waiting (time average)")
    right.set_ylim(bottom=0)
    right.grid(alpha=0.3)
    right.set_title(f"Queue length over the run, {config.agents} agents")
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
