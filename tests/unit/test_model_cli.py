"""`mobagent model`: the readable table, the JSON, the chart, the staffing search, errors."""

from __future__ import annotations

import json

import pytest

from mobagent.cli import SUBCOMMANDS
from scenarios.model.cli import main

SMALL = [
    "--calls-per-hour",
    "200",
    "--aht",
    "180",
    "--sl-seconds",
    "20",
    "--calls",
    "8000",
    "--replications",
    "4",
    "--seed",
    "1",
    "--jobs",
    "1",
]


def test_registered_as_a_subcommand():
    assert SUBCOMMANDS["model"][0] == "scenarios.model.cli"


def test_table(capsys):
    assert main([*SMALL, "--agents", "14"]) == 0
    out = capsys.readouterr().out
    assert "Erlang C" in out and "P(wait)" in out and "service level" in out
    assert "0.1741" in out  # Erlang's P(wait) beside the model's


def test_json_has_the_contract_keys(capsys):
    assert main([*SMALL, "--agents", "14", "--patience", "120", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("p_wait", "service_level", "asa", "abandon_rate", "occupancy"):
        assert set(out[key]) == {"mean", "ci95"} and len(out[key]["ci95"]) == 2
    assert isinstance(out["calls_simulated"], int) and out["wall_seconds"] >= 0
    assert out["calls_measured"] == 8000
    assert out["inputs"]["calls_per_replication"] == 2000
    assert out["erlang"]["model"] == "erlang_a"
    assert out["intervals"] and {"start", "end", "offered", "service_level"} <= set(
        out["intervals"][0]
    )


def test_search_and_chart(tmp_path, capsys):
    chart = tmp_path / "model.png"
    argv = [*SMALL, "--target-sl", "0.8", "--search-agents", "--chart", str(chart), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["search"]["erlang_agents"] == 14
    assert out["search"]["agents"] == out["agents"]
    assert out["service_level"]["mean"] >= 0.8
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unstable_erlang_c_queue_has_no_analytic_values(capsys):
    assert main([*SMALL, "--agents", "10", "--calls", "800", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["erlang"] is None


def test_an_unstable_queue_is_said_plainly_and_no_figure_leaves_its_range(capsys):
    """10 Erlangs on 2 agents, nobody abandons: the queue never settles."""
    assert main([*SMALL, "--agents", "2", "--calls", "800", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["unstable"] is True and out["offered_erlangs"] == pytest.approx(10.0)
    assert "unstable queue" in captured.err and "10.00 Erlangs" in captured.err
    occupancy = out["occupancy"]
    assert 0.9 <= occupancy["mean"] <= 1.0 and occupancy["ci95"][1] <= 1.0
    assert main([*SMALL, "--agents", "2", "--calls", "800"]) == 0
    assert "WARNING: unstable queue" in capsys.readouterr().out


def test_a_stable_queue_is_not_called_unstable(capsys):
    assert main([*SMALL, "--agents", "14", "--calls", "800", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["unstable"] is False and "unstable" not in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--agents", "14", "--replications", "1"], "at least 2"),
        ([], "--agents is required"),
        (["--agents", "14", "--handle", "lognormal"], "--aht-sd > 0"),
    ],
)
def test_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*SMALL, *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_profile_is_modelled_over_its_day(capsys):
    assert (
        main(
            [
                "--profile",
                "busy_monday",
                "--agents",
                "14",
                "--replications",
                "3",
                "--jobs",
                "1",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["erlang"] is None  # interval rates, lognormal: not an Erlang model
    assert out["inputs"]["horizon"] == 4 * 3600
    assert out["inputs"]["interval"] == 900  # the profile's 15-minute intervals
    assert len(out["intervals"]) == 16
    assert out["seed"] == 20260105 and out["sl_seconds"] == 20
    assert 0 < out["service_level"]["mean"] < 1


def test_a_profile_gives_the_traffic(capsys):
    with pytest.raises(SystemExit):
        main(["--profile", "quiet_hour", "--agents", "14", "--aht", "100"])
    assert "--profile gives the traffic" in capsys.readouterr().err


def test_a_profile_that_does_not_exist(capsys):
    with pytest.raises(SystemExit):
        main(["--profile", "/nonexistent/profile.toml", "--agents", "14"])
    assert "--profile" in capsys.readouterr().err
