"""Run a benchmark or tool as a subprocess and read the JSON it prints (the smoke tests)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a server that must be told its port up front
    (nginx, redis-server, a process restarted on the same port)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run_module(args: list[str], *, timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    """`python -m ARGS...` from the project root, to its end; its exit status and output.

    It runs in its own process group, so a timeout kills whatever it started too (and fails
    with `what took more than ...`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"{what} took more than {timeout:g} s") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def run_json(args: list[str], *, timeout: float, what: str) -> Any:
    """`python -m ARGS...` (run_module); its stdout parsed as JSON. A failure shows the end
    of its stderr."""
    result = run_module(args, timeout=timeout, what=what)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)
