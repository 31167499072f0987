"""Events as they arrive, for awaiting: the app's event stream and a handset's both keep one.

A wait takes the oldest unconsumed event that matches and leaves the others, because events
may arrive in another order than they are awaited (an agent.state and its dialog.updated,
say). Both lists are bounded: events nobody waits for must not pile up for a whole shift.
Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")
T = TypeVar("T")


class WaitTimeout(AssertionError):
    """An awaited event did not arrive; the message says what was expected and what came."""


class Inbox(Generic[E]):
    def __init__(self, *, history: int = 200, pending: int = 1000) -> None:
        self.history: list[E] = []  # every event, newest last
        self.pending: list[E] = []  # not yet consumed by a wait
        self._history_size = history
        self._pending_size = pending
        self._changed = asyncio.Event()

    def put(self, event: E) -> None:
        self.history.append(event)
        del self.history[: -self._history_size]
        self.pending.append(event)
        del self.pending[: -self._pending_size]
        # A fresh Event per arrival: every waiter of the old one wakes, none misses the next.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def forget(self) -> None:
        """Drop what is unconsumed: a later wait sees only what comes after."""
        self.pending.clear()

    def next_change(self) -> asyncio.Event:
        """Set when the next event arrives. Take it before reading anything that event could
        change, so that none slips by unseen."""
        return self._changed

    async def changed_before(self, deadline: float) -> None:
        """Until the next event arrives or the loop's clock reaches `deadline`."""
        changed = self._changed
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that lands
        # as the wait completes (CPython gh-86296).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await changed.wait()

    async def take(self, match: Callable[[E], bool], timeout: float) -> E | None:
        """The oldest unconsumed event that matches, consumed; None after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, event in enumerate(self.pending):
                if match(event):
                    del self.pending[i]
                    return event
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await self.changed_before(deadline)

    async def until(self, check: Callable[[], T], timeout: float) -> T | None:
        """`check()`'s first truthy value, re-checked at every arrival; None after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = check()
            if found:
                return found
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await self.changed_before(deadline)
