"""The offline model against Erlang C / Erlang A: the smaller check CI runs.

Every reference case of docs/traffic.md (A = 10 with 11..15 agents; A = 48 with 54 and 55;
Erlang A, patience 120 s, 11 and 14 agents): the model's 95 % confidence intervals must
contain the analytic P(wait), service level, ASA (and P(abandon)); the means must be within
looser tolerances than the full check's (`scenarios.model.check.QUICK`). The full check is one
command: `python -m scenarios.model.check --full` (0.01 on P(wait) and service level, 5 % on
ASA).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from scenarios.model.check import CASES, QUICK, check_case
from scenarios.model.experiment import run_experiment, run_kpis

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_model_matches_erlang(case):
    outcome = check_case(case, QUICK, seed=1)
    assert not outcome.failures, outcome.failures
    assert outcome.exp.calls_measured == QUICK.replications * QUICK.calls


def _kpis(exp):
    return [run_kpis(run) for run in exp.runs]


def test_same_seed_same_result_in_one_process_or_several():
    config = CASES[8].config(calls=5_000, warmup_calls=500)  # Erlang A, 14 agents
    one = run_experiment(config, replications=4, seed=7, jobs=1)
    again = run_experiment(config, replications=4, seed=7, jobs=2)
    assert _kpis(one) == _kpis(again)
    assert [r.calls_simulated for r in one.runs] == [r.calls_simulated for r in again.runs]
    other = run_experiment(config, replications=4, seed=8, jobs=1)
    assert _kpis(other) != _kpis(one)
    # the replications are independent: no two alike
    assert len({r["service_level"] for r in _kpis(one)}) == 4


def test_common_random_numbers_keep_service_level_monotone_in_agents():
    base = CASES[0].config(calls=5_000, warmup_calls=500)
    sls = [
        run_experiment(replace(base, agents=n), 3, seed=1, jobs=1).kpis["service_level"].mean
        for n in range(11, 16)
    ]
    assert sls == sorted(sls)


def test_the_command_line_contract():
    cmd = [
        sys.executable,
        "-m",
        "mobagent.cli",
        "model",
        "--calls-per-hour",
        "200",
        "--aht",
        "180",
        "--agents",
        "14",
        "--sl-seconds",
        "20",
        "--patience",
        "120",
        "--calls",
        "20000",
        "--replications",
        "4",
        "--seed",
        "1",
        "--json",
    ]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(first.stdout)
    for key in ("p_wait", "service_level", "asa", "abandon_rate", "occupancy"):
        low, high = out[key]["ci95"]
        assert low <= out[key]["mean"] <= high, key
    assert out["calls_simulated"] >= 20_000 and out["wall_seconds"] > 0
    assert out["erlang"]["model"] == "erlang_a"
    assert out["erlang"]["p_wait"] == pytest.approx(0.126976, abs=1e-6)
    second = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    again = json.loads(second.stdout)
    out.pop("wall_seconds"), again.pop("wall_seconds")
    assert out == again  # seeded: same seed, same result
