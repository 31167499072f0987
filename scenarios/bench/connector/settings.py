"""What one `mobagent bench` run is asked to do, and the defaults of its flags."""

from __future__ import annotations

import dataclasses

HOST = "127.0.0.1"
CONCURRENCY = 50  # sign-ins in flight at a time
DRAIN = 10.0  # seconds to wait for the events of the last flips
WARMUP = 10.0  # seconds of events before the measured phases
IDLE = 5.0  # seconds with nothing happening, after the warm-up: the cost of having agents
TICK = 0.005  # seconds between two batches of flips
STOP_TIMEOUT = 60.0  # SIGINT to exit: the connector closes every session first
SWEEP_RATES = (500, 1000, 2000, 4000, 8000)
APP_PROCS = 2


@dataclasses.dataclass(frozen=True)
class Settings:
    agents: int = 2000
    rate: float = 2000
    seconds: float = 60
    direct: int = 20
    commands: int = 20
    burst: int = 0
    burst_seconds: float = 2.0
    sweep: bool = False
    drain: float = DRAIN
    warmup: float = WARMUP
    idle: float = IDLE
    concurrency: int = CONCURRENCY
    cprofile: str | None = None  # write the connector's cProfile stats here
    gc_stats: str | None = None
    app_procs: int = APP_PROCS
    # How the steady phases make their events: "bulk" (the simulator's bulk state change:
    # the rate asked is reached) | "rest" (one REST PUT each: ~1,500/s on this machine).
    inject: str = "bulk"
    push_agents: int = 0  # backgrounded agents woken by push (0: no push load)
    push_rate: float = 100.0  # calls a second routed to them, during the push phase
    push_process: bool = False  # the connector sends its pushes from a process of its own
    connectors: int = 1  # connector processes behind one address (more: state in Redis)
    state: str = "memory"  # "memory" | "redis" (a redis-server the run starts)
    forced_logout: float = 60.0  # the simulated Finesse's window after a presence loss


def sweep_rates(top: float) -> list[float]:
    rates = [r for r in SWEEP_RATES if r < top]
    return [*rates, top]
