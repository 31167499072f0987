"""Traffic profiles: the shipped files, the TOML format's validation, seeded sampling."""

from __future__ import annotations

import math
import random
import statistics
import tomllib
from pathlib import Path

import pytest

import finesse_sim.traffic
from finesse_sim import cli as sim_cli
from finesse_sim.traffic import (
    SHIPPED_PROFILES,
    CallData,
    ProfileError,
    TrafficProfile,
    load_profile,
    parse_profile,
    shipped_profiles,
)

SHIPPED = ("busy_monday", "burst", "quiet_hour")
QUEUE = {"arrivals": {"calls_per_hour": 120}, "handle_time": {"mean": 180}}


def profile(**queue: object) -> TrafficProfile:
    """A one-queue profile from a dict; `queue` overrides the queue's tables."""
    base: dict[str, object] = {**QUEUE, **queue}
    return parse_profile({"name": "t", "seed": 3, "queues": {"8000": base}})


# -- shipped profiles --------------------------------------------------------------------------


def test_the_three_profiles_ship():
    assert set(SHIPPED) <= set(shipped_profiles())


def test_the_shipped_profiles_are_package_data_of_the_simulator():
    package = Path(finesse_sim.traffic.__file__).parent
    assert Path(str(SHIPPED_PROFILES)) == package / "profiles"
    assert Path(load_profile("burst").source or "") == package / "profiles" / "burst.toml"
    pyproject = tomllib.loads((package.parents[1] / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert "profiles/*.toml" in package_data["finesse_sim.traffic"]  # wheels ship them


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_load_by_name_and_by_path(name):
    by_name = load_profile(name)
    by_path = load_profile(SHIPPED_PROFILES / f"{name}.toml")
    assert by_name == by_path
    assert by_name.name == name and by_name.description
    sales = by_name.queue("8000")
    assert sales.calls_per_hour > 0 and sales.aht > 0
    assert sales.mean_patience is not None


def test_quiet_hour_is_a_constant_rate():
    sales = load_profile("quiet_hour").queue("8000")
    assert [sales.rate_at(t) for t in (0, 1800, 10 * 3600)] == [30, 30, 30]
    assert sales.calls_per_hour == 30
    assert sales.expected_calls(0, 3600) == pytest.approx(30)


def test_busy_monday_rises_then_falls():
    sales = load_profile("busy_monday").queue("8000")
    rates = [sales.rate_at(i * 900 + 1) for i in range(16)]  # 15-minute intervals
    peak = rates.index(max(rates))
    assert 0 < peak < 15
    assert rates[: peak + 1] == sorted(rates[: peak + 1])  # rising
    assert rates[peak:] == sorted(rates[peak:], reverse=True)  # falling
    assert sales.arrivals.start == "08:00"
    assert sales.handle_time.distribution == "lognormal"
    assert sales.rate_at(4 * 3600 + 1) == rates[0]  # the morning repeats
    assert sales.shares.variable == "user.disposition"


def test_burst_is_short_and_steep():
    sales = load_profile("burst").queue("8000")
    quiet, burst = sales.rate_at(60), sales.rate_at(4 * 60)
    assert burst >= 10 * quiet
    assert sales.arrivals.cycle_seconds == 15 * 60


# -- interval rates ----------------------------------------------------------------------------


def test_rates_per_interval_and_interval_pairs_are_the_same_profile():
    rates = profile(arrivals={"interval_minutes": 10, "rates": [60, 120, 0]})
    pairs = profile(arrivals={"intervals": [[10, 60], [10, 120], [10, 0]]})
    assert rates.queue("8000").arrivals == pairs.queue("8000").arrivals
    sales = rates.queue("8000")
    assert [sales.rate_at(t) for t in (0, 599, 600, 1199, 1200, 1799)] == [60, 60, 120, 120, 0, 0]
    assert sales.calls_per_hour == pytest.approx(60)  # (60 + 120 + 0) / 3
    assert sales.expected_calls(0, 1800) == pytest.approx(10 + 20)


@pytest.mark.parametrize(
    ("end", "rate_after", "calls_after"),
    [("repeat", 60, 10), ("hold", 120, 20), ("stop", 0, 0)],
)
def test_what_follows_the_last_interval(end, rate_after, calls_after):
    sales = profile(arrivals={"intervals": [[10, 60], [10, 120]], "end": end}).queue("8000")
    assert sales.rate_at(1200 + 1) == rate_after
    assert sales.expected_calls(1200, 1800) == pytest.approx(calls_after)


def test_arrivals_follow_the_interval_rates():
    sales = profile(arrivals={"intervals": [[30, 0], [30, 600]], "end": "repeat"}).queue("8000")
    rng, t, times = random.Random(5), 0.0, []
    while True:
        t = sales.next_arrival(t, rng)
        if t > 50 * 3600:
            break
        times.append(t)
    in_quiet = [x for x in times if (x % 3600) < 1800]
    assert not in_quiet  # nothing ever arrives in a zero-rate interval
    expected = sales.expected_calls(0, 50 * 3600)  # 15,000
    assert abs(len(times) - expected) < 5 * math.sqrt(expected)


def test_no_arrival_ever_when_the_rate_is_zero_for_good():
    rng = random.Random(1)
    assert profile(arrivals={"calls_per_hour": 0}).queue("8000").next_arrival(0, rng) is None
    stop = profile(arrivals={"intervals": [[1, 3600]], "end": "stop"}).queue("8000")
    assert stop.next_arrival(60, rng) is None
    zero = profile(arrivals={"rates": [0, 0], "interval_minutes": 5}).queue("8000")
    assert zero.next_arrival(0, rng) is None


# -- seeded sampling ---------------------------------------------------------------------------


def test_sampling_is_reproducible_with_a_seed():
    sales = load_profile("busy_monday").queue("8000")

    def draw(seed: int) -> list[object]:
        rng = random.Random(seed)
        return [
            (
                sales.sample_handle_time(rng),
                sales.sample_patience(rng),
                sales.sample_disposition(rng),
            )
            for _ in range(50)
        ]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_call_data_is_reproducible_with_the_profile_seed():
    p = load_profile("busy_monday")
    first, again = CallData(p.queue("8000"), p.seed), CallData(p.queue("8000"), p.seed)
    a = [(first.number(), first.variables("transfer")) for _ in range(20)]
    b = [(again.number(), again.variables("transfer")) for _ in range(20)]
    assert a == b
    number, variables = a[0]
    assert number.startswith("+1") and len(number) == 12
    assert variables["callVariable1"].startswith("ACC-") and len(variables["callVariable1"]) == 12
    assert variables["user.tier"] in ("bronze", "silver", "gold")
    assert variables["user.disposition"] == "transfer"
    other = CallData(p.queue("8000"), p.seed + 1)
    assert [other.number() for _ in range(20)] != [n for n, _ in a]


def test_profile_random_streams_are_independent_per_queue_and_purpose():
    p = load_profile("quiet_hour")
    assert p.rng("8000", "arrivals").random() == p.rng("8000", "arrivals").random()
    assert p.rng("8000", "arrivals").random() != p.rng("8000", "calls").random()
    assert p.rng("8000", "calls").random() != p.with_seed(2).rng("8000", "calls").random()


def test_handle_time_distributions_have_the_mean_and_spread_asked():
    rng = random.Random(11)
    lognormal = profile(handle_time={"distribution": "lognormal", "mean": 240, "sd": 150})
    draws = [lognormal.queue("8000").sample_handle_time(rng) for _ in range(40_000)]
    assert statistics.fmean(draws) == pytest.approx(240, rel=0.03)
    assert statistics.stdev(draws) == pytest.approx(150, rel=0.08)
    exponential = profile(handle_time={"mean": 100}).queue("8000")
    draws = [exponential.sample_handle_time(rng) for _ in range(40_000)]
    assert statistics.fmean(draws) == pytest.approx(100, rel=0.03)


def test_patience_none_never_abandons_and_shares_add_up():
    rng = random.Random(2)
    patient = profile(patience={"distribution": "none"}).queue("8000")
    assert patient.sample_patience(rng) is None and patient.mean_patience is None
    assert profile().queue("8000").sample_patience(rng) is None  # no table: nobody abandons
    shared = profile(shares={"consult": 0.2, "transfer": 0.1, "conference": 0.1}).queue("8000")
    draws = [shared.sample_disposition(rng) for _ in range(20_000)]
    assert draws.count("consult") / len(draws) == pytest.approx(0.2, abs=0.015)
    assert draws.count(None) / len(draws) == pytest.approx(0.6, abs=0.015)


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        ({"arrivals": {}}, "queues.8000.arrivals", "exactly one of"),
        (
            {"arrivals": {"calls_per_hour": 10, "rates": [1]}},
            "queues.8000.arrivals",
            "exactly one of",
        ),
        ({"arrivals": {"calls_per_hour": -1}}, "queues.8000.arrivals.calls_per_hour", ">= 0"),
        ({"arrivals": {"calls_per_hour": "many"}}, "calls_per_hour", "must be a number"),
        ({"arrivals": {"rates": [10, 20]}}, "queues.8000.arrivals.interval_minutes", "required"),
        (
            {"arrivals": {"rates": [10, -2], "interval_minutes": 15}},
            "queues.8000.arrivals.rates[1]",
            ">= 0",
        ),
        ({"arrivals": {"intervals": [[10]]}}, "queues.8000.arrivals.intervals[0]", "[minutes,"),
        (
            {"arrivals": {"intervals": [[10, 5]], "end": "loop"}},
            "queues.8000.arrivals.end",
            "repeat, hold, stop",
        ),
        ({"arrivals": {"calls_per_hour": 5, "start": "8am"}}, "arrivals.start", "HH:MM"),
        ({"handle_time": {"mean": 0}}, "queues.8000.handle_time.mean", "> 0"),
        ({"handle_time": {}}, "queues.8000.handle_time.mean", "is required"),
        (
            {"handle_time": {"distribution": "lognormal", "mean": 10}},
            "queues.8000.handle_time.sd",
            "is required",
        ),
        ({"handle_time": {"mean": 10, "sd": 3}}, "queues.8000.handle_time.sd", "lognormal"),
        (
            {"handle_time": {"distribution": "gamma", "mean": 10}},
            "handle_time.distribution",
            "exponential, lognormal",
        ),
        ({"patience": {"distribution": "exponential"}}, "queues.8000.patience.mean", "required"),
        ({"patience": {"distribution": "none", "mean": 5}}, "queues.8000.patience.mean", "only"),
        ({"shares": {"consult": 0.7, "transfer": 0.5}}, "queues.8000.shares", "<= 1"),
        ({"shares": {"variable": "disposition"}}, "queues.8000.shares.variable", "call variable"),
        ({"variables": {"callVariable11": "x"}}, "queues.8000.variables.callVariable11", "call"),
        ({"variables": {"callVariable1": "x" * 41}}, "variables.callVariable1", "40 bytes"),
        ({"variables": {"callVariable2": "faker:nope"}}, "variables.callVariable2", "no provider"),
        ({"variables": {"callVariable2": "faker:seed"}}, "variables.callVariable2", "no provider"),
        ({"variables": {"user.x": []}}, 'queues.8000.variables."user.x"', "one or more"),
        ({"variables": {"callVariable3": 5}}, "variables.callVariable3", "template"),
        ({"caller": "+1555"}, "queues.8000.caller", "four '#'"),
        ({"colour": "blue"}, "queues.8000.colour", "unknown key"),
        ({"arrivals": {"calls_per_hour": 5, "rate": 3}}, "queues.8000.arrivals.rate", "unknown"),
    ],
)
def test_validation_errors_name_the_key(change, key, words):
    with pytest.raises(ProfileError) as err:
        profile(**change)
    assert key in str(err.value) and words in str(err.value)


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({"name": "x"}, "queues", "is required"),
        ({"name": "x", "queues": {}}, "queues", "at least one queue"),
        ({"name": "x", "seed": 1.5, "queues": {}}, "seed", "integer"),
        ({"name": "x", "sl_seconds": 0, "queues": {}}, "sl_seconds", "> 0"),
        ({"name": "x", "queues": {"sales": {}}}, "queues.sales", "DN"),
        ({"name": "x", "queues": {"8000": 5}}, "queues.8000", "must be a table"),
        ({"name": "x", "speed": 3, "queues": {"8000": QUEUE}}, "speed", "unknown key"),
    ],
)
def test_top_level_validation(data, key, words):
    with pytest.raises(ProfileError) as err:
        parse_profile(data, source="my.toml")
    message = str(err.value)
    assert message.startswith("my.toml: ") and key in message and words in message


def test_files_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[queues."8000".arrivals]\ncalls_per_hour = 10\n')
    with pytest.raises(ProfileError, match=r"bad\.toml: queues\.8000\.handle_time: is required"):
        load_profile(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(broken)
    with pytest.raises(ProfileError, match=r"no such profile \(shipped: .*burst"):
        load_profile("rush_hour")
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "missing.toml")


def test_a_profile_file_may_leave_out_its_name(tmp_path):
    path = tmp_path / "evening.toml"
    text = (SHIPPED_PROFILES / "quiet_hour.toml").read_text().replace('name = "quiet_hour"\n', "")
    assert "name =" not in text.split("[queues", 1)[0]
    path.write_text(text)
    loaded = load_profile(path)
    assert loaded.name == "evening" and loaded.source == str(path)
    assert tomllib.loads(text)["seed"] == loaded.seed


# -- mobagent sim --traffic --------------------------------------------------------------------


def test_sim_refuses_an_unknown_traffic_profile_before_starting(capsys):
    assert sim_cli.main(["--traffic", "rush_hour", "--rest-port", "0", "--xmpp-port", "0"]) == 2
    assert "--traffic: rush_hour: no such profile" in capsys.readouterr().err
