"""Independent replications, KPIs with 95 % confidence intervals, and the staffing search.

Seeds: replication r of a run with seed S draws from random streams named ``"S/rep{r}/..."``
(one stream per queue for arrivals, handle times and patience), so the same seed gives the
same result whether replications run in one process or in several, and a different number
of agents meets the same callers (common random numbers: comparisons between staffings are
paired, which keeps the service level against agents smooth).

KPIs of one replication (calls counted by arrival in the measurement window):
``p_wait`` waited / offered; ``service_level`` answered within T / offered (an abandoned call
is not answered within T); ``wait_le_t`` (answered or abandoned) within T / offered, the
Erlang-comparable P(W <= T); ``asa`` sum of waits of answered calls / answered;
``mean_wait`` all waits / offered; ``abandon_rate`` abandoned / offered; ``occupancy``
integral of busy agents (talking or wrapping up) / (N x window); ``queue_length`` integral
of calls waiting / window. The estimate is the mean over replications with a Student-t
interval on the per-replication values.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

from scenarios.model.engine import ModelConfig, RunResult, Tally, run_replication
from scenarios.model.stats import Estimate
from scenarios.queueing import erlang

KPIS = (
    "p_wait",
    "service_level",
    "asa",
    "abandon_rate",
    "occupancy",
    "queue_length",
    "wait_le_t",
    "mean_wait",
)


# The range of each KPI: shares in [0, 1], times and lengths >= 0 (confidence intervals are
# cut to it).
SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, math.inf)
BOUNDS: dict[str, tuple[float, float]] = {
    "p_wait": SHARE,
    "service_level": SHARE,
    "abandon_rate": SHARE,
    "occupancy": SHARE,
    "wait_le_t": SHARE,
    "asa": NON_NEGATIVE,
    "mean_wait": NON_NEGATIVE,
    "queue_length": NON_NEGATIVE,
    "offered": NON_NEGATIVE,
}


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def tally_kpis(tally: Tally) -> dict[str, float]:
    """The per-call KPIs of a tally (NaN where nothing was offered or answered)."""
    return {
        "p_wait": _ratio(tally.waited, tally.offered),
        "service_level": _ratio(tally.answered_in_t, tally.offered),
        "asa": _ratio(tally.answered_wait, tally.answered),
        "abandon_rate": _ratio(tally.abandoned, tally.offered),
        "wait_le_t": _ratio(tally.done_in_t, tally.offered),
        "mean_wait": _ratio(tally.wait, tally.offered),
    }


def run_kpis(run: RunResult) -> dict[str, float]:
    kpis = tally_kpis(run.total)
    kpis["occupancy"] = _ratio(run.busy_area, run.span * run.agents)
    kpis["queue_length"] = _ratio(run.queue_area, run.span)
    return kpis


def default_jobs(replications: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, replications))


def replication_seed(seed: int | str, r: int) -> str:
    return f"{seed}/rep{r}"


def _threaded() -> bool:
    return threading.active_count() > 1 and "forkserver" in multiprocessing.get_all_start_methods()


def _one(args: tuple[ModelConfig, str]) -> RunResult:
    return run_replication(*args)


@dataclass
class Experiment:
    """The replications of one configuration."""

    config: ModelConfig
    seed: int | str
    runs: list[RunResult]
    wall_seconds: float
    kpis: dict[str, Estimate] = field(init=False)

    def __post_init__(self) -> None:
        per_run = [run_kpis(run) for run in self.runs]
        self.kpis = {k: Estimate.of([p[k] for p in per_run], BOUNDS[k]) for k in KPIS}

    @property
    def calls_simulated(self) -> int:
        return sum(run.calls_simulated for run in self.runs)

    @property
    def calls_measured(self) -> int:
        return sum(run.total.offered for run in self.runs)

    def queue_kpis(self) -> dict[str, dict[str, Estimate]]:
        """Per queue: the per-call KPIs (occupancy is the agents', shared by every queue)."""
        out: dict[str, dict[str, Estimate]] = {}
        for name in self.config.queue_names:
            per_run = [tally_kpis(run.queues[name]) for run in self.runs]
            keys = per_run[0].keys()
            out[name] = {k: Estimate.of([p[k] for p in per_run], BOUNDS[k]) for k in keys}
        return out

    def intervals(self) -> list[dict[str, object]]:
        """Per reporting interval: the mean over replications of each KPI, and offered calls.

        In calls mode the window ends at a random time: only intervals that are complete in
        every replication are reported (a time window keeps its last, shorter interval)."""
        length = self.config.interval
        counts = []
        for run in self.runs:
            ivs = run.intervals
            n = len(ivs)
            if self.config.calls is not None and ivs and ivs[-1].end - ivs[-1].start < length:
                n -= 1
            counts.append(n)
        out: list[dict[str, object]] = []
        for i in range(min(counts, default=0)):
            rows = []
            for run in self.runs:
                iv = run.intervals[i]
                span = iv.end - iv.start
                kpis = tally_kpis(iv.tally)
                kpis["occupancy"] = _ratio(iv.busy_area, span * run.agents)
                kpis["queue_length"] = _ratio(iv.queue_area, span)
                kpis["offered"] = float(iv.tally.offered)
                rows.append(kpis)
            first = self.runs[0].intervals[i]
            entry: dict[str, object] = {"start": first.start, "end": first.end}
            for key in ("offered", *KPIS):
                entry[key] = Estimate.of([row[key] for row in rows], BOUNDS[key])
            out.append(entry)
        return out


def run_experiment(
    config: ModelConfig,
    replications: int,
    seed: int | str = 1,
    jobs: int | None = None,
    first: int = 0,
) -> Experiment:
    """`replications` independent runs of `config` (replications `first`, `first` + 1, ...),
    in `jobs` processes (default: one per usable CPU, at most one per replication)."""
    if replications < 1:
        raise ValueError("replications must be >= 1")
    jobs = default_jobs(replications) if jobs is None else max(1, min(jobs, replications))
    tasks = [(config, replication_seed(seed, r)) for r in range(first, first + replications)]
    started = time.perf_counter()
    if jobs == 1:
        runs = [_one(task) for task in tasks]
    else:
        # Forking a process that runs threads (e.g. the live report's event loop) can copy a
        # held lock into the child: then start workers from a clean fork server instead.
        context = multiprocessing.get_context("forkserver") if _threaded() else None
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            runs = list(pool.map(_one, tasks))
    return Experiment(config, seed, runs, time.perf_counter() - started)


def extend(exp: Experiment, replications: int, jobs: int | None = None) -> Experiment:
    """`exp` with `replications` more (the next replication seeds)."""
    more = run_experiment(exp.config, replications, exp.seed, jobs, first=len(exp.runs))
    return Experiment(
        exp.config, exp.seed, exp.runs + more.runs, exp.wall_seconds + more.wall_seconds
    )


# -- analytic comparison ---------------------------------------------------------------------


def analytic(config: ModelConfig) -> erlang.ErlangResult | None:
    """Erlang C / Erlang A for the configuration, when it is exactly that model: one queue,
    a constant rate, exponential handle times, no wrap-up (and a stable queue for Erlang C)."""
    if len(config.queues) != 1 or config.wrapup:
        return None
    q = config.queues[0]
    if not q.arrivals.steady or q.handle_time.distribution != "exponential":
        return None
    rate, patience = q.calls_per_hour / 3600.0, q.mean_patience
    if patience is None and rate * q.aht >= config.agents:
        return None
    return erlang.metrics(rate, q.aht, config.agents, config.sl_seconds, patience)


def offered_load(config: ModelConfig) -> float:
    """The offered load in Erlangs: every queue's mean rate (over its profile's cycle) times
    its handle time plus the wrap-up."""
    return sum(q.calls_per_hour / 3600.0 * (q.aht + config.wrapup) for q in config.queues)


def unstable(config: ModelConfig) -> bool:
    """A queue that never settles: the offered load reaches the agents and nobody abandons
    (some queue has no patience), so waits grow for as long as the run lasts and no
    steady-state figure exists."""
    no_abandon = any(q.mean_patience is None for q in config.queues)
    return no_abandon and offered_load(config) >= config.agents


def analytic_start(config: ModelConfig, target_sl: float) -> int:
    """Erlang's staffing for the target: exact for a single M/M/N(+M) queue; otherwise the
    pooled traffic at its mean rate (a first guess the simulation then corrects)."""
    rate = 0.0
    work = 0.0
    for q in config.queues:
        mean_rate = q.calls_per_hour / 3600.0  # over the profile's cycle
        rate += mean_rate
        work += mean_rate * q.aht
    aht = work / rate + config.wrapup
    patiences = [q.mean_patience for q in config.queues]
    patience = None if None in patiences else sum(p for p in patiences if p) / len(patiences)
    return erlang.staffing(rate, aht, config.sl_seconds, target_sl, patience)


# -- staffing search -------------------------------------------------------------------------


@dataclass
class Search:
    target_sl: float
    analytic_agents: int
    agents: int  # the smallest staffing whose simulated service level meets the target
    tried: dict[int, Experiment]
    undecided: list[int]  # staffings whose CI still held the target after every extension

    @property
    def best(self) -> Experiment:
        return self.tried[self.agents]


def search_agents(
    config: ModelConfig,
    target_sl: float,
    replications: int,
    seed: int | str = 1,
    jobs: int | None = None,
    progress: Callable[[int, Experiment], None] | None = None,
    max_agents: int = 100_000,
    max_doublings: int = 4,
) -> Search:
    """The smallest N whose simulated service level reaches `target_sl`.

    Starts at Erlang's answer, then walks: down while N - 1 still meets the target, or up
    until N meets it. Every staffing is simulated with the same seeds (paired comparisons).
    A staffing "meets" the target when its mean service level is >= the target; while the
    95 % interval still contains the target the answer is noise, so the staffing gets as many
    replications again (the next seeds), up to `max_doublings` times (16 x by default); if
    the interval still holds the target then, the mean decides and the staffing is reported
    in `undecided`."""
    tried: dict[int, Experiment] = {}
    undecided: list[int] = []

    def meets(n: int) -> bool:
        if n not in tried:
            exp = run_experiment(replace(config, agents=n), replications, seed, jobs)
            for _ in range(max_doublings):
                if not exp.kpis["service_level"].contains(target_sl):
                    break
                exp = extend(exp, len(exp.runs), jobs)
            else:
                if exp.kpis["service_level"].contains(target_sl):
                    undecided.append(n)
            tried[n] = exp
            if progress:
                progress(n, exp)
        return tried[n].kpis["service_level"].mean >= target_sl

    start = analytic_start(config, target_sl)
    n = start
    if meets(n):
        while n > 1 and meets(n - 1):
            n -= 1
    else:
        while not meets(n):
            n += 1
            if n > max_agents:
                raise ValueError("no staffing up to max_agents meets the target")
    return Search(target_sl, start, n, tried, undecided)


def erlang_curve(
    config: ModelConfig, agents: Sequence[int]
) -> dict[int, erlang.ErlangResult] | None:
    """Erlang's figures for each staffing, when the configuration is an Erlang model."""
    out = {}
    for n in agents:
        result = analytic(replace(config, agents=n))
        if result is None:
            if analytic(replace(config, agents=max(agents))) is None:
                return None
            continue  # Erlang C below the load: unstable
        out[n] = result
    return out
