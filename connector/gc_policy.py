"""The connector's garbage-collection policy: long-lived sessions out of the collector's walks.

Why: an agent's session (its XMPP client, stream, parser, REST credentials, event stream)
is a few hundred objects that live for a whole shift, and CPython's full collection walks
every one of them with the event loop standing still, a pause that lands on every event in
flight and grows with the number of agents. And at each event an agent's session replaces a
few objects (the User it mirrors, a waiter, the parser's last elements); the replacements
are young until collected, so each young collection walks about one generation of them per
agent. The measurements are in docs/benchmarks.md ("Measurements behind the design";
`mobagent bench --gc-stats` logs every collection).

The policy, driven by `changed()` at each sign-in and sign-out:

* Settling. Once sign-ins and sign-outs have been quiet for `settle` seconds, the young
  generations are collected (milliseconds: the garbage of the sign-ins) and `gc.freeze()`
  moves every surviving object to the permanent generation, which no automatic collection
  walks. Freezing is O(1); no full collection runs.
* While settled, every `freeze_interval` seconds another `gc.freeze()`, so a young
  collection only ever walks the objects of the last interval. Frozen objects are still
  freed by reference counting when they die; what freezing defers is the reclaiming of
  garbage *cycles*, and the connector's steady state makes none (the hot path hands parsed
  elements straight to the session, the keepalive's pings are plain strings and a future:
  the bench's GC log shows 0
  collected, and tests/unit/test_steady_state_garbage.py checks it). Sign-ins and sign-outs do make
  cycles, which is why the periodic freezing stops at each of them until things settle.
* Every `full_interval` seconds (0: never) one full collection over everything,
  `gc.unfreeze(); gc.collect(); gc.freeze()`. It reclaims the cycles that died frozen (the
  sessions of agents who signed out, any cycle a freeze caught) and so bounds that memory.
  It is the one pause that grows with the number of sessions, once per interval (default 10
  minutes), rare enough to stay outside the latency percentiles that matter.
"""

from __future__ import annotations

import asyncio
import gc

SETTLE_SECONDS = 2.0
FREEZE_INTERVAL = 0.1
FULL_INTERVAL = 600.0


class GcPolicy:
    def __init__(
        self,
        *,
        settle: float = SETTLE_SECONDS,
        freeze_interval: float = FREEZE_INTERVAL,
        full_interval: float = FULL_INTERVAL,
    ) -> None:
        if settle <= 0 or freeze_interval < 0 or full_interval < 0:
            raise ValueError("settle must be > 0, the intervals >= 0 (0: never)")
        self.settle = settle
        self.freeze_interval = freeze_interval
        self.full_interval = full_interval
        self.settled = False
        self.freezes = 0  # on settling
        self.young_freezes = 0  # every freeze_interval while settled
        self.full_collections = 0
        self.frozen = asyncio.Event()  # set at every freeze, of any kind
        self._settle: asyncio.TimerHandle | None = None
        self._young: asyncio.TimerHandle | None = None
        self._full: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self.full_interval:
            self._full = asyncio.get_running_loop().call_later(self.full_interval, self._full_due)

    def stop(self) -> None:
        """The policy ends: no more timers, and what it froze is back in the collector's
        sight (a process that goes on after its connector, such as a test run)."""
        for timer in (self._settle, self._young, self._full):
            if timer is not None:
                timer.cancel()
        self._settle = self._young = self._full = None
        self.settled = False
        gc.unfreeze()

    def changed(self) -> None:
        """A session began or ended: stop freezing young objects (its cycles must be
        collected), and settle again once things have been quiet for `settle` s."""
        self.settled = False
        if self._young is not None:
            self._young.cancel()
            self._young = None
        if self._settle is not None:
            self._settle.cancel()
        self._settle = asyncio.get_running_loop().call_later(self.settle, self._settled)

    def _settled(self) -> None:
        self._settle = None
        gc.collect(1)
        gc.freeze()
        self.settled = True
        self.freezes += 1
        self.frozen.set()
        self._freeze_young_later()

    def _freeze_young_later(self) -> None:
        if self.freeze_interval:
            loop = asyncio.get_running_loop()
            self._young = loop.call_later(self.freeze_interval, self._freeze_young)

    def _freeze_young(self) -> None:
        gc.freeze()
        self.young_freezes += 1
        self.frozen.set()
        self._freeze_young_later()

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
