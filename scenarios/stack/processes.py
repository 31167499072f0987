"""Run a benchmark or tool as a subprocess and read the JSON it prints (the smoke tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_json(args: list[str], *, timeout: float, what: str) -> Any:
    """`python -m ARGS...` from the project root; its stdout parsed as JSON.

    It runs in its own process group, so a timeout kills whatever it started too; a failure
    shows the end of its stderr."""
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
    assert proc.returncode == 0, stderr[-2000:]
    return json.loads(stdout)
