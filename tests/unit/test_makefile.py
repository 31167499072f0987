"""`make sim` passes its ports and ARGS to `mobagent sim` (make -n: printed, not run)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from scenarios.stack.processes import ROOT

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="no make")


def sim_command(*variables: str) -> str:
    out = subprocess.run(
        [str(MAKE), "-n", "--no-print-directory", "sim", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},  # no REST_PORT or ARGS of the caller's environment
    ).stdout
    return next(line for line in out.splitlines() if "mobagent sim" in line).strip()


def test_make_sim_defaults_to_the_documented_ports():
    assert sim_command() == ".venv/bin/mobagent sim --rest-port 8445 --xmpp-port 5222"


def test_make_sim_takes_ports_and_args():
    line = sim_command("REST_PORT=9445", "XMPP_PORT=6222", "ARGS=--traffic burst --speed 10")
    assert line == (
        ".venv/bin/mobagent sim --rest-port 9445 --xmpp-port 6222 --traffic burst --speed 10"
    )
