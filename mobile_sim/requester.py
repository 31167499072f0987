"""A simulated agent's requests and the waits for what they cause, every outcome counted.

A request is accepted, or refused: a refusal of a kind the agent expected (a mis-tap), a
*race* (a refusal that a change the app saw right after explains: the customer hung up as
the agent pressed HOLD), or an error. What a request should cause is awaited on the app's
events with a timeout; a wait that times out is counted and the app's view is re-synced from
a fresh snapshot, so a missed event cannot wedge the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiohttp

from mobile_sim.aio import cancel_and_reap
from mobile_sim.api import AppError
from mobile_sim.app import AppClient
from mobile_sim.counts import ShiftCounts
from mobile_sim.inbox import WaitTimeout

log = logging.getLogger("mobile_sim.agent")

# Refusals that a change of situation between deciding and asking can explain.
RACE_TYPES = frozenset({"action_not_allowed", "not_found", "Not Found", "Invalid State"})


def view_snapshot(app: AppClient) -> tuple[Any, ...]:
    """What the agent decides on, comparable: its state and, per dialog, the state, its own
    participant's state, the actions offered, the call type and the number of parties."""
    dialogs = tuple(
        sorted(
            (
                dialog_id,
                str(dialog.get("state")),
                app.my_state(dialog_id),
                tuple(dialog.get("actions", ())),
                str(dialog.get("callType")),
                len(dialog.get("participants", ())),
            )
            for dialog_id, dialog in list(app.dialogs.items())
        )
    )
    return (app.agent.get("state"), app.agent.get("pendingState"), dialogs)


class Requester:
    def __init__(
        self,
        app: AppClient,
        counts: ShiftCounts,
        stop: asyncio.Event,
        *,
        timeout: float,
        request_timeout: float,
    ) -> None:
        self.app = app
        self.counts = counts
        self.stop = stop  # the end of the shift: interruptible waits end with it
        self.timeout = timeout
        self.request_timeout = request_timeout

    def changed_from_now(self) -> Callable[[], bool]:
        """A condition that holds once the app's view differs from what it is now."""
        before = view_snapshot(self.app)
        return lambda: view_snapshot(self.app) != before

    async def send(
        self,
        what: str,
        make: Callable[[], Awaitable[Any]],
        *,
        expect: Iterable[str] = (),
    ) -> bool:
        """Make a request; True if accepted. A refusal of a kind in `expect` is an expected
        refusal; one that the app's view explains (it changed right after) is a race; any
        other failure is an error."""
        changed = self.changed_from_now()
        try:
            await asyncio.wait_for(make(), self.request_timeout)
            log.debug("agent %s: %s", self.app.agent_id, what)
            return True
        except AppError as err:
            key = f"{what}: {err.status} {err.type}"
            if err.type in set(expect):
                self.counts.expected_refusals[err.type] += 1
            elif err.type in RACE_TYPES and await self.wait(
                changed, min(self.timeout, 2.0), interruptible=False
            ):
                self.counts.races[key] += 1
            else:
                self.counts.errors[key] += 1
                log.warning("agent %s: %s refused: %s", self.app.agent_id, what, err)
            return False
        except TimeoutError:
            self.counts.timeouts[f"request {what}"] += 1
            return False
        except (aiohttp.ClientError, OSError) as exc:
            self.counts.errors[f"{what}: {type(exc).__name__}"] += 1
            return False

    async def expect(self, what: str, cond: Callable[[], bool]) -> bool:
        """Wait (`timeout` wall seconds) for what a request should cause."""
        if await self.wait(cond, self.timeout, interruptible=False):
            return True
        await self.timed_out(what)
        return False

    async def timed_out(self, what: str) -> None:
        self.counts.timeouts[what] += 1
        log.warning("agent %s: no %s within %gs", self.app.agent_id, what, self.timeout)
        await self.resync()

    async def resync(self) -> None:
        """A fresh event stream: it starts with a `session.resync` snapshot of the agent and
        its dialogs, so a missed event cannot wedge the agent."""
        self.counts.resyncs += 1
        try:
            await self.app.stop_listening()
            self.app.forget()
            await self.app.listen()
            await self.app.wait_for("session.resync", timeout=self.timeout, what="a snapshot")
        except (WaitTimeout, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.counts.errors[f"resync: {type(exc).__name__}"] += 1

    async def wait(
        self,
        cond: Callable[[], bool] | None,
        timeout: float,
        *,
        interruptible: bool = True,
    ) -> bool:
        """Until `cond()` holds (checked on every event the app receives); False when
        `timeout` wall seconds pass first or, if `interruptible`, the shift stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if cond is not None and cond():
                return True
            if interruptible and self.stop.is_set():
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self._next_event(remaining, interruptible)

    async def _next_event(self, timeout: float, interruptible: bool) -> None:
        """Take the app's next event (or wait for the stop, or the timeout); an `error`
        event (a request failed after its 202) is counted."""
        taking = asyncio.ensure_future(self.app.next_event(timeout))
        tasks: set[asyncio.Future[Any]] = {taking}
        if interruptible:
            tasks.add(asyncio.ensure_future(self.stop.wait()))
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_reap(tasks)
        if taking.cancelled() or taking.exception() is not None:
            return
        event = taking.result()
        if event is not None and event.get("type") == "error":
            for error in (event.get("data") or {}).get("errors", []):
                self.counts.errors[f"async error: {error.get('type')}"] += 1
