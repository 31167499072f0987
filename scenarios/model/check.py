"""The offline model against queueing theory: Erlang C and Erlang A, the reference cases of
docs/traffic.md.

    python -m scenarios.model.check --full     # the documented full check (~1.5 min, 2 cores)
    python -m scenarios.model.check            # the smaller one CI runs (a few seconds)
    python -m scenarios.model.check --json

For every case: the model's 95 % confidence intervals (Student t over independent
replications, after a warm-up cut) must contain the analytic P(wait), service level, ASA and,
with abandonment, P(abandon); and the means must be within the tolerances (full: 0.01 on
P(wait) and service level, 5 % on ASA, 0.005 on P(abandon); the smaller check is looser).
Exit status 1 when a case fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass

from scenarios.model.engine import ModelConfig
from scenarios.model.experiment import Experiment, analytic, run_experiment
from scenarios.model.inputs import steady_queue
from scenarios.queueing.erlang import ErlangResult


@dataclass(frozen=True)
class Case:
    name: str
    calls_per_30min: float
    aht: float
    agents: int
    patience: float | None = None
    sl_seconds: float = 20.0

    def config(self, calls: int, warmup_calls: int) -> ModelConfig:
        queue = steady_queue(
            self.calls_per_30min * 2, self.aht, patience=self.patience, name="check"
        )
        return ModelConfig(
            queues=(queue,),
            agents=self.agents,
            sl_seconds=self.sl_seconds,
            calls=calls,
            warmup_calls=warmup_calls,
        )


# docs/traffic.md, "Reference values"
CASES = (
    *(Case(f"C A=10 N={n}", 100, 180, n) for n in range(11, 16)),
    Case("C A=48 N=54", 360, 240, 54),
    Case("C A=48 N=55", 360, 240, 55),
    Case("A A=10 N=11 patience 120", 100, 180, 11, patience=120),
    Case("A A=10 N=14 patience 120", 100, 180, 14, patience=120),
)


@dataclass(frozen=True)
class Plan:
    """How much to simulate per case, and how close the means must be."""

    replications: int
    calls: int  # measured per replication
    warmup_calls: int
    tol_p_wait: float
    tol_sl: float
    tol_asa: float  # relative
    tol_abandon: float


FULL = Plan(
    replications=20,
    calls=200_000,
    warmup_calls=20_000,
    tol_p_wait=0.01,
    tol_sl=0.01,
    tol_asa=0.05,
    tol_abandon=0.005,
)
QUICK = Plan(
    replications=10,
    calls=30_000,
    warmup_calls=3_000,
    tol_p_wait=0.03,
    tol_sl=0.03,
    tol_asa=0.20,
    tol_abandon=0.01,
)

CHECKED = ("p_wait", "service_level", "asa", "abandon_rate")


@dataclass
class Outcome:
    case: Case
    erlang: ErlangResult
    exp: Experiment
    failures: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "case": self.case.name,
            "agents": self.case.agents,
            "ok": not self.failures,
            "failures": self.failures,
            "replications": len(self.exp.runs),
            "calls_simulated": self.exp.calls_simulated,
            "wall_seconds": round(self.exp.wall_seconds, 3),
            **{
                key: {**self.exp.kpis[key].as_json(), "erlang": round(getattr(self.erlang, key), 6)}
                for key in CHECKED
            },
        }


def check_case(case: Case, plan: Plan, seed: int = 1, jobs: int | None = None) -> Outcome:
    config = case.config(plan.calls, plan.warmup_calls)
    erl = analytic(config)
    assert erl is not None
    exp = run_experiment(config, plan.replications, seed, jobs)
    failures = []
    keys = CHECKED if case.patience is not None else CHECKED[:3]
    for key in keys:
        est, ref = exp.kpis[key], getattr(erl, key)
        if not est.contains(ref):
            failures.append(f"{key}: 95% CI [{est.low:.5g}, {est.high:.5g}] misses {ref:.5g}")
    tolerances = {
        "p_wait": plan.tol_p_wait,
        "service_level": plan.tol_sl,
        "asa": plan.tol_asa * erl.asa,
        "abandon_rate": plan.tol_abandon,
    }
    for key in keys:
        mean, ref = exp.kpis[key].mean, getattr(erl, key)
        if abs(mean - ref) > tolerances[key]:
            failures.append(
                f"{key}: mean {mean:.5g} is off {ref:.5g} by more than {tolerances[key]:.3g}"
            )
    return Outcome(case, erl, exp, failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scenarios.model.check", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the full check (default: smaller)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    plan = FULL if args.full else QUICK
    started = time.perf_counter()
    outcomes = []
    for case in CASES:
        outcome = check_case(case, plan, args.seed, args.jobs)
        outcomes.append(outcome)
        if not args.json:
            print(_row(outcome), flush=True)
    wall = time.perf_counter() - started
    ok = all(not o.failures for o in outcomes)
    if args.json:
        print(
            json.dumps(
                {
                    "plan": "full" if args.full else "quick",
                    "replications": plan.replications,
                    "calls_per_replication": plan.calls,
                    "warmup_calls": plan.warmup_calls,
                    "seed": args.seed,
                    "ok": ok,
                    "wall_seconds": round(wall, 1),
                    "cases": [o.as_json() for o in outcomes],
                }
            )
        )
    else:
        calls = sum(o.exp.calls_simulated for o in outcomes)
        print(
            f"{'all cases pass' if ok else 'FAILED'}: {len(outcomes)} cases, "
            f"{calls:,} calls in {wall:.1f} s"
        )
    return 0 if ok else 1


def _row(o: Outcome) -> str:
    k = o.exp.kpis
    parts = [f"{o.case.name:<26}"]
    for key, fmt in (("p_wait", ".4f"), ("service_level", ".4f"), ("asa", ".2f")):
        parts.append(
            f"{key} {k[key].mean:{fmt}} [{k[key].low:{fmt}}, {k[key].high:{fmt}}] "
            f"vs {getattr(o.erlang, key):{fmt}}"
        )
    if o.case.patience is not None:
        key = "abandon_rate"
        parts.append(
            f"abandon {k[key].mean:.4f} [{k[key].low:.4f}, {k[key].high:.4f}] "
            f"vs {o.erlang.abandon_rate:.4f}"
        )
    status = "ok" if not o.failures else "FAIL: " + "; ".join(o.failures)
    return " | ".join(parts) + " | " + status


if __name__ == "__main__":
    sys.exit(main())
