"""Benchmark of the offline model (`mobagent model`) against Ciw on the same M/M/N model.

    python -m scenarios.bench.model_bench [--json] [--calls 200000] [--runs 5] [--cpu N]

Targets (from the issue): the plain M/M/N model simulates >= 80,000 calls per wall second on
one core, and is >= 1.5 x as fast as Ciw on the same model measured side by side.

How it measures: this process pins itself to one CPU (os.sched_setaffinity; the last one it
may use unless --cpu), then alternates the two simulators, `--runs` times each, on the same
model: Poisson arrivals at 200 calls/h, exponential handle times with a mean of 180 s,
14 agents (A = 10 Erlangs; the issue's example), `--calls` calls from an empty system.
* ours: one replication of `scenarios.model.engine` (the Acd routing, simpy Environment),
  `--calls` measured calls, no warm-up; the wall time of building and running it, KPIs
  included; calls/s = calls simulated (every arrival) / wall seconds.
* Ciw: `ciw.create_network` + `ciw.Simulation` + `simulate_until_max_customers(calls,
  method="Arrive")`; the wall time of those three, not of reading its records afterwards
  (which our figure does include: the comparison favours Ciw).
The figure of each is the median of its runs. A second pair of rows does the same with
exponential patience (mean 120 s, M/M/N+M) for information; the targets are about the first.
Both simulators' P(wait) is printed beside Erlang's, to show they simulate the same model.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

from scenarios.bench.procs import cpu_model
from scenarios.model.engine import ModelConfig, run_replication
from scenarios.model.inputs import steady_queue
from scenarios.queueing.erlang import metrics

CALLS_PER_HOUR = 200
RATE = CALLS_PER_HOUR / 3600  # calls per second
AHT = 180.0
AGENTS = 14
PATIENCE = 120.0
TARGET_CALLS_PER_SECOND = 80_000
TARGET_RATIO = 1.5


def ours(calls: int, patience: float | None, seed: int) -> tuple[float, int, float]:
    """(wall seconds, calls simulated, P(wait)) of one run of our model."""
    config = ModelConfig(
        queues=(steady_queue(CALLS_PER_HOUR, AHT, patience=patience, name="bench"),),
        agents=AGENTS,
        calls=calls,
        warmup_calls=0,
    )
    started = time.perf_counter()
    result = run_replication(config, seed)
    wall = time.perf_counter() - started
    return wall, result.calls_simulated, result.total.waited / result.total.offered


def ciw_run(calls: int, patience: float | None, seed: int) -> tuple[float, int, float]:
    """(wall seconds, calls simulated, P(wait)) of one run of Ciw."""
    import ciw

    ciw.seed(seed)
    extra: dict[str, Any] = {}
    if patience is not None:
        extra["reneging_time_distributions"] = [ciw.dists.Exponential(1.0 / patience)]
    started = time.perf_counter()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(RATE)],
        service_distributions=[ciw.dists.Exponential(1.0 / AHT)],
        number_of_servers=[AGENTS],
        **extra,
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(calls, method="Arrive")
    wall = time.perf_counter() - started
    records = sim.get_all_records()
    waited = sum(1 for r in records if r.waiting_time > 0)
    return wall, calls, waited / len(records)


def measure(calls: int, runs: int, patience: float | None) -> dict[str, Any]:
    rows: dict[str, list[tuple[float, int, float]]] = {"ours": [], "ciw": []}
    for i in range(runs):  # alternate, so that a slow moment of the machine hits both
        for name, fn in (("ours", ours), ("ciw", ciw_run)):
            gc.collect()
            rows[name].append(fn(calls, patience, i + 1))
    out: dict[str, Any] = {}
    for name, results in rows.items():
        rates = [n / wall for wall, n, _ in results]
        out[name] = {
            "calls_per_second": round(statistics.median(rates)),
            "runs": [round(r) for r in rates],
            "p_wait": round(statistics.fmean(p for _, _, p in results), 4),
        }
    out["ratio"] = round(out["ours"]["calls_per_second"] / out["ciw"]["calls_per_second"], 2)
    out["erlang_p_wait"] = round(metrics(RATE, AHT, AGENTS, 20.0, patience).p_wait, 4)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.bench.model_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--calls", type=int, default=200_000, help="calls per run")
    parser.add_argument("--runs", type=int, default=5, help="runs of each (median)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to")
    parser.add_argument("--quick", action="store_true", help="20,000 calls, 3 runs (a smoke)")
    parser.add_argument("--no-patience", action="store_true", help="skip the M/M/N+M rows")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.runs = 20_000, 3
    try:
        import ciw
    except ImportError:
        print(
            "model_bench: Ciw is a development dependency: pip install -e '.[dev]'", file=sys.stderr
        )
        return 2
    cpu = args.cpu
    if hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0)) if cpu is None else cpu
        os.sched_setaffinity(0, {cpu})
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report: dict[str, Any] = {
        "model": f"M/M/N: {RATE * 3600:g} calls/h, AHT {AHT:g} s, {AGENTS} agents",
        "calls_per_run": args.calls,
        "runs": args.runs,
        "cpu": cpu,
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "ciw": ciw.__version__,
        "load_average_before": round(load_before, 2),
        "mmn": measure(args.calls, args.runs, None),
    }
    if not args.no_patience:
        report["mmn_patience"] = measure(args.calls, args.runs, PATIENCE)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    mmn = report["mmn"]
    report["targets"] = {
        "calls_per_second": TARGET_CALLS_PER_SECOND,
        "ratio_to_ciw": TARGET_RATIO,
        "met": mmn["ours"]["calls_per_second"] >= TARGET_CALLS_PER_SECOND
        and mmn["ratio"] >= TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{report['model']}; {args.calls:,} calls per run, median of {args.runs}, "
        f"pinned to CPU {cpu} ({report['cpu_model']}), Python {report['python']}, "
        f"Ciw {report['ciw']}"
    )
    for key, label in (("mmn", "M/M/N"), ("mmn_patience", f"M/M/N+M, patience {PATIENCE:g} s")):
        if key not in report:
            continue
        row = report[key]
        print(
            f"  {label:<28} ours {row['ours']['calls_per_second']:>9,} calls/s   "
            f"Ciw {row['ciw']['calls_per_second']:>9,} calls/s   x{row['ratio']:.2f}   "
            f"P(wait) ours {row['ours']['p_wait']:.4f} Ciw {row['ciw']['p_wait']:.4f} "
            f"Erlang {row['erlang_p_wait']:.4f}"
        )
    verdict = "met" if report["targets"]["met"] else "NOT met"
    print(f"targets (>= {TARGET_CALLS_PER_SECOND:,} calls/s, >= {TARGET_RATIO} x Ciw): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
