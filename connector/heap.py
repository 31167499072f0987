"""The connector's garbage-collection policy: long-lived sessions out of the collector's walks.

Why: an agent's session (its XMPP client, stream, parser, REST credentials, event stream)
is a few hundred objects that live for a whole shift, and CPython's full collection walks
every one of them, with the event loop standing still: 0.3-0.6 s at 2,000 agents on the
2-core benchmark machine, a pause that lands on every event in flight (mobagent bench).

The policy:

* `changed()` is called at each sign-in and sign-out. Once they have been quiet for
  `settle` seconds, the young generations are collected (milliseconds: they hold only
  what the last events left) and `gc.freeze()` moves every surviving object to the
  permanent generation, which no automatic collection walks. Freezing is O(1) and no full
  collection runs: the sessions just signed in are simply set aside.
* Every `full_interval` seconds (0: never) one full collection over everything,
  `gc.unfreeze(); gc.collect(); gc.freeze()`. It is what reclaims the cycles that died
  after being frozen (the sessions of agents who signed out, whatever cyclic garbage a
  freeze caught) and so bounds that memory. It is the one pause that grows with the number
  of sessions, once per interval (default 10 minutes: ~0.4 s in 1.2 million events at
  2,000 events/s, well outside the 99.9th percentile).

Automatic young collections stay as CPython runs them; they stay short because the hot
path leaves little behind (see `connector.finesse.xmpp._Client` and `connector.api.stream`).
"""

from __future__ import annotations

import asyncio
import gc

SETTLE_SECONDS = 2.0
FULL_INTERVAL = 600.0


class Heap:
    def __init__(self, *, settle: float = SETTLE_SECONDS, full_interval: float = FULL_INTERVAL):
        if settle <= 0 or full_interval < 0:
            raise ValueError("settle must be > 0 and full_interval >= 0")
        self.settle = settle
        self.full_interval = full_interval
        self.freezes = 0
        self.full_collections = 0
        self.frozen = asyncio.Event()  # set at each freeze (of either kind)
        self._settle: asyncio.TimerHandle | None = None
        self._full: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self.full_interval:
            self._full = asyncio.get_running_loop().call_later(self.full_interval, self._full_due)

    def stop(self) -> None:
        for timer in (self._settle, self._full):
            if timer is not None:
                timer.cancel()
        self._settle = self._full = None

    def changed(self) -> None:
        """A session began or ended: freeze once things have been quiet for `settle` s."""
        if self._settle is not None:
            self._settle.cancel()
        self._settle = asyncio.get_running_loop().call_later(self.settle, self._settled)

    def _settled(self) -> None:
        self._settle = None
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        self.frozen.set()

    def _full_due(self) -> None:
        self._full = asyncio.get_running_loop().call_later(self.full_interval, self._full_due)
        self.collect_all()

    def collect_all(self) -> None:
        """The full collection: frozen objects that died since are reclaimed too."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.full_collections += 1
        self.frozen.set()
