"""asyncio helpers the simulated agents and the swarm share."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_reap(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel tasks and reap them. On Python 3.11 `asyncio.wait_for` swallows a cancel that
    lands as its inner wait completes (CPython gh-86296): such a task goes on waiting, so
    cancel again until every task is done."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.01)
    for task in tasks:  # retrieve, so no "exception was never retrieved" warnings
        if not task.cancelled():
            task.exception()
