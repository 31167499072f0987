"""After a live run: the live KPIs beside the offline model's prediction for the same traffic.

    python -m scenarios.traffic.report --sim http://127.0.0.1:8445 [--agents N] [--json]

Reads `GET /sim/v1/traffic` (the counters of `mobagent sim --traffic PROFILE`, which also
give each queue's expected calls for the window run, its mean handle time and patience) and
puts offered, answered, abandoned, service level, ASA and abandon rate beside a prediction
for the same traffic and staffing:

* the offline model (`scenarios.model`, called in this process) replays the same profile
  file over the same window from an empty start (independent replications, 95 % confidence
  intervals); a profile the simulator did not read from a file is modelled in steady state
  at the window's mean rate;
* with `--no-model` (or when the model cannot run), Erlang C (no patience) or Erlang A
  (exponential patience) in steady state at the window's mean rate (a 60 s demo of
  `busy_monday` sees only its first intervals), the profile's mean handle time and patience
  (`scenarios.queueing.erlang`). The output says which one was used.
* `--wrap-up S`: the agents' after-call work per call (the model's `--wrapup`; added to the
  handle time for Erlang).

A live run is short, its rate varies and its agents are people (simulated ones): read the
comparison as "same order", not as a test. Staffing: `--agents`, else the agents logged in
to the profile's queues now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp

from finesse_sim.traffic import load_profile
from scenarios.model.engine import ModelConfig
from scenarios.model.experiment import run_experiment
from scenarios.model.inputs import model_config, steady_queue
from scenarios.queueing import erlang

KPIS = ("offered", "answered", "abandoned", "service_level", "asa", "abandon_rate")
PREDICTED = ("service_level", "asa", "abandon_rate", "p_wait", "occupancy")
MODEL_CALLS = 50_000  # steady state: calls over all replications
MODEL_REPLICATIONS = 5
WINDOW_REPLICATIONS = 20  # a profile's window: independent replays of it


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
        except (aiohttp.ClientError, TimeoutError) as exc:
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


# -- the traffic a prediction is made for --------------------------------------------------------


def model_inputs(snapshot: dict[str, Any], agents: int, wrap_up: float = 0.0) -> dict[str, Any]:
    """What to predict for: the run's window, its profile file when the simulator read one
    (the offline model then replays the same profile over the same window), and stationary
    figures from the counters' own account of the profile: per queue the calls expected in
    the window (the integral of its rate), its mean handle time and patience; over queues,
    rate-weighted."""
    elapsed = float(snapshot.get("elapsed") or 0.0)
    queues = snapshot.get("queues", [])
    if not queues:
        raise ReportError("the traffic counters name no queue (was the traffic reset?)")
    rates = [
        q["expectedOffered"] * 3600.0 / elapsed if elapsed > 0 else q["meanCallsPerHour"]
        for q in queues
    ]
    calls_per_hour = sum(rates)
    weights = [r / calls_per_hour if calls_per_hour > 0 else 1 / len(rates) for r in rates]
    aht = sum(w * q["aht"] for w, q in zip(weights, queues, strict=True))
    with_patience = [
        (w, q["meanPatience"])
        for w, q in zip(weights, queues, strict=True)
        if q["meanPatience"] is not None
    ]
    patience = None
    if with_patience:
        total = sum(w for w, _ in with_patience)
        patience = sum(w * p for w, p in with_patience) / total if total else with_patience[0][1]
    handles = {(q.get("handleDistribution", "exponential"), q.get("handleSd")) for q in queues}
    handle, handle_sd = handles.pop() if len(handles) == 1 else ("exponential", None)
    source = snapshot.get("source")
    return {
        "calls_per_hour": calls_per_hour,
        "aht": aht,
        "handle": handle,
        "handle_sd": handle_sd if len(queues) == 1 else None,
        "patience": patience,
        "agents": agents,
        "wrap_up": wrap_up,
        "sl_seconds": float(snapshot.get("slSeconds", 20.0)),
        "window_seconds": elapsed,
        "profile_file": source if source and Path(source).is_file() else None,
    }


# -- predictions --------------------------------------------------------------------------------


def model_config_for(inputs: dict[str, Any]) -> tuple[ModelConfig, int, int, str]:
    """(configuration, replications, seed, what it is) of the offline model's prediction:
    the profile over the run's window when there is a profile file, else the window's
    stationary traffic."""
    agents, wrapup = inputs["agents"], inputs["wrap_up"]
    if inputs["profile_file"] and inputs["window_seconds"] > 0:
        profile = load_profile(inputs["profile_file"])
        config = model_config(
            profile.queues.values(),
            agents,
            sl_seconds=profile.sl_seconds,
            wrapup=wrapup,
            horizon=inputs["window_seconds"],
            warmup_seconds=0.0,
        )
        what = f"the profile over the run's window, {WINDOW_REPLICATIONS} replications"
        return config, WINDOW_REPLICATIONS, profile.seed, what
    lognormal = inputs["handle"] == "lognormal" and inputs["handle_sd"]
    queue = steady_queue(
        inputs["calls_per_hour"],
        inputs["aht"],
        handle="lognormal" if lognormal else "exponential",
        aht_sd=inputs["handle_sd"] if lognormal else None,
        patience=inputs["patience"],
    )
    config = model_config(
        [queue],
        agents,
        sl_seconds=inputs["sl_seconds"],
        wrapup=wrapup,
        calls=MODEL_CALLS // MODEL_REPLICATIONS,
    )
    return config, MODEL_REPLICATIONS, 1, "steady state at the window's mean rate"


def predict_with_model(inputs: dict[str, Any]) -> dict[str, Any]:
    """The offline model's replications, in this process (one job: the report is small)."""
    config, replications, seed, what = model_config_for(inputs)
    exp = run_experiment(config, replications, seed, jobs=1)
    figures = {}
    for key in PREDICTED:
        estimate = exp.kpis[key].as_json()
        if estimate["mean"] is not None:
            figures[key] = {"value": estimate["mean"], "ci95": estimate["ci95"]}
    model = {
        "profile": inputs["profile_file"] if config.horizon is not None else None,
        "horizon": config.horizon,
        "callsPerReplication": config.calls,
        "replications": replications,
        "seed": seed,
    }
    return {"source": f"mobagent model: {what} (95 % CI)", "figures": figures, "model": model}


def predict_analytic(inputs: dict[str, Any]) -> dict[str, Any]:
    """Erlang C (no patience) or Erlang A (exponential patience), `scenarios.queueing`."""
    lam = inputs["calls_per_hour"] / 3600.0
    aht = inputs["aht"] + inputs["wrap_up"]  # after-call work keeps the agent busy too
    kind = "Erlang A (M/M/N+M)" if inputs["patience"] is not None else "Erlang C (M/M/N)"
    try:
        result = erlang.metrics(
            lam, aht, inputs["agents"], inputs["sl_seconds"], inputs["patience"]
        )
    except ValueError as exc:
        return {"source": "none", "figures": {}, "notes": [f"{kind}: {exc}"]}
    figures = {k: {"value": getattr(result, k), "ci95": None} for k in PREDICTED}
    return {"source": f"{kind}, scenarios.queueing.erlang", "figures": figures}


def predict(inputs: dict[str, Any], *, use_model: bool = True) -> dict[str, Any]:
    notes: list[str] = []
    if inputs["agents"] < 1:
        raise ReportError("no agents: give --agents N (nobody is logged in to the queue now)")
    if inputs["calls_per_hour"] <= 0:
        raise ReportError("the profile offers no calls in the run's window")
    load = inputs["calls_per_hour"] / 3600.0 * (inputs["aht"] + inputs["wrap_up"])
    # Without patience a queue offered more than it can serve has no steady state (a
    # profile's window is a finite run from empty: the model can still replay it).
    unstable = inputs["patience"] is None and load >= inputs["agents"]
    prediction = None
    if use_model and not (unstable and not inputs["profile_file"]):
        try:
            prediction = predict_with_model(inputs)
        except ValueError as exc:  # a profile file that changed meanwhile, say
            notes.append(f"the offline model cannot run: {exc}; using Erlang instead")
    if prediction is None and unstable:
        notes.append(
            f"offered load {load:.1f} Erlangs >= {inputs['agents']} agents and nobody "
            "abandons: the queue grows without bound, there is no steady state to predict"
        )
        prediction = {"source": "none", "figures": {}}
    if prediction is None:
        prediction = predict_analytic(inputs)
    prediction["notes"] = notes + prediction.get("notes", [])
    prediction["offered_load"] = load
    return prediction


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
    snapshot: dict[str, Any], agents: int, *, wrap_up: float = 0.0, use_model: bool = True
) -> dict[str, Any]:
    elapsed = float(snapshot.get("elapsed", 0.0))
    inputs = model_inputs(snapshot, agents, wrap_up)
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
        "slSeconds": inputs["sl_seconds"],
        "inputs": inputs,
        "live": live_kpis(snapshot),
        "predicted": predicted,
        "prediction": {
            "source": prediction["source"],
            "offeredLoad": prediction.get("offered_load"),
            "pWait": figures.get("p_wait", {}).get("value"),
            "occupancy": figures.get("occupancy", {}).get("value"),
            "notes": prediction.get("notes", []),
            "model": prediction.get("model"),
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
    dns = [q["dn"] for q in snapshot.get("queues", [])]
    staff = agents if agents is not None else logged_in_agents(queues, dns)
    return await asyncio.to_thread(
        build_report, snapshot, staff, wrap_up=wrap_up, use_model=use_model
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
        f"handle time {inputs['aht']:.0f} s"
        + (f" + wrap-up {inputs['wrap_up']:g} s, " if inputs["wrap_up"] else ", ")
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
        "--wrap-up", type=float, default=0.0, help="agents' after-call work per call, seconds"
    )
    p.add_argument("--no-model", action="store_true", help="Erlang only, no simulation")
    p.add_argument("--json", action="store_true", help="one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.agents is not None and args.agents < 1:
        print("report: --agents must be >= 1", file=sys.stderr)
        return 2
    if args.wrap_up < 0:
        print("report: --wrap-up must be >= 0", file=sys.stderr)
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
