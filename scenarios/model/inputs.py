"""What the offline model is asked, as the engine's `ModelConfig`: one steady queue from a
rate and a handle time, or a traffic profile's queues (the very `Profile`s live traffic runs),
with the defaults of the reporting interval and the warm-up. `mobagent model` and the
live-run report (`scenarios.traffic.report`) both build their configurations here.
"""

from __future__ import annotations

from collections.abc import Sequence

from finesse_sim.traffic import Arrivals, HandleTime, Patience, Profile, TrafficProfile
from scenarios.model.engine import ModelConfig

STEADY_DN = "9000"  # a steady queue's DN (the model's queues need one; nothing dials it)
DEFAULT_INTERVAL = 1800.0
MIN_INTERVAL = 60.0
MIN_WARMUP_CALLS = 1000


def steady_queue(
    calls_per_hour: float,
    aht: float,
    *,
    handle: str = "exponential",
    aht_sd: float | None = None,
    patience: float | None = None,
    name: str = "model",
) -> Profile:
    """One queue at a constant rate: Poisson arrivals, exponential or lognormal handle times,
    exponential patience (None: nobody abandons)."""
    return Profile(
        dn=STEADY_DN,
        arrivals=Arrivals.constant(calls_per_hour),
        handle_time=HandleTime(handle, aht, aht_sd if handle == "lognormal" else None),
        patience=Patience() if patience is None else Patience("exponential", patience),
        name=name,
    )


def profile_cycle(profile: TrafficProfile) -> float | None:
    """The length of a profile's day: its longest interval cycle (None: steady rates only)."""
    cycles = [q.arrivals.cycle_seconds for q in profile.queues.values() if not q.arrivals.steady]
    return max(cycles) if cycles else None


def default_interval(queues: Sequence[Profile]) -> float:
    """The reporting interval: a profile's shortest interval (at least a minute), else 30 min."""
    lengths = [s for q in queues if not q.arrivals.steady for s, _ in q.arrivals.intervals]
    return max(MIN_INTERVAL, min(lengths)) if lengths else DEFAULT_INTERVAL


def default_warmup_calls(calls_per_replication: int) -> int:
    """Warm-up calls per replication: 10 % of its measured calls, at least 1000."""
    return max(MIN_WARMUP_CALLS, calls_per_replication // 10)


def model_config(
    queues: Sequence[Profile],
    agents: int,
    *,
    sl_seconds: float = 20.0,
    wrapup: float = 0.0,
    interval: float | None = None,
    calls: int | None = None,
    warmup_calls: int | None = None,
    horizon: float | None = None,
    warmup_seconds: float = 0.0,
) -> ModelConfig:
    """A configuration with the defaults filled in: the measurement window is `calls` per
    replication (after `warmup_calls`) or a `horizon` of model seconds (after
    `warmup_seconds`). Raises ValueError for what the engine cannot model."""
    if horizon is not None:
        window: dict[str, float | int] = {"horizon": horizon, "warmup_seconds": warmup_seconds}
    elif calls is not None:
        warmup = default_warmup_calls(calls) if warmup_calls is None else warmup_calls
        window = {"calls": calls, "warmup_calls": warmup}
    else:
        raise ValueError("give either calls or horizon")
    return ModelConfig(
        queues=tuple(queues),
        agents=agents,
        sl_seconds=sl_seconds,
        wrapup=wrapup,
        interval=default_interval(queues) if interval is None else interval,
        **window,  # type: ignore[arg-type]
    )
