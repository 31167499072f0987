"""After a live run: the live KPIs beside the offline model's prediction for the same traffic.

    python -m scenarios.traffic.report --sim http://127.0.0.1:8445 [--agents N] [--json]

Reads `GET /sim/v1/traffic` (the counters of `mobagent sim --traffic PROFILE`, which also
give each queue's expected calls for the window run, its mean handle time and patience) and
puts offered, answered, abandoned, service level, ASA and abandon rate beside a prediction
for the same traffic and staffing:

* with the offline model installed (`mobagent model`, imported lazily), the model replays
  the same profile file over the same window from an empty start (`--profile FILE
  --horizon SECONDS --warmup-seconds 0`, independent replications, 95 % confidence
  intervals); a profile the simulator did not read from a file is modelled in steady state
  at the window's mean rate;
* without it, Erlang C (no patience) or Erlang A (exponential patience) in steady state at
  the window's mean rate (a 60 s demo of `busy_monday` sees only its first intervals), the
  profile's mean handle time and patience: `scenarios.queueing.erlang` when present, else
  this module's own small implementation. The output says which one was used.
* `--wrap-up S`: the agents' after-call work per call (the model's `--wrapup`; added to the
  handle time for Erlang).

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

KPIS = ("offered", "answered", "abandoned", "service_level", "asa", "abandon_rate")
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


def _model_argv(inputs: dict[str, Any]) -> tuple[list[str], str]:
    """`mobagent model` arguments: the profile over the run's window when there is a
    profile file, else the window's stationary traffic."""
    common = ["--agents", str(inputs["agents"]), "--jobs", "1", "--json"]
    if inputs["wrap_up"]:
        common += ["--wrapup", f"{inputs['wrap_up']:g}"]
    if inputs["profile_file"] and inputs["window_seconds"] > 0:
        argv = ["--profile", inputs["profile_file"], "--horizon", f"{inputs['window_seconds']:.3f}"]
        argv += ["--warmup-seconds", "0", "--replications", str(WINDOW_REPLICATIONS)]
        what = f"the profile over the run's window, {WINDOW_REPLICATIONS} replications"
        return argv + common, what
    argv = ["--calls-per-hour", f"{inputs['calls_per_hour']:.6g}", "--aht", f"{inputs['aht']:.6g}"]
    if inputs["handle"] == "lognormal" and inputs["handle_sd"]:
        argv += ["--handle", "lognormal", "--aht-sd", f"{inputs['handle_sd']:.6g}"]
    if inputs["patience"] is not None:
        argv += ["--patience", f"{inputs['patience']:.6g}"]
    argv += ["--sl-seconds", f"{inputs['sl_seconds']:g}", "--calls", str(MODEL_CALLS)]
    argv += ["--replications", str(MODEL_REPLICATIONS), "--seed", "1"]
    return argv + common, "steady state at the window's mean rate"


def predict_with_model(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """`mobagent model` in this process (imported lazily); None when it is not installed."""
    try:
        from mobagent.cli import SUBCOMMANDS
    except ImportError:
        return None
    if "model" not in SUBCOMMANDS:
        return None
    module = importlib.import_module(SUBCOMMANDS["model"][0])
    argv, what = _model_argv(inputs)
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
        if isinstance(result.get(k), dict) and result[k].get("mean") is not None
    }
    return {"source": f"mobagent model: {what} (95 % CI)", "figures": figures, "argv": argv}


def predict_analytic(inputs: dict[str, Any]) -> dict[str, Any]:
    """Erlang C or A: the project's `scenarios.queueing.erlang` if present, else ours."""
    lam = inputs["calls_per_hour"] / 3600.0
    aht = inputs["aht"] + inputs["wrap_up"]  # after-call work keeps the agent busy too
    args = (lam, aht, inputs["agents"], inputs["sl_seconds"], inputs["patience"])
    kind = "Erlang A (M/M/N+M)" if inputs["patience"] is not None else "Erlang C (M/M/N)"
    try:
        erlang = importlib.import_module("scenarios.queueing.erlang")
        found = erlang.metrics(*args)
        result = dataclasses.asdict(found) if dataclasses.is_dataclass(found) else dict(found)
        source = f"{kind}, scenarios.queueing.erlang"
    except (ImportError, AttributeError, TypeError):
        result = erlang_fallback(*args)
        source = f"{kind}, the report's own fallback (the offline model is not installed)"
    except ValueError as exc:
        return {"source": "none", "figures": {}, "notes": [f"{kind}: {exc}"]}
    figures = {
        k: {"value": result[k], "ci95": None}
        for k in ("service_level", "asa", "abandon_rate", "p_wait", "occupancy")
        if k in result
    }
    return {"source": source, "figures": figures}


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
        except ReportError as exc:
            notes.append(f"{exc}; using Erlang instead")
        if prediction is None and not notes:
            notes.append("the offline model (mobagent model) is not installed; using Erlang")
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
            "modelArgs": prediction.get("argv"),
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
