"""The one watcher of Finesse's nodes: feeds `Hosts` and runs the polls failover needs.

Everything the connector learns about a node that is not a REST answer reaches `Hosts`
through here: the notification transport reports its connection, the 'finesse' user's
presence and SystemInfo notifications; endpoint look-ups read SystemInfo through `probe()`.
The REST client reports its own answers and failures to `Hosts` (they are pure) and, when
the active node does not answer, asks `rest_unreachable()` whether to retry elsewhere.

`choose()` is the poll of docs/finesse.md, Failover (SystemInfo of the active node, then of the
alternate, by `Hosts.poll_order()`); concurrent callers share one poll, so a thousand
sessions whose connections dropped together cost two SystemInfo requests, not two thousand.
A switch is announced by `Hosts` to its listeners (the runtime moves every notification
session), and logged there, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from connector.finesse.errors import FinesseConnectionError, FinesseError
from connector.finesse.failover import Hosts
from connector.finesse.models import SystemInfo

log = logging.getLogger("connector.finesse.monitor")

# GET SystemInfo of one node, one attempt: FinesseRest.system_info(base_url, timeout=...).
Probe = Callable[..., Awaitable[SystemInfo]]


class FinesseMonitor:
    def __init__(self, hosts: Hosts, probe: Probe) -> None:
        self.hosts = hosts
        self._probe = probe
        self._choosing: asyncio.Future[str] | None = None
        self._background: asyncio.Task[None] | None = None
        self._grace: asyncio.TimerHandle | None = None

    # -- reports from the notification transport (pure, on the loop) --------------------------

    def notifications(self, base: str, up: bool) -> None:
        """A notification connection to `base` came up or dropped; a drop asks for a poll
        (7.2 row 1)."""
        self.hosts.report_notifications(base, up)
        if not up:
            self.check()

    def finesse_presence(self, base: str, available: bool) -> None:
        """The 'finesse' user's presence on `base` (7.2 row 2). UNAVAILABLE: poll now, and
        again once the presence grace has passed ("otherwise fail over")."""
        self.hosts.report_finesse_presence(base, available)
        if not available:
            self.check()
            if self._grace is None:
                loop = asyncio.get_running_loop()
                self._grace = loop.call_later(self.hosts.presence_grace, self._grace_over)

    def system_info(self, base: str, info: SystemInfo) -> None:
        """A SystemInfo notification (or any SystemInfo read) from `base`."""
        self.hosts.report_system_info(base, info)

    # -- reads --------------------------------------------------------------------------------

    async def probe(self, base: str, *, timeout: float | None = None) -> SystemInfo:
        """GET SystemInfo of `base` (one attempt) and report it."""
        info = await self._probe(base, timeout=timeout)
        self.hosts.report_system_info(base, info)
        return info

    # -- the REST client's question ------------------------------------------------------------

    async def rest_unreachable(self, failed: str) -> bool:
        """A request to `failed` could not connect (already reported to `Hosts`). Poll
        this node and the alternate (7.2 row 1); True when the active node is now another
        one, so the request may be retried there at once."""
        hosts = self.hosts
        if failed != hosts.active or hosts.alternate is None:
            return hosts.active != failed
        try:
            await self.choose()
        except FinesseError:
            return False
        return hosts.active != failed

    # -- polling ------------------------------------------------------------------------------

    def check(self) -> None:
        """Something went wrong with the active node: find an available one, in the
        background (one poll at a time)."""
        if self._background is None or self._background.done():
            self._background = asyncio.ensure_future(self._choose_logged())

    def _grace_over(self) -> None:
        self._grace = None
        if self.hosts.needs_choice() is not None:
            self.check()

    async def _choose_logged(self) -> None:
        try:
            await self.choose()
        except FinesseError as exc:
            log.warning("no Finesse node is available: %s", exc)

    async def choose(self, *, timeout: float | None = None) -> str:
        """Poll SystemInfo of the active node, then of the alternate; make the first one that
        is IN_SERVICE (and whose 'finesse' user is not known to be UNAVAILABLE) active and
        return its base URL. Raises `FinesseConnectionError` when none is."""
        if self._choosing is None or self._choosing.done():
            self._choosing = asyncio.ensure_future(self._choose(timeout))
            # Retrieved here too, so a poll whose callers all went away logs no warning.
            self._choosing.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.shield(self._choosing)

    async def _choose(self, timeout: float | None) -> str:
        hosts = self.hosts
        nodes, problems = hosts.poll_order()
        for node in nodes:
            try:
                info = await self._probe(node.base_url, timeout=timeout)
            except FinesseConnectionError:
                hosts.report_rest_failure(node.base_url)
                problems.append(f"{node.address}: no answer")
                continue
            except FinesseError as exc:  # a 503 or a broken body: not usable now
                hosts.report_rest_success(node.base_url)
                problems.append(f"{node.address}: {exc}")
                continue
            hosts.report_rest_success(node.base_url)
            hosts.report_system_info(node.base_url, info)
            if hosts.accept(node):
                return node.base_url
            problems.append(f"{node.address}: {node.status or 'no status'}")
        active = hosts.node(hosts.active)
        raise FinesseConnectionError(
            "no Finesse node is IN_SERVICE (" + "; ".join(problems) + ")",
            host=active.address if active else hosts.active,
        )

    def stop(self) -> None:
        for task in (self._background, self._choosing):
            if task is not None:
                task.cancel()
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
