"""The live-traffic report: its prediction inputs, the offline model's and Erlang's."""

from __future__ import annotations

import pytest

from finesse_sim.traffic import SHIPPED_PROFILES
from scenarios.traffic import report

# the reference values of docs/traffic.md: (arrivals per second, AHT, agents, patience) -> figures
ERLANG = [
    ((100 / 1800, 180, 11, None), {"p_wait": 0.6821, "asa": 122.8}),
    ((100 / 1800, 180, 14, None), {"p_wait": 0.1741, "service_level": 0.8884, "asa": 7.84}),
    ((360 / 1800, 240, 55, None), {"p_wait": 0.2387, "service_level": 0.8668, "asa": 8.18}),
    ((100 / 1800, 180, 11, 120.0), {"p_wait": 0.3828, "abandon_rate": 0.0942}),
    ((100 / 1800, 180, 14, 120.0), {"p_wait": 0.1270, "abandon_rate": 0.0228}),
]


def erlang_inputs(rate: float, aht: float, agents: int, patience: float | None) -> dict:
    return {
        "calls_per_hour": rate * 3600.0,
        "aht": aht,
        "wrap_up": 0.0,
        "agents": agents,
        "sl_seconds": 20.0,
        "patience": patience,
    }


@pytest.mark.parametrize(("args", "expected"), ERLANG)
def test_the_erlang_prediction_matches_the_reference_values(args, expected):
    prediction = report.predict_analytic(erlang_inputs(*args))
    assert prediction["source"].endswith("scenarios.queueing.erlang")
    for key, value in expected.items():
        got = prediction["figures"][key]["value"]
        assert got == pytest.approx(value, abs=0.0001 if key != "asa" else 0.05)


def test_the_erlang_prediction_survives_heavy_overload():
    figures = report.predict_analytic(erlang_inputs(0.5, 180, 5, 3600.0))["figures"]
    assert figures["p_wait"]["value"] == pytest.approx(1.0)
    assert 0.9 < figures["abandon_rate"]["value"] < 1.0
    assert figures["service_level"]["value"] == pytest.approx(0.0, abs=1e-6)


def test_wrap_up_keeps_erlangs_agents_busy_longer():
    plain = report.predict_analytic(erlang_inputs(100 / 1800, 180, 14, None))["figures"]
    wrapped = report.predict_analytic({**erlang_inputs(100 / 1800, 170, 14, None), "wrap_up": 10})
    assert wrapped["figures"]["p_wait"]["value"] == pytest.approx(plain["p_wait"]["value"])


def snapshot(**changes) -> dict:
    queue = {
        "dn": "8000",
        "expectedOffered": 100.0,
        "meanCallsPerHour": 150.0,
        "aht": 180.0,
        "handleDistribution": "exponential",
        "handleSd": None,
        "meanPatience": 120.0,
    }
    totals = {
        "offered": 98,
        "answered": 80,
        "abandoned": 12,
        "waiting": 6,
        "serviceLevel": 0.7,
        "asa": 11.0,
        "abandonRate": 0.13,
    }
    body = {
        "profile": "test",
        "source": None,
        "elapsed": 1800.0,
        "slSeconds": 20.0,
        "queues": [queue],
        "totals": totals,
    }
    body.update(changes)
    return body


def test_inputs_are_the_run_window_of_the_profile():
    inputs = report.model_inputs(snapshot(), agents=6, wrap_up=10)
    assert inputs["calls_per_hour"] == pytest.approx(200)  # 100 calls expected in 30 min
    assert (inputs["aht"], inputs["patience"], inputs["wrap_up"]) == (180, 120, 10)
    assert inputs["profile_file"] is None and inputs["sl_seconds"] == 20


def test_control_url_takes_any_base():
    for url in ("http://h:1", "http://h:1/", "http://h:1/sim/v1", "http://h:1/finesse/api"):
        assert report.control_url(url) == "http://h:1/sim/v1"


def test_erlang_prediction_without_the_model():
    result = report.build_report(snapshot(), 6, use_model=False)
    assert result["live"]["offered"] == 98
    predicted = result["predicted"]
    assert predicted["offered"]["value"] == pytest.approx(100)
    answered, abandoned = predicted["answered"]["value"], predicted["abandoned"]["value"]
    assert answered + abandoned == pytest.approx(100)
    assert "Erlang A" in result["prediction"]["source"]
    text = report.render(result)
    assert "service level (20 s)" in text and "Erlang A" in text


def test_no_steady_state_without_patience_when_overloaded():
    queue = {**snapshot()["queues"][0], "meanPatience": None}
    result = report.build_report(snapshot(queues=[queue]), 2, use_model=False)
    assert result["prediction"]["source"] == "none"
    assert "no steady state" in result["prediction"]["notes"][0]


def test_no_agents_is_an_error():
    with pytest.raises(report.ReportError, match="--agents"):
        report.build_report(snapshot(), 0, use_model=False)


def test_the_offline_model_replays_the_profile_over_the_window():
    source = str(SHIPPED_PROFILES / "quiet_hour.toml")
    queue = {**snapshot()["queues"][0], "expectedOffered": 15.0, "meanCallsPerHour": 30.0}
    result = report.build_report(snapshot(source=source, queues=[queue]), 2)
    p = result["prediction"]
    assert p["source"].startswith("mobagent model: the profile over the run's window"), p
    assert p["model"] == {
        "profile": source,
        "horizon": 1800.0,
        "callsPerReplication": None,
        "replications": report.WINDOW_REPLICATIONS,
        "seed": 1,  # quiet_hour's
    }
    low, high = result["predicted"]["service_level"]["ci95"]
    assert 0 <= low <= result["predicted"]["service_level"]["value"] <= high <= 1


def test_without_a_profile_file_the_model_runs_the_windows_steady_traffic():
    result = report.build_report(snapshot(), 6)
    p = result["prediction"]
    assert p["source"].startswith("mobagent model: steady state"), p
    assert p["model"]["profile"] is None and p["model"]["horizon"] is None
    per_replication = report.MODEL_CALLS // report.MODEL_REPLICATIONS
    assert p["model"]["callsPerReplication"] == per_replication
    erlang = report.predict_analytic(result["inputs"])["figures"]  # 200 calls/h, 6 agents
    for key in ("service_level", "abandon_rate"):
        low, high = result["predicted"][key]["ci95"]
        assert low - 0.03 <= erlang[key]["value"] <= high + 0.03


def test_a_profile_file_that_cannot_be_read_falls_back_to_erlang(tmp_path):
    gone = tmp_path / "gone.toml"
    gone.write_text("name = ")  # not TOML (any more)
    result = report.build_report(snapshot(source=str(gone)), 6)
    p = result["prediction"]
    assert "Erlang A" in p["source"]
    assert "the offline model cannot run" in p["notes"][0] and "gone.toml" in p["notes"][0]
