"""The event loop a long-running process runs on: uvloop where it is installed, else
asyncio's own.

Measured here (docs/benchmarks.md, "The event loop"): uvloop halves what a bare relay costs
per socket read and write and takes about a fifth off the connector's CPU per sign-in, with
about the same memory per agent; the connector's CPU per relayed event did not change
measurably (its syscalls and the XML parsing dominate there). Nothing in the code
depends on which loop runs it; `asyncio` stays selectable (`--event-loop asyncio`) to
compare, or to run where uvloop is not available (it is not built for Windows).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["CHOICES", "EventLoopError", "resolve", "run", "running"]

CHOICES = ("auto", "uvloop", "asyncio")  # auto: uvloop when installed
T = TypeVar("T")


class EventLoopError(ValueError):
    pass


def resolve(choice: str) -> str:
    """`uvloop` or `asyncio` for a configured choice; asking for uvloop where it is not
    installed is an error, not a silent fallback."""
    if choice not in CHOICES:
        raise EventLoopError(f"event_loop must be one of {', '.join(CHOICES)}, not {choice!r}")
    installed = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not installed:
        raise EventLoopError("event_loop uvloop: uvloop is not installed here")
    if choice == "auto":
        return "uvloop" if installed else "asyncio"
    return choice


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """`asyncio.run(main)` on the loop `choice` resolves to."""
    if resolve(choice) == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def running() -> str:
    """Which loop the calling coroutine runs on, for reports."""
    module = type(asyncio.get_running_loop()).__module__
    return "uvloop" if module.startswith("uvloop") else "asyncio"
