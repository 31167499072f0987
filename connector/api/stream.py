"""One agent's event stream: numbered events, a bounded replay buffer, readers that resume.

Every event gets the next `seq`. The stream keeps the last `buffer_size` events; a reader is
just a cursor into them, so a slow reader costs no memory of its own: when it falls behind
the buffer (or asks to resume from a `since` that is gone), it is sent one
`session.resync` event with a full snapshot, then carries on from there.

Events are kept as `Frame`s: the message already serialised to its JSON text, with its seq
and time beside it. Serialising once at publish is what the WebSocket sends anyway, and it
keeps the buffers out of the garbage collector's sight: the buffer holds plain tuples of an
int, a float and a str, which the collector untracks at their first collection (it does
not for tuple subclasses such as `Frame`), where the message dicts it replaces (~2 million
objects in the buffers of 2,000 agents) were walked by every full collection, stopping the
event loop for hundreds of milliseconds (mobagent bench).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, NamedTuple

from connector.session.events import SESSION_RESYNC, MobileEvent


class Frame(NamedTuple):
    """One message of the stream: `text` is `{"seq", "type", "data", "ts"}` as JSON."""

    seq: int
    ts: float
    text: str

    def message(self) -> dict[str, Any]:
        return json.loads(self.text)


def _frame(seq: int, type_: str, data: Any, ts: float) -> tuple[int, float, str]:
    text = json.dumps({"seq": seq, "type": type_, "data": data, "ts": ts}, separators=(",", ":"))
    return (seq, ts, text)


class EventStream:
    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        *,
        buffer_size: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot = snapshot
        self._buffer: deque[tuple[int, float, str]] = deque(maxlen=buffer_size)
        self._clock = clock
        self.seq = 0
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False

    def publish(self, event: MobileEvent) -> None:
        self.seq += 1
        self._buffer.append(_frame(self.seq, event.type, event.data, self._clock()))
        self._wake()

    def close(self) -> None:
        """The session ended: readers finish what is buffered, then stop."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():  # a reader that gave up waiting cancelled its own
                waiter.set_result(None)

    def resync_frame(self) -> Frame:
        """A full snapshot as of the current seq (a resumed reader continues after it)."""
        return Frame(*_frame(self.seq, SESSION_RESYNC, self._snapshot(), self._clock()))

    def reader(self, since: int | None = None) -> Reader:
        return Reader(self, since)


class Reader:
    """A cursor into an EventStream. `since=None` starts with a snapshot of now.

    `take()` and `wait()` are the loop of a sender (one future per wait, nothing else:
    what a reader leaves alive between events is what every young garbage collection
    walks, at 2,000 agents); `next_batch()` is the same as one coroutine.
    """

    def __init__(self, stream: EventStream, since: int | None) -> None:
        self._stream = stream
        self._cursor = since if since is not None else -1  # -1: snapshot first
        self.resyncs = 0

    @property
    def ended(self) -> bool:
        """The stream is closed and this reader has taken everything."""
        return self._stream.closed and self._cursor == self._stream.seq

    def wait(self) -> asyncio.Future[None]:
        """Resolved at the stream's next event or close. Cancelling it is this reader's
        own business."""
        waiter = asyncio.get_running_loop().create_future()
        self._stream._waiters.append(waiter)
        return waiter

    async def next_batch(self, timeout: float | None = None) -> list[Frame]:
        """The messages after the cursor, waiting for at least one; [] once the stream is
        closed and drained (or on timeout)."""
        while True:
            batch = self.take()
            if batch or self.ended:
                return list(batch)
            try:
                async with asyncio.timeout(timeout):
                    await self.wait()
            except TimeoutError:
                return []

    def take(self) -> Sequence[Frame]:
        """The messages after the cursor, now; empty if there are none."""
        stream = self._stream
        if self._cursor == stream.seq:
            return ()
        buffer = stream._buffer
        if self._cursor == -1 or self._cursor > stream.seq or self._cursor < buffer[0][0] - 1:
            # A new reader, or one that fell behind the buffer or asked for a `since` that is
            # gone (or from the future): one snapshot replaces everything missed.
            self._cursor = stream.seq
            self.resyncs += 1
            return [stream.resync_frame()]
        # The new frames are the newest ones: taken from the right end of the deque, whose
        # indexing is slow in the middle.
        batch = [Frame._make(f) for f in islice(reversed(buffer), stream.seq - self._cursor)]
        batch.reverse()
        self._cursor = stream.seq
        return batch
