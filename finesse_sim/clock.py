"""The asyncio driver that keeps the simpy model in step with the wall clock.

Model time = wall time since the last rebase x speed. Before every input the adapters call
`sync()`, so the model sees the right time; between inputs the driver sleeps until the next
scheduled model event (a `loop.call_at`, never an `asyncio.sleep` per timer) and runs it.
"""

from __future__ import annotations

import asyncio
import logging
import math

import simpy

# Beyond this, a day of model time passes in under ten wall seconds and timestamps soon leave
# the calendar; an offline run in virtual time needs no wall clock at all.
MAX_SPEED = 10_000.0
log = logging.getLogger("finesse_sim.clock")


class WallClock:
    def __init__(self, env: simpy.Environment, speed: float = 1.0) -> None:
        if not 0 < speed <= MAX_SPEED:
            raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g}")
        self.env = env
        self.speed = speed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wall0 = 0.0
        self._model0 = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._rebase()
        self._arm()

    def stop(self) -> None:
        if self._handle:
            self._handle.cancel()
            self._handle = None
        self._loop = None

    def _rebase(self) -> None:
        assert self._loop is not None
        self._wall0 = self._loop.time()
        self._model0 = self.env.now

    def model_now(self) -> float:
        if self._loop is None:
            return self.env.now
        return self._model0 + (self._loop.time() - self._wall0) * self.speed

    def set_speed(self, speed: float) -> None:
        if not 0 < speed <= MAX_SPEED:
            raise ValueError(f"speed must be > 0 and <= {MAX_SPEED:g}")
        self.sync()
        if self._loop is not None:
            self._rebase()
        self.speed = speed
        self._arm()

    def sync(self) -> None:
        """Run every model event due by now (the wall clock's model time)."""
        target = self.model_now()
        env = self.env
        try:
            while env.peek() <= target:
                try:
                    env.step()
                except Exception:
                    # One failing timer must not stop every other timer of the model.
                    log.exception("model event failed at t=%.3f", env.now)
            if target > env.now:
                # Move the model's clock forward to now even when nothing is due, so inputs
                # are stamped with the current time. simpy has no public setter for `now`.
                env._now = target
        finally:
            self._arm()

    def _arm(self) -> None:
        """Wake up when the next model event is due."""
        if self._loop is None:
            return
        if self._handle:
            self._handle.cancel()
            self._handle = None
        nxt = self.env.peek()
        if nxt == math.inf:
            return
        wall = self._wall0 + (nxt - self._model0) / self.speed
        self._handle = self._loop.call_at(wall, self._tick)

    def _tick(self) -> None:
        self._handle = None
        self.sync()
