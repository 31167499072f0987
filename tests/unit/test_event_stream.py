from __future__ import annotations

import asyncio

from connector.service.tokens import Tokens
from connector.session.events import MobileEvent
from connector.stream import EventStream


def stream(buffer_size: int = 5) -> EventStream:
    return EventStream(lambda: {"agent": {"state": "READY"}}, buffer_size=buffer_size)


def publish(s: EventStream, n: int) -> None:
    for i in range(n):
        s.publish(MobileEvent("agent.state", {"i": i}))


async def test_a_new_reader_starts_with_a_snapshot_then_live_events():
    s = stream()
    publish(s, 2)
    reader = s.reader()
    [frame] = await reader.next_batch()
    first = frame.message()
    assert frame.seq == first["seq"]
    assert (first["type"], first["seq"], first["data"]) == (
        "session.resync",
        2,
        {"agent": {"state": "READY"}},
    )
    publish(s, 1)
    [live] = [f.message() for f in await reader.next_batch()]
    assert (live["type"], live["seq"]) == ("agent.state", 3)


async def test_resume_since_replays_what_was_missed():
    s = stream()
    publish(s, 4)
    batch = await s.reader(since=2).next_batch()
    assert [m.message()["seq"] for m in batch] == [3, 4]


async def test_resume_since_gone_from_the_buffer_gets_a_resync():
    s = stream(buffer_size=3)
    publish(s, 10)
    [m] = [f.message() for f in await s.reader(since=2).next_batch()]
    assert (m["type"], m["seq"]) == ("session.resync", 10)


async def test_a_slow_reader_is_bounded_and_resynced():
    s = stream(buffer_size=3)
    reader = s.reader(since=0)
    publish(s, 2)
    assert [m.seq for m in await reader.next_batch()] == [1, 2]
    publish(s, 50)  # the reader did not keep up: only 3 are kept
    assert len(s._buffer) == 3
    [m] = [f.message() for f in await reader.next_batch()]
    assert (m["type"], m["seq"]) == ("session.resync", 52)
    assert reader.resyncs == 1


async def test_a_reader_waits_for_the_next_event():
    s = stream()
    reader = s.reader(since=0)
    task = asyncio.ensure_future(reader.next_batch())
    await asyncio.sleep(0)
    assert not task.done()
    publish(s, 1)
    assert [m.seq for m in await asyncio.wait_for(task, 1)] == [1]


def test_frames_hold_the_serialised_message_and_escape_the_collector():
    import gc

    s = stream()
    s.publish(MobileEvent("agent.state", {"state": "READY", "reasonCode": None}))
    [frame] = s.reader(since=0).take()
    assert frame.message() == {
        "seq": 1,
        "type": "agent.state",
        "data": {"state": "READY", "reasonCode": None},
        "ts": frame.ts,
    }
    gc.collect()
    # an untracked tuple of atomic values costs a full collection nothing
    assert not gc.is_tracked(s._buffer[0])


async def test_a_closed_stream_drains_then_ends():
    s = stream()
    reader = s.reader(since=0)
    publish(s, 1)
    s.close()
    assert len(await reader.next_batch()) == 1
    assert await reader.next_batch() == []


def test_tokens_are_random_expire_and_revoke():
    now = [0.0]
    tokens = Tokens(ttl=10, clock=lambda: now[0])
    a, b = tokens.issue("1001"), tokens.issue("1001")
    assert a != b and len(a) >= 40
    assert tokens.agent_of(a) == "1001"
    now[0] = 11
    assert tokens.agent_of(a) is None
    c = tokens.issue("1002")
    assert tokens.revoke_agent("1001") == 1  # b (a already expired)
    assert tokens.agent_of(c) == "1002"


async def test_a_reader_that_stops_waiting_does_not_disturb_the_others():
    s = stream()
    quitter, stayer = s.reader(since=0), s.reader(since=0)
    gave_up = asyncio.ensure_future(quitter.next_batch())
    waiting = asyncio.ensure_future(stayer.next_batch())
    await asyncio.sleep(0)  # both are waiting now
    gave_up.cancel()
    publish(s, 1)
    assert [m.seq for m in await asyncio.wait_for(waiting, 1)] == [1]
    assert gave_up.cancelled()
    assert [m.seq for m in quitter.take()] == [1]  # its cursor did not move


async def test_a_sender_loop_takes_then_waits_until_the_stream_ends():
    s = stream()
    reader = s.reader(since=0)
    assert reader.take() == () and not reader.ended
    waiter = reader.wait()
    publish(s, 2)
    await asyncio.wait_for(waiter, 1)
    assert [m.seq for m in reader.take()] == [1, 2]
    s.close()
    assert reader.ended


async def test_past_the_cap_a_new_reader_replaces_the_oldest():
    s = EventStream(lambda: {}, buffer_size=5, max_readers=2)
    first, second = s.reader(), s.reader()
    waiting = first.wait()
    third = s.reader()
    assert first.replaced and first.closed and waiting.done()  # woken, so its sender stops
    assert not second.replaced and s.readers == 2
    publish(s, 1)
    assert first.take() == () and await first.next_batch() == []
    assert [f.seq for f in third.take()] == [1]  # a snapshot as of seq 1
    first.close()  # idempotent
    assert s.readers == 2


async def test_a_closed_reader_leaves_no_waiter_behind():
    s = stream()
    for _ in range(3):
        reader = s.reader()
        reader.wait()
        reader.close()
    assert s._waiters == [] and s.readers == 0


class Recorder:
    """A sink that keeps the seqs it is told of."""

    def __init__(self, unattended_only: bool) -> None:
        self.unattended_only = unattended_only
        self.seqs: list[int] = []

    def deliver(self, agent_id: str, frame) -> None:
        self.seqs.append(frame.seq)


def test_an_unattended_only_sink_is_told_while_nobody_watches_or_the_app_is_hidden():
    push, store = Recorder(unattended_only=True), Recorder(unattended_only=False)
    s = EventStream(lambda: {}, sinks=(push, store), agent_id="1001")
    publish(s, 1)  # no reader: nobody watches
    reader = s.reader()
    publish(s, 1)  # watched
    s.visible = False  # the app went to the background, its WebSocket still open
    publish(s, 1)
    s.visible = True
    publish(s, 1)
    reader.close()
    publish(s, 1)
    assert push.seqs == [1, 3, 5]
    assert store.seqs == [1, 2, 3, 4, 5]
    assert not s.attended


def frames_of(s: EventStream) -> list[tuple[int, float, str]]:
    return [tuple(f) for f in s.reader(since=0).take()]


async def test_a_resumed_stream_goes_on_past_the_numbers_it_was_told_to_skip():
    """A restart or a take-over: the stored frames, then numbering from the reserved seq;
    a reader at any stored seq, or at a number in the hole, gets what came after it."""
    old = stream(buffer_size=10)
    publish(old, 3)
    stored = frames_of(old)
    s = stream(buffer_size=10)
    s.resume(stored, 3 + 10)
    publish(s, 2)
    assert [f.seq for f in s.reader(since=1).take()] == [2, 3, 14, 15]
    assert [f.seq for f in s.reader(since=3).take()] == [14, 15]
    assert [f.seq for f in s.reader(since=7).take()] == [14, 15]  # seen, never stored
    reader = s.reader(since=15)
    assert reader.take() == ()
    [snapshot] = s.reader(since=16).take()  # from the future: a snapshot
    assert snapshot.message()["type"] == "session.resync"


async def test_an_empty_resumed_stream_answers_an_old_since_with_a_snapshot():
    s = stream()
    s.resume((), 50)
    [snapshot] = s.reader(since=3).take()
    assert (snapshot.seq, snapshot.message()["type"]) == (50, "session.resync")


async def test_a_mirror_relays_frames_in_order_once_and_closes_on_session_ended():
    source = stream(buffer_size=10)
    publish(source, 2)
    source.publish(MobileEvent("session.ended", {"reason": "signed_out", "message": "bye"}))
    frames = frames_of(source)
    mirror = stream(buffer_size=10)
    reader = mirror.reader(since=0)
    mirror.relay(frames[:2])
    mirror.relay(frames[:2])  # read again (an XREAD that overlapped): not relayed twice
    assert [f.seq for f in await reader.next_batch()] == [1, 2]
    assert not mirror.closed
    mirror.relay(frames[2:])
    assert [f.seq for f in await reader.next_batch()] == [3]
    assert mirror.closed and mirror.end_reason == "signed_out" and reader.ended


def caught_up(s: EventStream):
    reader = s.reader(since=s.seq)
    assert not reader.take()
    return reader


async def test_an_attending_reader_gets_each_frame_as_it_is_published_and_no_wake():
    s = stream()
    publish(s, 1)
    reader = caught_up(s)
    written: list[int] = []
    resumed = reader.attend(lambda frame: written.append(frame[0]) or True)
    publish(s, 3)
    assert written == [2, 3, 4]  # at publish time, in order
    assert not resumed.done()  # the sender was not woken for them
    assert not reader.take()  # its cursor went on with the writes
    assert s._waiters == []


async def test_a_refused_write_hands_the_reader_back_to_its_sender_with_nothing_lost():
    s = stream()
    reader = caught_up(s)
    takes = iter([True, False])
    written: list[int] = []

    def push(frame) -> bool:
        ok = next(takes, False)
        if ok:
            written.append(frame[0])
        return ok

    resumed = reader.attend(push)
    publish(s, 3)
    assert written == [1]
    assert resumed.done()
    assert [f.seq for f in reader.take()] == [2, 3]  # the sender sends the rest


async def test_an_attending_reader_is_released_when_replaced_closed_or_the_stream_ends():
    s = EventStream(dict, buffer_size=5, max_readers=1)
    first = caught_up(s)
    resumed = first.attend(lambda frame: True)
    s.reader(since=0)  # past the cap: replaces the first
    assert resumed.done() and first.replaced and s._attending == []

    s = stream()
    reader = caught_up(s)
    resumed = reader.attend(lambda frame: True)
    s.close("signed_out")
    assert resumed.done() and reader.ended and s._attending == []

    reader = caught_up(stream())
    resumed = reader.attend(lambda frame: True)
    reader.close()
    assert resumed.done()


async def test_frames_relayed_from_another_process_reach_an_attending_reader():
    s = stream()
    reader = caught_up(s)
    written: list[int] = []
    reader.attend(lambda frame: written.append(frame[0]) or True)
    s.relay([(1, 0.0, '{"seq":1}'), (2, 0.0, '{"seq":2}')])
    assert written == [1, 2]
