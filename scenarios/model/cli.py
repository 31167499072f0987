"""`mobagent model`: the offline traffic model (queueing core of the simulated Finesse, modelled
agents, virtual time), checked against Erlang C / Erlang A.

    mobagent model --calls-per-hour 200 --aht 180 --agents 14 --sl-seconds 20 [--patience 120]
                   --calls 200000 --replications 10 --seed 1 [--json] [--chart PATH]
                   [--target-sl 0.8 --search-agents] [--profile FILE.toml]

`--calls` is the number of measured calls over all replications (each replication measures
calls / replications of them, after its own warm-up calls). With --json one JSON object:
``p_wait``, ``service_level``, ``asa``, ``abandon_rate``, ``occupancy`` (and ``queue_length``,
``wait_le_t``, ``mean_wait``), each ``{"mean": x, "ci95": [low, high]}``; ``calls_simulated``
(every arrival, warm-up included), ``calls_measured``, ``wall_seconds``; ``erlang`` (the
analytic figures, or null when the model is not an Erlang model); ``intervals``, ``queues``,
``inputs`` and, after a staffing search, ``search``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from typing import Any

from finesse_sim.traffic import ProfileError, load_profile
from mobagent.args import ArgumentParser
from scenarios.model.engine import ModelConfig
from scenarios.model.experiment import (
    KPIS,
    Experiment,
    Search,
    analytic,
    offered_load,
    run_experiment,
    search_agents,
    unstable,
)
from scenarios.model.inputs import default_interval, model_config, profile_cycle, steady_queue
from scenarios.model.stats import Estimate

LABELS = {
    "p_wait": "P(wait)",
    "service_level": "service level",
    "asa": "ASA (s)",
    "abandon_rate": "abandoned",
    "occupancy": "occupancy",
    "queue_length": "queue length",
    "wait_le_t": "P(wait <= T)",
    "mean_wait": "mean wait (s)",
}


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="mobagent model",
        description="Offline contact-centre model: the simulator's queueing core with modelled "
        "agents in virtual time; KPIs with 95% confidence intervals from independent "
        "replications, compared with Erlang C / Erlang A.",
    )
    traffic = p.add_argument_group("traffic (one queue)")
    traffic.add_argument("--calls-per-hour", type=float, help="Poisson arrival rate")
    traffic.add_argument("--aht", type=float, help="mean handle time, seconds")
    traffic.add_argument(
        "--handle",
        choices=("exponential", "lognormal"),
        default="exponential",
        help="handle time distribution (default exponential)",
    )
    traffic.add_argument(
        "--aht-sd",
        type=float,
        default=0.0,
        help="lognormal: standard deviation of the handle time, seconds",
    )
    traffic.add_argument(
        "--patience",
        type=float,
        default=None,
        help="mean exponential patience, seconds (default: nobody abandons)",
    )
    traffic.add_argument(
        "--profile",
        metavar="FILE.toml",
        help="a traffic profile (a shipped name or a file; finesse_sim.traffic) instead",
    )
    staff = p.add_argument_group("agents")
    staff.add_argument("--agents", type=int, help="modelled agents (each serves every queue)")
    staff.add_argument(
        "--wrapup", type=float, default=0.0, help="wrap-up seconds after each call (default 0)"
    )
    staff.add_argument(
        "--sl-seconds",
        type=float,
        default=None,
        help="service-level threshold T, seconds (default 20, or the profile's)",
    )
    staff.add_argument(
        "--target-sl",
        type=float,
        default=0.8,
        help="service-level target of --search-agents (default 0.8)",
    )
    staff.add_argument(
        "--search-agents",
        action="store_true",
        help="find the smallest number of agents meeting --target-sl",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--calls",
        type=int,
        default=200_000,
        help="measured calls over all replications (default 200000)",
    )
    run.add_argument(
        "--warmup-calls",
        type=int,
        default=None,
        help="calls per replication before measuring (default: 10%% of its calls, at least 1000)",
    )
    run.add_argument(
        "--replications",
        type=int,
        default=10,
        help="independent replications (default 10, at least 2)",
    )
    run.add_argument(
        "--horizon",
        type=float,
        default=None,
        help="measure a span of model seconds per replication instead of a "
        "number of calls (a profile: its cycle by default)",
    )
    run.add_argument(
        "--warmup-seconds",
        type=float,
        default=0.0,
        help="with a span: model seconds before measuring (default 0: a day "
        "starts empty, as the live simulator does)",
    )
    run.add_argument("--seed", type=int, default=None, help="seed (default 1, or the profile's)")
    run.add_argument(
        "--interval",
        type=float,
        default=None,
        help="reporting interval, seconds (default 1800, or a profile's shortest interval)",
    )
    run.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes (default: one per CPU, at most one per replication)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument(
        "--chart",
        metavar="PATH",
        help="write a PNG chart: service level against agents (without --search-agents, "
        "N - 2 .. N + 2 agents are simulated for it too) and queue length over the run",
    )
    return p


# -- configuration ---------------------------------------------------------------------------


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    if args.replications < 2:
        raise UsageError("--replications must be at least 2 (confidence intervals)")
    if args.agents is None and not args.search_agents:
        raise UsageError("--agents is required (or --search-agents)")
    if args.agents is not None and args.agents < 1:
        raise UsageError("--agents must be >= 1")
    if not 0.0 < args.target_sl < 1.0:
        raise UsageError("--target-sl must be between 0 and 1")
    agents = args.agents or 1  # the search replaces it
    if args.profile:
        given = [args.calls_per_hour, args.aht, args.patience]
        if any(x is not None for x in given) or args.handle != "exponential" or args.aht_sd:
            raise UsageError(
                "--profile gives the traffic: no --calls-per-hour, --aht, "
                "--handle, --aht-sd or --patience with it"
            )
        try:
            profile = load_profile(args.profile)
        except (ProfileError, OSError) as exc:
            raise UsageError(f"--profile: {exc}") from None
        queues = tuple(profile.queues.values())
        sl_seconds, seed, cycle = profile.sl_seconds, profile.seed, profile_cycle(profile)
    else:
        if args.calls_per_hour is None or args.aht is None:
            raise UsageError("--calls-per-hour and --aht are required (or --profile)")
        if args.handle == "lognormal" and not args.aht_sd > 0:
            raise UsageError("--handle lognormal needs --aht-sd > 0")
        queue = steady_queue(
            args.calls_per_hour,
            args.aht,
            handle=args.handle,
            aht_sd=args.aht_sd,
            patience=args.patience,
        )
        queues, sl_seconds, seed, cycle = (queue,), 20.0, 1, None
    if args.sl_seconds is None:
        args.sl_seconds = sl_seconds
    if args.seed is None:
        args.seed = seed
    if args.interval is None:
        args.interval = default_interval(queues)
    horizon = args.horizon if args.horizon is not None else cycle
    calls = None
    if horizon is None:
        if args.calls < args.replications:
            raise UsageError("--calls must be at least --replications")
        calls = args.calls // args.replications
    try:
        return model_config(
            queues,
            agents,
            sl_seconds=args.sl_seconds,
            wrapup=args.wrapup,
            interval=args.interval,
            calls=calls,
            warmup_calls=args.warmup_calls,
            horizon=horizon,
            warmup_seconds=args.warmup_seconds,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- output ----------------------------------------------------------------------------------


def _round(x: float, digits: int = 6) -> float | None:
    return None if x is None or math.isnan(x) else round(x, digits)


def result_json(exp: Experiment, search: Search | None, wall: float) -> dict[str, Any]:
    cfg = exp.config
    out: dict[str, Any] = {k: exp.kpis[k].as_json() for k in KPIS}
    out["calls_simulated"] = (
        exp.calls_simulated
        if search is None
        else sum(e.calls_simulated for e in search.tried.values())
    )
    out["calls_measured"] = exp.calls_measured
    out["wall_seconds"] = round(wall, 3)
    out["replications"] = len(exp.runs)
    out["seed"] = exp.seed
    out["agents"] = cfg.agents
    out["sl_seconds"] = cfg.sl_seconds
    out["offered_erlangs"] = round(offered_load(cfg), 6)
    out["unstable"] = unstable(cfg)
    erl = analytic(cfg)
    out["erlang"] = None
    if erl is not None:
        out["erlang"] = {
            k: (_round(v) if isinstance(v, float) else v) for k, v in erl.as_dict().items()
        }
    out["inputs"] = {
        "queues": [
            {
                "name": name,
                "calls_per_hour": [round(rate, 6) for _, rate in q.arrivals.intervals],
                "aht": q.aht,
                "handle": q.handle_time.distribution,
                "aht_sd": q.handle_time.sd or 0.0,
                "patience": q.mean_patience,
                "interval_seconds": None
                if q.arrivals.steady
                else [seconds for seconds, _ in q.arrivals.intervals],
                "end": None if q.arrivals.steady else q.arrivals.end,
            }
            for name, q in zip(cfg.queue_names, cfg.queues, strict=True)
        ],
        "agents": cfg.agents,
        "wrapup": cfg.wrapup,
        "calls_per_replication": cfg.calls,
        "warmup_calls": cfg.warmup_calls if cfg.calls is not None else None,
        "horizon": cfg.horizon,
        "warmup_seconds": cfg.warmup_seconds if cfg.horizon is not None else None,
        "interval": cfg.interval,
    }
    out["queues"] = {
        name: {k: e.as_json() for k, e in kpis.items()} for name, kpis in exp.queue_kpis().items()
    }
    out["intervals"] = [
        {
            k: (round(v, 3) if isinstance(v, float) else _round(v.mean))
            for k, v in iv.items()  # type: ignore[union-attr]
        }
        for iv in exp.intervals()
    ]
    if search is not None:
        out["search"] = {
            "target_sl": search.target_sl,
            "agents": search.agents,
            "erlang_agents": search.analytic_agents,
            "undecided": search.undecided,
            "tried": [
                {
                    "agents": n,
                    "replications": len(e.runs),
                    "service_level": e.kpis["service_level"].as_json(),
                }
                for n, e in sorted(search.tried.items())
            ],
        }
    return out


def _fmt(key: str, x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if key in ("asa", "mean_wait", "queue_length"):
        return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"
    return f"{x:.4f}"


def result_table(exp: Experiment, search: Search | None, wall: float) -> str:
    cfg = exp.config
    lines = []
    for name, q in zip(cfg.queue_names, cfg.queues, strict=True):
        rates = [rate for _, rate in q.arrivals.intervals]
        handle = f"AHT {q.aht:g} s" + (
            f" (lognormal, sd {q.handle_time.sd:g} s)"
            if q.handle_time.distribution == "lognormal"
            else ""
        )
        patience = q.mean_patience
        waits = "no abandonment" if patience is None else f"patience {patience:g} s"
        arrivals = f"{rates[0]:g} calls/h" if len(rates) == 1 else f"{len(rates)} interval rates"
        lines.append(f"queue {name}: {arrivals}, {handle}, {waits}")
    wrap = f", wrap-up {cfg.wrapup:g} s" if cfg.wrapup else ""
    lines.append(
        f"{cfg.agents} agents{wrap}; service level = answered within {cfg.sl_seconds:g} s / offered"
    )
    if cfg.calls is not None:
        window = f"{cfg.calls:,} calls after {cfg.warmup_calls:,} warm-up calls"
    else:
        window = f"{cfg.horizon:g} s after {cfg.warmup_seconds:g} s of warm-up"
    total = (
        exp.calls_simulated
        if search is None
        else sum(e.calls_simulated for e in search.tried.values())
    )
    lines.append(
        f"{len(exp.runs)} replications x {window} (seed {exp.seed}): "
        f"{total:,} calls simulated in {wall:.2f} s"
    )
    if search is not None:
        tried = ", ".join(
            f"{n}: {e.kpis['service_level'].mean:.4f}" for n, e in sorted(search.tried.items())
        )
        lines.append(
            f"staffing search for {search.target_sl:.0%} in {cfg.sl_seconds:g} s: "
            f"Erlang says {search.analytic_agents}, simulation {search.agents} "
            f"(service level by agents: {tried})"
        )
        if search.undecided:
            lines.append(f"  undecided at 95 %: {search.undecided} (the mean decided)")
    erl = analytic(cfg)
    erl_name = "" if erl is None else ("Erlang A" if erl.model == "erlang_a" else "Erlang C")
    if unstable(cfg):
        lines.append(unstable_warning(cfg))
    lines.append("")
    lines.append(f"  {'':<16}{'mean':>10}   {'95% CI':<22}{erl_name:>10}")
    for key in KPIS:
        est: Estimate = exp.kpis[key]
        ci = f"[{_fmt(key, est.low)}, {_fmt(key, est.high)}]"
        ref = "" if erl is None else _fmt(key, getattr(erl, key))
        lines.append(f"  {LABELS[key]:<16}{_fmt(key, est.mean):>10}   {ci:<22}{ref:>10}")
    return "\n".join(lines)


def unstable_warning(cfg: ModelConfig) -> str:
    return (
        f"WARNING: unstable queue: {offered_load(cfg):.2f} Erlangs offered to {cfg.agents} "
        "agents and no abandonment: waits grow for as long as the run lasts, so these "
        "figures depend on its length and no Erlang figure exists. Add agents (more than "
        "the offered load) or a patience."
    )


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        config = config_from_args(args)
    except UsageError as exc:
        parser.error(str(exc))
    search: Search | None = None
    if args.search_agents:

        def progress(n: int, exp: Experiment) -> None:
            if not args.json:
                sl = exp.kpis["service_level"]
                print(
                    f"  {n} agents: service level {sl.mean:.4f} [{sl.low:.4f}, {sl.high:.4f}]"
                    f" ({len(exp.runs)} replications)",
                    file=sys.stderr,
                )

        search = search_agents(
            config, args.target_sl, args.replications, args.seed, args.jobs, progress
        )
        exp = search.best
        tried = search.tried
    else:
        exp = run_experiment(config, args.replications, args.seed, args.jobs)
        tried = {config.agents: exp}
    wall = time.perf_counter() - started
    if args.chart and search is None:
        # the service-level panel: the same callers (seeds) met by N - 2 .. N + 2 agents
        for n in range(max(1, config.agents - 2), config.agents + 3):
            if n not in tried:
                tried[n] = run_experiment(
                    replace(config, agents=n), args.replications, args.seed, args.jobs
                )
    if args.chart:
        from scenarios.model.chart import write_chart

        what = f"profile {args.profile}" if args.profile else exp.config.queue_names[0]
        title = f"{what}: {exp.calls_measured:,} measured calls"
        write_chart(args.chart, exp, tried, args.target_sl if search else None, title)
    if args.json:
        if unstable(exp.config):
            print(unstable_warning(exp.config), file=sys.stderr)
        print(json.dumps(result_json(exp, search, wall)))
    else:
        print(result_table(exp, search, wall))
        if args.chart:
            print(f"\nchart: {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
