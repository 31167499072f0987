import argparse
from importlib import metadata

import pytest

from mobagent import args
from mobagent.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_unknown_subcommand_is_an_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown subcommand 'frobnicate'" in capsys.readouterr().err


def test_no_arguments_is_a_usage_error(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: mobagent SUBCOMMAND")


def test_version_comes_from_the_package_metadata(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"mobagent {metadata.version('mobagent')}\n"


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (args.port, ["0", "8445", "65535"], ["-1", "65536", "99999", "http"]),
        (args.positive_int, ["1", "2000"], ["0", "-3", "1.5"]),
        (args.non_negative_int, ["0", "20"], ["-1", "x"]),
        (args.positive_float, ["0.5", "60"], ["0", "-1", "nan", "inf"]),
        (args.non_negative_float, ["0", "2.5"], ["-0.1", "nan"]),
        (
            args.url,
            ["http://127.0.0.1:8080", "https://finesse1"],
            ["finesse1", "ftp://x", "http://x:99999"],
        ),
    ],
)
def test_value_checks_refuse_with_a_reason(check, good, bad):
    for text in good:
        check(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_a_parse_error_is_one_line_and_exit_2(capsys):
    p = args.ArgumentParser(prog="mobagent x")
    p.add_argument("--port", type=args.port)
    with pytest.raises(SystemExit) as stop:
        p.parse_args(["--port", "99999"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        "mobagent x: argument --port: 99999 is not a port (0-65535) (options: mobagent x --help)\n"
    )
