"""Limits on sign-in attempts, so nobody can lock an agent out through the connector.

Finesse locks a user out after a few failed sign-ins in a row (five, for five minutes), and
every sign-in the connector forwards counts. `FailureWindow` refuses further attempts for
an agent id once it has failed `limit` times within `window` seconds, before Finesse's
threshold is reached; `RateLimiter` is a token bucket per client address. Both are pure
(an injected clock, no I/O) and bounded in memory: the oldest keys are dropped first, so a
client cycling through made-up ids or addresses cannot grow them without limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 100_000


def retry_seconds(delay: float) -> int:
    """A `Retry-After` value: whole seconds, at least 1."""
    return max(1, math.ceil(delay))


class FailureWindow:
    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str) -> float | None:
        """None if `key` may try now; else the seconds until its oldest failure expires."""
        times = self._recent(key)
        if times is None or len(times) < self.limit:
            return None
        return times[0] + self.window - self._clock()

    def failed(self, key: str) -> bool:
        """Count a failure; True when this one reaches the limit (throttling starts)."""
        times = self._recent(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)
        times.append(self._clock())
        self._failures.move_to_end(key)
        return len(times) == self.limit

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def clear(self) -> None:
        self._failures.clear()

    def __len__(self) -> int:
        return len(self._failures)


class RateLimiter:
    """A token bucket per key: `burst` tokens, refilled at `rate` per second (0: no limit)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        # key -> (tokens, when, refused last time)
        self._buckets: OrderedDict[str, tuple[float, float, bool]] = OrderedDict()
        self.started = False  # the last take() was the first refusal of its key in a row

    def take(self, key: str) -> float | None:
        """Take a token for `key`: None when allowed, else the seconds until one is due."""
        self.started = False
        if self.rate == 0:
            return None
        now = self._clock()
        tokens, then, refused = self._buckets.pop(key, (float(self.burst), now, False))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now, False)
            delay = None
        else:
            self._buckets[key] = (tokens, now, True)
            self.started = not refused
            delay = (1.0 - tokens) / self.rate
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)  # the longest idle: full again by now, mostly
        return delay

    def __len__(self) -> int:
        return len(self._buckets)
