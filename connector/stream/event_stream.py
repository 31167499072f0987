"""One agent's event stream: numbered events, a bounded replay buffer, readers and sinks.

Every event gets the next `seq`. The stream keeps the last `buffer_size` events; a reader is
just a cursor into them (an open WebSocket), so a slow reader costs no memory of its own:
when it falls behind the buffer (or asks to resume from a `since` that is gone), it is sent
one `session.resync` event with a full snapshot, then carries on from there.

An agent has at most `max_readers` readers: a new one past the cap replaces the oldest,
which is told so (`Reader.replaced`) and stops, so a phone that reconnects always gets in
while one token cannot hold thousands of WebSockets.

Sinks are told of every event as it is published (`EventSink`): a shared store, a push
notifier. A sink that is only for an agent nobody is watching (`unattended_only`, e.g.
push) is skipped while the stream is attended: a reader is attached and the app has not
said it went to the background (`visible`). With one process that decision is made here
and nowhere else; with several, the app's readers may be in any process, so each stream
reports them (`on_readers`) and the shared facts decide (connector/push/attention.py).

A reader's sender may also take events as they are published (`Reader.attend`): while it
is caught up and its socket takes writes, each frame is written at publish time, with no
task woken per event (scenarios/bench/hot_path.py and docs/benchmarks.md: that wake and the
coroutine send cost more than the frame's JSON); the first write it refuses hands the
reader back to its sender task, which carries on from the reader's cursor.

Events are kept as frames, already serialised to the JSON text the WebSocket sends, as
plain `(seq, ts, text)` tuples: the collector untracks those (not tuple subclasses such as
`Frame`), so the buffers of thousands of agents stay out of every full collection's walk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import takewhile
from typing import Any, NamedTuple, Protocol

import orjson

from connector.session.events import SESSION_ENDED, SESSION_RESYNC, MobileEvent

SESSION_ENDED_MARK = f'"type":"{SESSION_ENDED}"'  # as _frame() writes it


class Frame(NamedTuple):
    """One message of the stream: `text` is `{"seq", "type", "data", "ts"}` as JSON."""

    seq: int
    ts: float
    text: str

    def message(self) -> dict[str, Any]:
        return json.loads(self.text)


class EventSink(Protocol):
    """Where an agent's events go besides its readers. `deliver` runs on the event loop, at
    publish time, and must not block (hand slow work to a task of its own)."""

    unattended_only: bool  # True: only while no reader is attached (e.g. a push notifier)

    def deliver(self, agent_id: str, frame: Frame) -> None: ...


def _frame(seq: int, type_: str, data: Any, ts: float) -> tuple[int, float, str]:
    # orjson: a fifth of json.dumps's time, compact, UTF-8 as is (the app reads any JSON).
    text = orjson.dumps({"seq": seq, "type": type_, "data": data, "ts": ts}).decode()
    return (seq, ts, text)


class EventStream:
    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        *,
        buffer_size: int = 1000,
        clock: Callable[[], float] = time.time,
        agent_id: str = "",
        sinks: Sequence[EventSink] = (),
        max_readers: int = 0,
        on_readers: Callable[[str, int], None] | None = None,
    ) -> None:
        self.agent_id = agent_id
        # Told of each reader attached (+1) or detached (-1): with several processes, where
        # the agent's WebSockets are is a shared fact (connector/push/attention.py).
        self.on_readers = on_readers
        self._snapshot = snapshot
        self._sinks = tuple(sinks)
        self.max_readers = max_readers  # 0: no cap
        self._readers: list[Reader] = []  # attached now (open WebSockets), oldest first
        self.end_reason = ""
        self._buffer: deque[tuple[int, float, str]] = deque(maxlen=buffer_size)
        self._clock = clock
        self.seq = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._attending: list[Reader] = []  # readers written to at publish time
        self.closed = False
        # False while the app says it is in the background (a phone may keep the WebSocket
        # open for a while there, but nobody sees what it shows): set by the app only.
        self.visible = True

    @property
    def readers(self) -> int:
        """How many readers are attached now."""
        return len(self._readers)

    @property
    def attended(self) -> bool:
        """Whether the app is watching: a live reader is attached, the app on screen."""
        return bool(self._readers) and self.visible

    def publish(self, event: MobileEvent) -> None:
        self.seq += 1
        frame = _frame(self.seq, event.type, event.data, self._clock())
        self._buffer.append(frame)
        if self._attending:
            self._write(frame)
        self._wake()
        if self._sinks:
            attended = bool(self._readers) and self.visible
            for sink in self._sinks:
                if not (attended and sink.unattended_only):
                    sink.deliver(self.agent_id, Frame._make(frame))

    def resume(self, frames: Iterable[tuple[int, float, str]], seq: int) -> None:
        """Carry on a stream kept elsewhere (a restart, a take-over): its newest frames, for
        readers that resume with `since`, and the seq numbering goes on from. `seq` may be
        past the last frame: numbers that a crashed process used but did not store are
        never used again for a different event (Reader.take skips the hole)."""
        self._buffer.extend(frames)
        self.seq = max(seq, self._buffer[-1][0] if self._buffer else 0)
        self._release_all()  # their senders catch up from the cursor

    def relay(self, frames: Iterable[tuple[int, float, str]]) -> None:
        """Frames another process published (a mirror of its stream: their seq kept, no
        sinks told); a `session.ended` one closes the stream with its reason."""
        for frame in frames:
            if frame[0] <= self.seq:
                continue
            self._buffer.append(frame)
            self.seq = frame[0]
            if self._attending:
                self._write(frame)
            if SESSION_ENDED_MARK in frame[2]:
                message = json.loads(frame[2])
                if message["type"] == SESSION_ENDED:
                    self.close(message["data"].get("reason", ""))
        self._wake()

    def close(self, reason: str = "") -> None:
        """The session ended: readers finish what is buffered, then stop. `reason` (a
        `session.ended` reason) tells readers it ended on its own, not by their leaving."""
        self.closed = True
        self.end_reason = reason
        self._release_all()
        self._wake()

    def _write(self, frame: tuple[int, float, str]) -> None:
        """Hand `frame` to each attending reader that is caught up; one that is not, or
        whose write is refused, goes back to its sender task (nothing is lost: the frame
        is in the buffer, after its cursor)."""
        seq = frame[0]
        for reader in list(self._attending):
            if reader._cursor == seq - 1 and reader._push is not None and reader._push(frame):
                reader._cursor = seq
            else:
                reader._release()

    def _release_all(self) -> None:
        for reader in list(self._attending):
            reader._release()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():  # a reader that gave up waiting cancelled its own
                waiter.set_result(None)

    def resync_frame(self) -> Frame:
        """A full snapshot as of the current seq (a resumed reader continues after it)."""
        return Frame(*_frame(self.seq, SESSION_RESYNC, self._snapshot(), self._clock()))

    def reader(self, since: int | None = None) -> Reader:
        """A reader attached until its `close()`; past `max_readers`, the oldest one is
        replaced (detached, `replaced` set, woken so its sender stops)."""
        if self.max_readers and len(self._readers) >= self.max_readers:
            oldest = self._readers[0]
            oldest.replaced = True
            oldest.close()
            self._wake()
        reader = Reader(self, since)
        self._readers.append(reader)
        if self.on_readers is not None:
            self.on_readers(self.agent_id, 1)
        return reader


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
        self.closed = False
        self.replaced = False  # a newer reader of the agent took this one's place
        self._waiter: asyncio.Future[None] | None = None  # of the wait in progress
        # While attending: writes a frame now, False if it cannot (the sender takes over).
        self._push: Callable[[tuple[int, float, str]], bool] | None = None

    def close(self) -> None:
        """Detach from the stream (the WebSocket went away); idempotent."""
        if not self.closed:
            self.closed = True
            self._release()
            stream = self._stream
            stream._readers.remove(self)
            if stream.on_readers is not None:
                stream.on_readers(stream.agent_id, -1)
            self._forget_waiter()

    def _forget_waiter(self) -> None:
        """Take back a wait in progress: else the stream would keep a future per closed
        reader until its next event (WebSocket churn on an agent with no events)."""
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            return
        waiter.cancel()  # done already when the sender was cancelled while waiting
        with contextlib.suppress(ValueError):  # gone: woken since
            self._stream._waiters.remove(waiter)

    @property
    def ended(self) -> bool:
        """The stream is closed and this reader has taken everything."""
        return self._stream.closed and self._cursor == self._stream.seq

    def attend(self, push: Callable[[tuple[int, float, str]], bool]) -> asyncio.Future[None]:
        """Have the stream's frames written by `push` as they are published, while this
        reader is caught up and `push` takes them; resolved when the sender must take over
        again (a write refused, the stream closed or resumed, the reader closed), after
        which `take()` gives what was not written. Only for a caught-up reader (`take()`
        just came back empty)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        if self.closed or self.replaced or self._stream.closed:
            waiter.set_result(None)
            return waiter
        self._push = push
        self._stream._attending.append(self)
        return waiter

    def _release(self) -> None:
        """Stop attending; the sender waiting in `attend` resumes."""
        if self._push is None:
            return
        self._push = None
        self._stream._attending.remove(self)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def wait(self) -> asyncio.Future[None]:
        """Resolved at the stream's next event or close. Cancelling it is this reader's
        own business."""
        waiter = asyncio.get_running_loop().create_future()
        self._stream._waiters.append(waiter)
        self._waiter = waiter
        return waiter

    async def next_batch(self, timeout: float | None = None) -> list[Frame]:
        """The messages after the cursor, waiting for at least one; [] once the stream is
        closed and drained, once replaced (or on timeout)."""
        while True:
            batch = self.take()
            if batch or self.ended or self.replaced:
                return list(batch)
            try:
                async with asyncio.timeout(timeout):
                    await self.wait()
            except TimeoutError:
                return []

    def take(self) -> Sequence[Frame]:
        """The messages after the cursor, now; empty if there are none (or once replaced)."""
        stream = self._stream
        if self._cursor == stream.seq or self.replaced:
            return ()
        buffer = stream._buffer
        cursor = self._cursor
        if cursor == -1 or cursor > stream.seq or not buffer or cursor < buffer[0][0] - 1:
            # A new reader, or one that fell behind the buffer or asked for a `since` that is
            # gone (or from the future): one snapshot replaces everything missed.
            self._cursor = stream.seq
            self.resyncs += 1
            return [stream.resync_frame()]
        # The new frames are the newest ones: taken from the right end of the deque, whose
        # indexing is slow in the middle. (Not by count: a resumed stream may skip numbers.)
        batch = [Frame._make(f) for f in takewhile(lambda f: f[0] > cursor, reversed(buffer))]
        batch.reverse()
        self._cursor = stream.seq
        return batch
