"""One agent's event stream: numbered events, a bounded replay buffer, readers that resume.

Every event gets the next `seq`. The stream keeps the last `buffer_size` events; a reader is
just a cursor into them, so a slow reader costs no memory of its own: when it falls behind
the buffer (or asks to resume from a `since` that is gone), it is sent one
`session.resync` event with a full snapshot, then carries on from there.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from connector.session.events import SESSION_RESYNC, MobileEvent

Message = dict[str, Any]


class EventStream:
    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        *,
        buffer_size: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot = snapshot
        self._buffer: deque[Message] = deque(maxlen=buffer_size)
        self._clock = clock
        self.seq = 0
        self._changed = asyncio.Event()
        self.closed = False

    def publish(self, event: MobileEvent) -> Message:
        self.seq += 1
        message = {"seq": self.seq, "type": event.type, "data": event.data, "ts": self._clock()}
        self._buffer.append(message)
        self._wake()
        return message

    def close(self) -> None:
        """The session ended: readers finish what is buffered, then stop."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def resync_message(self) -> Message:
        """A full snapshot as of the current seq (a resumed reader continues after it)."""
        return {
            "seq": self.seq,
            "type": SESSION_RESYNC,
            "data": self._snapshot(),
            "ts": self._clock(),
        }

    def reader(self, since: int | None = None) -> Reader:
        return Reader(self, since)


class Reader:
    """A cursor into an EventStream. `since=None` starts with a snapshot of now."""

    def __init__(self, stream: EventStream, since: int | None) -> None:
        self._stream = stream
        self._cursor = since if since is not None else -1  # -1: snapshot first
        self.resyncs = 0

    async def next_batch(self, timeout: float | None = None) -> list[Message]:
        """The messages after the cursor, waiting for at least one; [] once the stream is
        closed and drained (or on timeout)."""
        stream = self._stream
        while True:
            batch = self._take()
            if batch or stream.closed:
                return batch
            try:
                await asyncio.wait_for(stream._changed.wait(), timeout)
            except TimeoutError:
                return []

    def _take(self) -> list[Message]:
        stream = self._stream
        if self._cursor == stream.seq:
            return []
        buffer = stream._buffer
        if self._cursor == -1 or self._cursor > stream.seq or self._cursor < buffer[0]["seq"] - 1:
            # A new reader, or one that fell behind the buffer or asked for a `since` that is
            # gone (or from the future): one snapshot replaces everything missed.
            self._cursor = stream.seq
            self.resyncs += 1
            return [stream.resync_message()]
        start = self._cursor - buffer[0]["seq"] + 1
        batch = [buffer[i] for i in range(start, len(buffer))]
        self._cursor = stream.seq
        return batch
