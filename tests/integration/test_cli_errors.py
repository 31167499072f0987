"""Every `mobagent` subcommand as a user runs it, given bad arguments: one line on stderr
saying what is wrong, exit status 2, no traceback, nothing started."""

from __future__ import annotations

import subprocess

import pytest

from scenarios.stack.processes import run_module

pytestmark = pytest.mark.integration

BAD = {
    "sim": [
        (["--rest-port", "99999"], "--rest-port"),
        (["--xmpp-port", "-1"], "--xmpp-port"),
        (["--secondary-rest-port", "70000"], "--secondary-rest-port"),
        (["--speed", "0"], "--speed"),
        (["--config", "/nonexistent/roster.toml"], "--config"),
        (["--traffic", "no_such_profile"], "--traffic"),
    ],
    "connector": [
        (["--listen", "127.0.0.1:99999"], "listen"),
        (["--xmpp-port", "99999"], "--xmpp-port"),
        (["--max-sessions", "-1"], "--max-sessions"),
        (["--ca-file", "/nonexistent/ca.pem"], "--ca-file"),
        (["--finesse", "finesse1"], "--finesse"),
        (["--push-allow", "http://push.example.com"], "push_allow"),
        (["--push-allow", "https://push.example.com/path"], "push_allow"),
        (["--state-dir", "/proc/no/such/dir", "--listen", "127.0.0.1:0"], "--state-dir"),
    ],
    "app": [
        (["--listen", "nope"], "--listen"),
        (["--listen", "127.0.0.1:99999"], "--listen"),
        (["--connector", "localhost"], "--connector"),
    ],
    "lab": [
        (["--app-port", "99999"], "--app-port"),
        (["--speed", "0"], "--speed"),
        (["--profile", "no_such_profile"], "--profile"),
        (["--answer-after", "-1"], "--answer-after"),
    ],
    "agents": [
        (["--count", "-1"], "--count"),
        (["--duration", "0"], "--duration"),
        (["--connector", "localhost"], "--connector"),
        (["--abandon-after", "-5"], "--abandon-after"),
        (["--persona", "nobody"], "persona"),
        (["--push-port", "99999"], "--push-port"),
    ],
    "model": [
        (["--agents", "-1"], "--agents"),
        (["--calls-per-hour", "-5", "--aht", "180", "--agents", "3"], "rates"),
        (["--profile", "/nonexistent/profile.toml", "--agents", "3"], "--profile"),
    ],
    "demo": [
        (["--duration", "-1"], "--duration"),
        (["--agents", "0"], "--agents"),
        (["--profile", "no_such_profile"], "--profile"),
        (["--speed", "0"], "--speed"),
        (["--report", "/proc/no/such/folder"], "--report"),
    ],
    "bench": [
        (["--agents", "-1"], "--agents"),
        (["--agents", "100000"], "--agents"),
        (["--events-per-second", "0"], "--events-per-second"),
        (["--concurrency", "0"], "--concurrency"),
        (["--cprofile", "/nonexistent/folder/out.pstats"], "--cprofile"),
        (["--profile", "out.pstats"], "--profile"),  # renamed --cprofile
    ],
}


def mobagent(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m mobagent ARGS`: a command that wrongly started serving is killed with all it
    started, and the test fails on the timeout."""
    return run_module(["mobagent", *args], timeout=30, what=f"mobagent {' '.join(args)}")


CASES = [
    pytest.param(command, args, names, id=f"{command} {' '.join(args)}")
    for command, cases in BAD.items()
    for args, names in cases
]


@pytest.mark.parametrize(("command", "args", "names"), CASES)
def test_a_bad_argument_exits_2_with_a_message_and_no_traceback(
    command: str, args: list[str], names: str
):
    result = mobagent(command, *args)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"mobagent {command}: ")
    assert names in last


@pytest.mark.parametrize("command", list(BAD))
def test_the_message_is_one_line(command: str):
    args, _ = BAD[command][0]
    result = mobagent(command, *args)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_every_subcommand_is_checked():
    from mobagent.cli import SUBCOMMANDS

    assert set(BAD) == set(SUBCOMMANDS)


def test_no_subcommand_is_a_usage_error():
    result = mobagent()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: mobagent SUBCOMMAND")
    assert "Traceback" not in result.stderr


def test_version_is_the_installed_one():
    from importlib.metadata import version

    result = mobagent("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mobagent {version('mobagent')}\n"
