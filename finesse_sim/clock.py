"""The asyncio driver that keeps the simpy model in step with the wall clock.

Model time = wall time since the last rebase x speed. Before every input the adapters call
`sync()`, so the model sees the right time; between inputs the driver sleeps until the next
scheduled model event (a `loop.call_at`, never an `asyncio.sleep` per timer) and runs it.
"""

from __future__ import annotations

import asyncio
import math

import simpy


class WallClock:
    def __init__(self, env: simpy.Environment, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
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
        if speed <= 0 or not math.isfinite(speed):
            raise ValueError("speed must be a positive number")
        self.sync()
        if self._loop is not None:
            self._rebase()
        self.speed = speed
        self._arm()

    def sync(self) -> None:
        """Run every model event due by now (the wall clock's model time)."""
        target = self.model_now()
        env = self.env
        while env.peek() <= target:
            env.step()
        if target > env.now:
            # Move the model's clock forward to now even when nothing is due, so inputs are
            # stamped with the current time. simpy has no public setter for `now`.
            env._now = target
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
