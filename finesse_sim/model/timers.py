"""Cancellable timers on a simpy Environment.

simpy cannot withdraw a scheduled event, so a cancelled timer stays in the event queue and
simply does nothing when it fires.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy


class Timer:
    __slots__ = ("_fn", "cancelled", "due")

    def __init__(self, due: float, fn: Callable[[], None]) -> None:
        self.due = due
        self._fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def _fire(self, _event: simpy.Event) -> None:
        if not self.cancelled:
            self.cancelled = True  # a timer fires once
            self._fn()


def schedule(env: simpy.Environment, delay: float, fn: Callable[[], None]) -> Timer:
    timer = Timer(env.now + delay, fn)
    env.timeout(max(delay, 0.0)).callbacks.append(timer._fire)
    return timer
