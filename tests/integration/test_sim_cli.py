"""`mobagent sim` as a user runs it: a process that prints where it listens and stops on a
signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mobagent", "sim", "--rest-port", "0", "--xmpp-port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    ("sig", "loop", "flags"),
    [(signal.SIGINT, "uvloop", []), (signal.SIGTERM, "asyncio", ["--event-loop", "asyncio"])],
)
def test_prints_where_it_listens_serves_and_stops_on_a_signal(sig, loop, flags):
    proc = start("--json", "--speed", "10", *flags)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["event"] == "listening"
        assert info["eventLoop"] == loop  # uvloop by default, where installed
        assert info["example"] == {"agent": "1001", "password": "password", "extension": "5001"}
        rest = info["sides"]["A"]["rest"]
        assert rest.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{rest}/SystemInfo", timeout=5) as res:
            assert b"<status>IN_SERVICE</status>" in res.read()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Simulator stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_banner_names_ports_and_credentials():
    proc = start()
    try:
        first = proc.stdout.readline()
        assert first.startswith("Simulated Cisco Finesse is running.")
        banner = "".join(proc.stdout.readline() for _ in range(4))
        assert "password 'password'" in banner and "/finesse/api" in banner
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--speed", "0"], "--speed"), (["--config", "/nonexistent.toml"], "nonexistent")],
)
def test_bad_arguments_exit_2_with_a_message(args, message):
    proc = start(*args)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2
    assert message in err
