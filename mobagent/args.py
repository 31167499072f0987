"""What every `mobagent` subcommand's command line shares: argument errors as one line on
stderr with exit status 2, and the value checks several subcommands need (ports, counts,
durations, URLs, files), as argparse `type=` functions.

It lives in `mobagent/`, which every package may import (docs/architecture.md):

    from mobagent import args

    p = args.ArgumentParser(prog="mobagent sim", ...)
    p.add_argument("--rest-port", type=args.port, default=8445)
    p.add_argument("--agents", type=args.positive_int, default=8)
"""

from __future__ import annotations

import argparse
import math
import os
from typing import NoReturn
from urllib.parse import urlsplit

__all__ = [
    "ArgumentParser",
    "DefaultsHelpFormatter",
    "existing_file",
    "non_negative_float",
    "non_negative_int",
    "output_file",
    "port",
    "positive_float",
    "positive_int",
    "url",
]

MAX_PORT = 65535


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line on stderr (exit status 2): what was wrong
    and where to read the options, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (options: {self.prog} --help)\n")


def _number(text: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def port(text: str) -> int:
    """A TCP port, 0-65535 (what 0 means is the option's to say)."""
    value = _number(text, int)
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text} is not a port (0-{MAX_PORT})")
    return int(value)


def _at_least(kind: type[int] | type[float], low: float, above: bool, says: str):
    """A `type=` check: a number of `kind`, at least `low` (more than `low` if `above`)."""

    def check(text: str) -> int | float:
        value = _number(text, kind)
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"{text}: must be {says}")
        return kind(value)

    return check


positive_int = _at_least(int, 1, False, "1 or more")
non_negative_int = _at_least(int, 0, False, "0 or more")
positive_float = _at_least(float, 0, True, "more than 0")
non_negative_float = _at_least(float, 0, False, "0 or more")


def url(text: str) -> str:
    """An http:// or https:// base URL with a host."""
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 -- a port out of range raises here
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not 0-{MAX_PORT}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a base URL such as http://127.0.0.1:8080 (http or https, with a host)"
        )
    return text.rstrip("/")


def existing_file(text: str) -> str:
    """A file to read: it must exist."""
    if not os.path.isfile(text):
        what = "is a folder, not a file" if os.path.isdir(text) else "no such file"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return text


def output_file(text: str) -> str:
    """A file to write: its folder must exist and the path must not be a folder."""
    folder = os.path.dirname(os.path.abspath(text))
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: is a folder, not a file")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{text}: no such folder {folder}")
    return text


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, except where there is none to show (no
    default, or a flag that is off unless given)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def host_port(text: str) -> tuple[str, int]:
    """HOST:PORT to listen on (an IPv6 host in brackets: [::1]:8090)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT, e.g. 127.0.0.1:8090")
    return host.strip("[]"), port(port_text)
