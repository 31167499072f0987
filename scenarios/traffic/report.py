"""After a live run: the live KPIs beside the offline model's prediction for the same traffic.

    python -m scenarios.traffic.report --sim http://127.0.0.1:8445 [--agents N] [--json]

Reads `GET /sim/v1/traffic` (the counters of `mobagent sim --traffic PROFILE`) and the
profile it names, and puts offered, answered, abandoned, service level, ASA and abandon
rate beside a prediction for the same traffic and staffing:

* the rate is the profile's mean rate over the window the run covered (a 60 s demo of
  `busy_monday` sees only its first intervals), the handle time the profile's mean (plus
  `--wrap-up`, the agents' after-call work, if given), the patience the profile's mean;
* the prediction comes from the offline model, `mobagent model`, when it is installed
  (a simulation, with 95 % confidence intervals); otherwise from Erlang C (no patience) or
  Erlang A (exponential patience): `scenarios.queueing.erlang` when present, else this
  module's own small implementation. The output says which one was used.

A live run is short, its rate varies and its agents are people (simulated ones): read the
comparison as "same order", not as a test. Staffing: `--agents`, else the agents logged in
to the profile's queues now.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import aiohttp

from finesse_sim.traffic import ProfileError, TrafficProfile, load_profile

KPIS = ("offered", "answered", "abandoned", "service_level", "asa", "abandon_rate")
MODEL_CALLS = 50_000
MODEL_REPLICATIONS = 5


class ReportError(Exception):
    pass


# -- reading the simulator --------------------------------------------------------------------


def control_url(sim: str) -> str:
    """The control API's base from `http://host:port`, `.../sim/v1` or `.../finesse/api`."""
    base = sim.rstrip("/")
    for suffix in ("/sim/v1", "/finesse/api"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base + "/sim/v1"


async def fetch(sim: str, http: aiohttp.ClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
    """(`GET /sim/v1/traffic`, `GET /sim/v1/queues`)."""
    base = control_url(sim)
    out = []
    for path in ("/traffic", "/queues"):
        try:
            async with http.get(base + path) as res:
                body = await res.json(content_type=None)
                if res.status != 200:
                    message = (body or {}).get("error", {}).get("message", res.reason)
                    raise ReportError(f"GET {base}{path}: {res.status} {message}")
                out.append(body)
        except aiohttp.ClientError as exc:
            raise ReportError(f"GET {base}{path}: {exc}") from exc
    return out[0], out[1]


def logged_in_agents(queues: dict[str, Any], dns: list[str]) -> int:
    """Agents signed in (any state but LOGOUT) to the given queues now."""
    total = 0
    for queue in queues.get("queues", []):
        if queue.get("dn") in dns:
            states = queue.get("agentsByState", {})
            total += sum(n for state, n in states.items() if state != "LOGOUT")
    return total


def profile_of(snapshot: dict[str, Any]) -> TrafficProfile:
    source = snapshot.get("source")
    try:
        if source and Path(source).is_file():
            return load_profile(source).with_seed(snapshot.get("seed", 1))
        return load_profile(snapshot["profile"]).with_seed(snapshot.get("seed", 1))
    except ProfileError as exc:
        raise ReportError(f"cannot read the run's profile: {exc}") from exc


# -- the traffic a prediction is made for --------------------------------------------------------


def model_inputs(
    profile: TrafficProfile, elapsed: float, agents: int, wrap_up: float = 0.0
) -> dict[str, Any]:
    """Stationary inputs for the window [0, elapsed) of the profile, over all its queues
    (rate-weighted handle time and patience)."""
    rates, ahts, patiences = [], [], []
    for q in profile.queues.values():
        if elapsed > 0:
            rates.append(q.expected_calls(0.0, elapsed) * 3600.0 / elapsed)
        else:
            rates.append(q.calls_per_hour)
        ahts.append(q.aht)
        patiences.append(q.mean_patience)
    calls_per_hour = sum(rates)
    weights = [r / calls_per_hour if calls_per_hour > 0 else 1 / len(rates) for r in rates]
    aht = sum(w * a for w, a in zip(weights, ahts, strict=True)) + wrap_up
    with_patience = [(w, p) for w, p in zip(weights, patiences, strict=True) if p is not None]
    patience = None
    if with_patience:
        patience = sum(w * p for w, p in with_patience) / sum(w for w, _ in with_patience)
    return {
        "calls_per_hour": calls_per_hour,
        "aht": aht,
        "patience": patience,
        "agents": agents,
        "sl_seconds": profile.sl_seconds,
        "window_seconds": elapsed,
    }


# -- predictions --------------------------------------------------------------------------------


def predict_with_model(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """`mobagent model` in this process (imported lazily); None when it is not installed."""
    try:
        from mobagent.cli import SUBCOMMANDS
    except ImportError:
        return None
    if "model" not in SUBCOMMANDS:
        return None
    module = importlib.import_module(SUBCOMMANDS["model"][0])
    argv = [
        "--calls-per-hour",
        f"{inputs['calls_per_hour']:.6g}",
        "--aht",
        f"{inputs['aht']:.6g}",
        "--agents",
        str(inputs["agents"]),
        "--sl-seconds",
        f"{inputs['sl_seconds']:g}",
        "--calls",
        str(MODEL_CALLS),
        "--replications",
        str(MODEL_REPLICATIONS),
        "--seed",
        "1",
        "--json",
    ]
    if inputs["patience"] is not None:
        argv += ["--patience", f"{inputs['patience']:.6g}"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = module.main(argv)
    if status:
        raise ReportError(f"mobagent model failed ({status}): {err.getvalue().strip()[-300:]}")
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise ReportError("mobagent model printed no JSON")
    result = json.loads(lines[-1])
    figures = {
        k: {"value": result[k]["mean"], "ci95": result[k].get("ci95")}
        for k in ("service_level", "asa", "abandon_rate", "p_wait", "occupancy")
        if isinstance(result.get(k), dict)
    }
    return {"source": "mobagent model (simulation, 95 % CI)", "figures": figures}


def predict_analytic(inputs: dict[str, Any]) -> dict[str, Any]:
    """Erlang C or A: the project's `scenarios.queueing.erlang` if present, else ours."""
    lam = inputs["calls_per_hour"] / 3600.0
    args = (lam, inputs["aht"], inputs["agents"], inputs["sl_seconds"], inputs["patience"])
    kind = "Erlang A (M/M/N+M)" if inputs["patience"] is not None else "Erlang C (M/M/N)"
    try:
        erlang = importlib.import_module("scenarios.queueing.erlang")
        found = erlang.metrics(*args)
        result = dataclasses.asdict(found) if dataclasses.is_dataclass(found) else dict(found)
        source = f"{kind}, scenarios.queueing.erlang"
    except (ImportError, AttributeError, TypeError):
        result = erlang_fallback(*args)
        source = f"{kind}, the report's own fallback (the offline model is not installed)"
    figures = {
        k: {"value": result[k], "ci95": None}
        for k in ("service_level", "asa", "abandon_rate", "p_wait", "occupancy")
        if k in result
    }
    return {"source": source, "figures": figures}


def predict(inputs: dict[str, Any], *, use_model: bool = True) -> dict[str, Any]:
    notes = []
    if inputs["agents"] < 1:
        raise ReportError("no agents: give --agents N (nobody is logged in to the queue now)")
    if inputs["calls_per_hour"] <= 0:
        raise ReportError("the profile offers no calls in the run's window")
    load = inputs["calls_per_hour"] / 3600.0 * inputs["aht"]
    if inputs["patience"] is None and load >= inputs["agents"]:
        return {
            "source": "none",
            "figures": {},
            "notes": [
                f"offered load {load:.1f} Erlangs >= {inputs['agents']} agents and nobody "
                "abandons: the queue grows without bound, there is no steady state to predict"
            ],
        }
    prediction = None
    if use_model:
        try:
            prediction = predict_with_model(inputs)
        except ReportError as exc:
            notes.append(f"{exc}; using Erlang instead")
        if prediction is None and not notes:
            notes.append("the offline model (mobagent model) is not installed; using Erlang")
    if prediction is None:
        prediction = predict_analytic(inputs)
    prediction["notes"] = notes
    prediction["offered_load"] = load
    return prediction


def erlang_fallback(
    arrival_rate: float, aht: float, agents: int, sl_seconds: float, patience: float | None
) -> dict[str, float]:
    """Erlang C, or Erlang A solved as its birth-death chain (see `scenarios.queueing`).

    Service level = answered within T / offered; ASA = mean wait of answered calls.
    """
    lam, mu, n = arrival_rate, 1.0 / aht, agents
    load = lam * aht
    b = 1.0  # Erlang B by its recursion, stable for any N
    for i in range(1, n + 1):
        b = load * b / (i + load * b)
    b = max(b, 1e-300)
    if patience is None:
        c = n * b / (n - load * (1.0 - b))
        drain = n * mu - lam
        return {
            "p_wait": c,
            "service_level": 1.0 - c * math.exp(-drain * sl_seconds),
            "asa": c / drain,
            "abandon_rate": 0.0,
            "occupancy": load / n,
        }
    theta = 1.0 / patience
    # log weights of the states N + k relative to pi_N, until the rest is negligible; the
    # states 0..N weigh 1/B together. Normalized by their largest (heavy overload overflows).
    logs, log_w, log_sum, k = [0.0], 0.0, math.log(1.0 / b), 0
    log_sum = _log_add(log_sum, 0.0)
    while True:
        k += 1
        ratio = lam / (n * mu + k * theta)
        log_w += math.log(ratio)
        if ratio < 1 and log_w - math.log1p(-ratio) < math.log(1e-13) + log_sum:
            break
        if k > 2_000_000:
            raise ValueError("Erlang A: the queue is too long to sum (patience too long)")
        logs.append(log_w)
        log_sum = _log_add(log_sum, log_w)
    top = max(logs)
    weights = [math.exp(x - top) for x in logs]  # pi_{N+k} / (pi_N e^top)
    tail = sum(weights)
    head = math.exp(-top) / b  # the states 0..N, same scale
    total = head + tail - math.exp(-top)  # state N is in both
    p_wait = tail / total
    # a call finding k ahead is answered w.p. prod r_j/(r_j+theta), r_j = N mu + j theta,
    # after E[V; answered] = that * sum 1/(r_j+theta); within T: g_k(T) below
    served, served_wait, p, inv = 0.0, 0.0, 1.0, 0.0
    for k, w in enumerate(weights):
        r = n * mu + k * theta
        p *= r / (r + theta)
        inv += 1.0 / (r + theta)
        served += w * p
        served_wait += w * p * inv
    within = _answered_within(weights, n * mu, theta, sl_seconds)
    p_answered = 1.0 - p_wait + served / total
    busy = (load * (head - math.exp(-top)) + n * (tail - math.exp(-top))) / total
    return {
        "p_wait": p_wait,
        "service_level": 1.0 - p_wait + within / total,
        "asa": (served_wait / total) / p_answered,
        "abandon_rate": 1.0 - p_answered,
        "occupancy": busy / n,
    }


def _log_add(a: float, b: float) -> float:
    """log(e^a + e^b) without overflow."""
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _answered_within(weights: list[float], n_mu: float, theta: float, t: float) -> float:
    """sum_k weights[k] P(answered within t | k ahead), by uniformizing the queue position:
    from k ahead the call moves up at N mu + k theta (an agent frees, or one ahead abandons),
    leaves at theta (its own patience); from 0 ahead the next free agent answers it."""
    # A call k ahead needs k + 1 jumps: positions beyond the jumps that fit in t add nothing,
    # and a smaller chain needs a smaller uniformization rate.
    size = len(weights)
    for _ in range(3):
        top = n_mu + size * theta + theta  # >= every total rate out of a position kept
        mean = top * t
        jumps = int(mean + 12.0 * math.sqrt(mean) + 30.0)
        size = min(size, jumps)
    weights = weights[:size]
    down = [(n_mu + k * theta) / top for k in range(size)]
    stay = [1.0 - d - theta / top for d in down]
    h = [0.0] * size  # P(answered within m jumps | k ahead)
    answered = 0.0
    for m in range(jumps):
        if mean > 0:
            poisson = math.exp(-mean + m * math.log(mean) - math.lgamma(m + 1))
        else:
            poisson = 1.0 if m == 0 else 0.0
        answered += poisson * sum(w * x for w, x in zip(weights, h, strict=True))
        h = [down[0] + stay[0] * h[0]] + [
            down[k] * h[k - 1] + stay[k] * h[k] for k in range(1, size)
        ]
    return answered


# -- the report ---------------------------------------------------------------------------------


def live_kpis(snapshot: dict[str, Any]) -> dict[str, Any]:
    t = snapshot["totals"]
    return {
        "offered": t["offered"],
        "answered": t["answered"],
        "abandoned": t["abandoned"],
        "waiting": t["waiting"],
        "service_level": t["serviceLevel"],
        "asa": t["asa"],
        "abandon_rate": t["abandonRate"],
    }


def build_report(
    snapshot: dict[str, Any],
    agents: int,
    *,
    profile: TrafficProfile | None = None,
    wrap_up: float = 0.0,
    use_model: bool = True,
) -> dict[str, Any]:
    profile = profile or profile_of(snapshot)
    elapsed = float(snapshot.get("elapsed", 0.0))
    inputs = model_inputs(profile, elapsed, agents, wrap_up)
    prediction = predict(inputs, use_model=use_model)
    figures = prediction["figures"]
    expected = {"offered": inputs["calls_per_hour"] / 3600.0 * elapsed}
    if "abandon_rate" in figures:
        ab = figures["abandon_rate"]["value"]
        expected["answered"] = expected["offered"] * (1.0 - ab)
        expected["abandoned"] = expected["offered"] * ab
    predicted = {
        **{k: {"value": v, "ci95": None} for k, v in expected.items()},
        **{k: figures[k] for k in ("service_level", "asa", "abandon_rate") if k in figures},
    }
    return {
        "profile": snapshot["profile"],
        "elapsed": elapsed,
        "agents": agents,
        "slSeconds": snapshot.get("slSeconds", profile.sl_seconds),
        "inputs": inputs,
        "live": live_kpis(snapshot),
        "predicted": predicted,
        "prediction": {
            "source": prediction["source"],
            "offeredLoad": prediction.get("offered_load"),
            "pWait": figures.get("p_wait", {}).get("value"),
            "occupancy": figures.get("occupancy", {}).get("value"),
            "notes": prediction.get("notes", []),
        },
    }


async def collect(
    sim: str,
    agents: int | None = None,
    *,
    wrap_up: float = 0.0,
    use_model: bool = True,
    http: aiohttp.ClientSession | None = None,
) -> dict[str, Any]:
    """Fetch the live counters and build the report (the prediction runs in a thread)."""
    own = http is None
    session = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        snapshot, queues = await fetch(sim, session)
    finally:
        if own:
            await session.close()
    profile = profile_of(snapshot)
    staff = agents if agents is not None else logged_in_agents(queues, list(profile.queues))
    return await asyncio.to_thread(
        build_report, snapshot, staff, profile=profile, wrap_up=wrap_up, use_model=use_model
    )


def _fmt(key: str, value: float | None, ci: list[float] | None = None) -> str:
    if value is None:
        return "-"
    if key in ("service_level", "abandon_rate"):
        text = f"{value * 100:.1f} %"
        if ci:
            text += f" [{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"
        return text
    if key == "asa":
        text = f"{value:.1f} s"
        if ci:
            text += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
        return text
    return f"{value:.0f}" if isinstance(value, int) else f"{value:.1f}"


def render(report: dict[str, Any]) -> str:
    inputs = report["inputs"]
    patience = inputs["patience"]
    lines = [
        f"Live traffic '{report['profile']}': {report['elapsed'] / 60:.1f} model minutes, "
        f"{report['agents']} agents",
        f"  traffic over that window: {inputs['calls_per_hour']:.1f} calls/h, "
        f"handle time {inputs['aht']:.0f} s, "
        + (f"patience {patience:.0f} s" if patience is not None else "no abandonment"),
        "",
        f"  {'':<26}{'live':>12}   predicted",
    ]
    names = {
        "offered": "offered",
        "answered": "answered",
        "abandoned": "abandoned",
        "service_level": f"service level ({report['slSeconds']:g} s)",
        "asa": "ASA",
        "abandon_rate": "abandon rate",
    }
    for key in KPIS:
        live = report["live"].get(key)
        pred = report["predicted"].get(key) or {}
        lines.append(
            f"  {names[key]:<26}{_fmt(key, live):>12}   "
            f"{_fmt(key, pred.get('value'), pred.get('ci95'))}"
        )
    if report["live"].get("waiting"):
        lines.append(f"  (still waiting at the end: {report['live']['waiting']})")
    p = report["prediction"]
    lines += ["", f"  prediction: {p['source']}"]
    if p.get("offeredLoad") is not None:
        lines[-1] += f"; offered load {p['offeredLoad']:.2f} Erlangs"
    lines += [f"  note: {note}" for note in p["notes"]]
    lines.append(
        "  the live run is short and its rate varies: read it as the same order, not a test"
    )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scenarios.traffic.report",
        description="Live traffic KPIs beside the offline model's prediction.",
    )
    p.add_argument("--sim", required=True, help="the simulator, e.g. http://127.0.0.1:8445")
    p.add_argument("--agents", type=int, default=None, help="staffing (default: logged in now)")
    p.add_argument(
        "--wrap-up", type=float, default=0.0, help="seconds of after-call work added to the AHT"
    )
    p.add_argument("--no-model", action="store_true", help="Erlang only, no simulation")
    p.add_argument("--json", action="store_true", help="one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.agents is not None and args.agents < 1:
        print("report: --agents must be >= 1", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(
            collect(args.sim, args.agents, wrap_up=args.wrap_up, use_model=not args.no_model)
        )
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
