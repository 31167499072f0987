"""The Redis state store with a real redis-server: tokens, sessions taken up after a crash,
frames kept while Redis is away. The agent use cases run over the simulator's model (the
ports of test_agent_service), so what is tested here is the store and the take-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from connector.errors import AgentError, Refusal
from connector.finesse.models import MobileAgent
from connector.metrics import Metrics
from connector.service.agents import AgentService, ServiceSettings
from connector.store.redis_state import NOTICE_FRAMES, RedisState
from connector.store.sealing import Sealer, generate_key
from connector.stream import Frame
from scenarios.stack.redis_lab import RedisServer
from tests.unit.conftest import make_world
from tests.unit.test_agent_service import LoopbackTransport, ModelFinesse

pytestmark = pytest.mark.integration
MOBILE = MobileAgent("CALL_BY_CALL", "+15551230001")
KEY = generate_key()


def store(redis_lab: RedisServer, **kw) -> RedisState:
    return RedisState(
        redis_lab.url, Sealer(kw.pop("key", KEY)), token_ttl=kw.pop("ttl", 3600.0), depth=50, **kw
    )


class Process:
    """One connector process's service over a shared model and Redis."""

    def __init__(self, state: RedisState, finesse: ModelFinesse) -> None:
        self.state = state
        self.agents = AgentService(
            finesse,
            finesse.transport,
            state,
            Metrics(),
            settings=ServiceSettings(event_buffer=50, reconcile_interval=0),
            sinks=[state],
        )


@pytest.fixture
def finesse() -> ModelFinesse:
    world = make_world()
    return ModelFinesse(world, LoopbackTransport(world))


async def test_tokens_are_hashes_and_a_revocation_is_seen_by_every_process(redis_lab):
    one, two = store(redis_lab), store(redis_lab)
    await one.start()
    await two.start()
    try:
        token = await one.issue_token("1001")
        assert await two.lookup_token(token) == ("1001", False)
        raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
        keys = await raw.keys("*")
        assert not any(token in k for k in keys)  # only its hash is kept
        for key in keys:
            if key.startswith("mobagent:token:"):
                assert token not in json.dumps(await raw.hgetall(key))
        await raw.aclose()
        await one.revoke_tokens("1001")
        assert await two.lookup_token(token) == (None, False)
    finally:
        await one.close()
        await two.close()


async def test_an_expired_token_says_so_once(redis_lab):
    now = [1000.0]
    state = store(redis_lab, ttl=10.0, clock=lambda: now[0])
    await state.start()
    try:
        token = await state.issue_token("1001")
        now[0] += 11
        assert await state.lookup_token(token) == (None, True)
        assert await state.lookup_token(token) == (None, False)
    finally:
        await state.close()


async def test_a_crashed_process_sessions_are_taken_up_with_the_gap_as_events(redis_lab, finesse):
    first = Process(store(redis_lab), finesse)
    await first.state.start()
    token, link = await first.agents.sign_in("1001", "password", "5001", MOBILE)
    await first.agents.set_state(link, "READY")
    finesse.transport.pump()
    assert link.session.user is not None and link.session.user.state == "READY"
    await first.state.flush()
    seen = link.stream.seq  # the app saw everything so far
    # The process dies: no sign-out, no flush, its notification session just goes.
    finesse.transport.listeners.clear()
    finesse.world.make_call("1001", "5002")  # a call starts while nobody listens
    (dialog,) = finesse.world.dialogs("1001")

    # Started again on the same node and port: the same owner, its leases taken back.
    second = Process(store(redis_lab, owner=first.state.owner), finesse)
    await second.state.start()
    try:
        assert await second.agents.take_up(await second.state.claim_stored()) == 1
        again = await second.agents.authenticate(token)
        assert again.creds.password == "password"
        gap = [f.message() for f in again.stream.reader(since=seen).take()]
        assert all(m["seq"] > seen for m in gap)
        created = [m for m in gap if m["type"] == "dialog.created"]
        assert [m["data"]["id"] for m in created] == [dialog.id]
        states = [m["data"]["state"] for m in gap if m["type"] == "agent.state"]
        assert states == [finesse.world.user("1001").state] != ["READY"]
        await second.state.flush()
        raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
        stored = await raw.hgetall("mobagent:session:1001")
        assert "password" not in stored["password"] and stored["password"] != "password"
        assert stored["password"].startswith(Sealer(KEY).current + ":")
        await raw.aclose()
    finally:
        await second.agents.close_all()
        await second.state.close()
        await first.state.close()


async def test_a_sign_out_ends_the_session_in_the_store(redis_lab, finesse):
    process = Process(store(redis_lab), finesse)
    await process.state.start()
    try:
        token, link = await process.agents.sign_in("1001", "password", "5001", None)
        await process.agents.sign_out(link, "3")
        await process.state.flush()
        assert await process.state.stored_sessions() == []
        with pytest.raises(AgentError) as refused:
            await process.agents.authenticate(token)
        assert refused.value.kind is Refusal.UNAUTHORIZED
        raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
        last = await raw.xrevrange("mobagent:stream:1001", count=1)
        assert json.loads(last[0][1]["f"])["type"] == "session.ended"
        assert 0 < await raw.pttl("mobagent:stream:1001") <= 300_000
        await raw.aclose()
    finally:
        await process.agents.close_all()
        await process.state.close()


async def test_frames_are_written_by_the_scripts_sha_alone_and_a_lost_script_is_loaded_again(
    redis_lab, finesse
):
    """No SCRIPT EXISTS round trip before each write (redis-py's pipelined scripts ask it);
    a Redis that lost its scripts (SCRIPT FLUSH, as after a restart) gets the journal's
    script again, and the frame is written."""
    async with alone(redis_lab, finesse) as (process, raw):
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await process.state.flush()
        await raw.config_resetstat()
        for state_name, reason in (("READY", None), ("NOT_READY", 2)):
            await process.agents.set_state(link, state_name, reason)
            finesse.transport.pump()
            await process.state.flush()
        stats = await raw.info("commandstats")
        assert stats["cmdstat_evalsha"]["calls"] >= 2
        assert "cmdstat_script|exists" not in stats
        await raw.script_flush()
        await process.agents.set_state(link, "READY", None)
        finesse.transport.pump()
        await process.state.flush()
        last = await raw.xrevrange("mobagent:stream:1001", count=1)
        assert json.loads(last[0][1]["f"])["data"]["state"] == "READY"
        assert int(last[0][0].partition("-")[0]) == link.stream.seq
        assert process.state.unavailable() is None


@contextlib.asynccontextmanager
async def alone(
    redis_lab: RedisServer, finesse: ModelFinesse
) -> AsyncIterator[tuple[Process, aioredis.Redis]]:
    """One process on the store, and a plain client to look into Redis."""
    process = Process(store(redis_lab), finesse)
    await process.state.start()
    raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
    try:
        yield process, raw
    finally:
        await raw.aclose()
        await process.agents.close_all()
        await process.state.close()


class Following:
    """Process A holds agent 1001; process B serves its app, so B follows A's stream in a
    mirror (B's sweep of every followed stream made rare: only the feed tells B)."""

    def __init__(self, redis_lab: RedisServer, finesse: ModelFinesse, sweep: float) -> None:
        self.finesse = finesse
        self.a = Process(store(redis_lab), finesse)
        self.b = Process(store(redis_lab, sweep=sweep), finesse)
        self.raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)

    async def __aenter__(self) -> Following:
        await self.a.state.start()
        await self.b.state.start()
        token, self.link = await self.a.agents.sign_in("1001", "password", "5001", MOBILE)
        await self.a.state.flush()
        view = await self.b.agents.authenticate(token)
        assert not self.b.agents.held_here(view)
        self.mirror = await self.b.agents.events(view)
        self.reader = self.mirror.reader(since=self.mirror.seq)
        # A first change, caught up with (the follower's first round reads a new mirror's
        # stream anyway); from then on the feed tells B.
        await self.change("NOT_READY", 2)
        await self.caught_up(self.link.stream.seq)
        self.reader.take()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.reader.close()
        await self.raw.aclose()
        for process in (self.a, self.b):
            await process.agents.close_all()
            await process.state.close()

    async def change(self, state_name: str, reason: int | None = None) -> None:
        await self.a.agents.set_state(self.link, state_name, reason)
        self.finesse.transport.pump()
        await self.a.state.flush()

    async def caught_up(self, seq: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while self.mirror.seq < seq:
                await self.reader.wait()


class Monitor:
    """The commands clients send Redis meanwhile (MONITOR), as text."""

    def __init__(self, raw: aioredis.Redis) -> None:
        self.raw, self.seen = raw, []
        self._heard = asyncio.Event()  # set at each command seen

    async def __aenter__(self) -> Monitor:
        self._monitor = await self.raw.monitor().__aenter__()

        async def listen() -> None:
            async for info in self._monitor.listen():
                if info["client_type"] != "lua":  # those a script runs: its call is seen
                    self.seen.append(info["command"])
                    self._heard.set()

        self._task = asyncio.ensure_future(listen())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await self._monitor.__aexit__()

    async def until(self, predicate, timeout: float = 5.0) -> str:
        """The first command seen that `predicate` accepts, waiting for it."""
        checked = 0
        async with asyncio.timeout(timeout):
            while True:
                self._heard.clear()
                for command in self.seen[checked:]:
                    if predicate(command):
                        return command
                checked = len(self.seen)
                await self._heard.wait()

    async def settled(self) -> list[str]:
        """Everything Redis ran until now (a marker echoed after it)."""
        marker = f"ECHO settled-{len(self.seen)}"
        await self.raw.echo(marker.partition(" ")[2])
        await self.until(lambda c: c == marker)
        return self.seen


async def test_a_stream_another_process_writes_is_relayed_from_the_feed_of_changes(
    redis_lab, finesse
):
    """A's frames reach B's mirror in the notices of the feed of changes, in order and each
    once: B reads the feed only (a request a round), never A's stream itself, and well
    before its periodic read of every followed stream."""
    async with Following(redis_lab, finesse, sweep=60.0) as f, Monitor(f.raw) as redis:
        first = f.mirror.seq
        for state_name, reason in (("READY", None), ("NOT_READY", 2), ("READY", None)):
            await f.change(state_name, reason)
        await f.caught_up(f.link.stream.seq)
        frames = [json.loads(frame.text) for frame in f.reader.take()]
        assert [m["seq"] for m in frames] == list(range(first + 1, f.link.stream.seq + 1))
        states = [m["data"]["state"] for m in frames if m["type"] == "agent.state"]
        assert states[-3:] == ["READY", "NOT_READY", "READY"]
        commands = await redis.settled()
        assert any(c.startswith("XREAD") and "mobagent:changes" in c for c in commands)
        reads = ("XREAD", "XRANGE", "XREVRANGE")
        assert not [c for c in commands if c.startswith(reads) and "mobagent:stream:" in c]


@pytest.mark.parametrize("notice", ["skips a frame", "carries no frames"])
async def test_a_notice_that_does_not_carry_every_new_frame_has_the_stream_read(
    redis_lab, finesse, notice
):
    """A notice trimmed from the feed before B read it (the next one then skips frames), or
    one written by a journal that put no frames in its notices (an earlier version, in a
    rolling upgrade): B reads the stream itself, from its mirror's place, at once."""
    async with Following(redis_lab, finesse, sweep=60.0) as f:
        seq = f.mirror.seq
        texts = [json.dumps({"type": "agent.state", "seq": n, "data": {}}) for n in (1, 2)]
        for n, text in enumerate(texts, start=seq + 1):
            await f.raw.xadd("mobagent:stream:1001", {"t": "1.5", "f": text}, id=f"{n}-0")
        fields = {"a": "1001"}
        if notice == "skips a frame":
            fields[str(seq + 2)] = f"1.5 {texts[1]}"
        await f.raw.xadd("mobagent:changes", fields)
        await f.caught_up(seq + 2)
        assert [frame.text for frame in f.reader.take()] == texts


async def test_a_feed_of_changes_that_went_back_is_followed_again_at_the_sweep(redis_lab, finesse):
    """A Redis that lost the feed (replaced, on a host whose clock is behind) numbers its
    notices below B's place in the old feed: at its sweep B takes the new feed's end."""
    async with Following(redis_lab, finesse, sweep=0.5) as f, Monitor(f.raw) as redis:
        ahead = "99999999999999-0"
        await f.raw.xadd("mobagent:changes", {"a": "nobody"}, id=ahead)
        await redis.until(lambda c: c.startswith("XREAD") and c.endswith(f"changes {ahead}"))
        await f.raw.delete("mobagent:changes")
        await f.change("READY")
        await redis.until(
            lambda c: c.startswith("XREAD") and "changes" in c and not c.endswith(ahead)
        )
        await f.caught_up(f.link.stream.seq)


async def test_a_stream_nobody_reads_any_more_is_let_go(redis_lab, finesse):
    """The app's WebSocket closed: B stops following A's stream at its next sweep (the
    follower ends with nothing left to follow), and follows it afresh for a new reader."""
    async with Following(redis_lab, finesse, sweep=0.3) as f:
        follower = f.b.state._follower
        assert follower is not None and not follower.done()
        f.reader.close()
        async with asyncio.timeout(5):
            await follower
        await f.change("READY")
        view = await f.b.agents.authenticate(await f.a.state.issue_token("1001"))
        again = await f.b.agents.events(view)
        assert again is not f.mirror and again.seq == f.link.stream.seq
        f.mirror, f.reader = again, again.reader(since=again.seq)
        await f.change("NOT_READY", 2)
        await f.caught_up(f.link.stream.seq)


async def test_a_notice_carries_the_frames_of_a_small_write_and_none_of_a_backlog(
    redis_lab, finesse
):
    """A write of a few frames (nearly all of them) puts them in its notice; a backlog (after
    an outage) only names the agent, its followers read the stream: the feed stays small."""
    async with alone(redis_lab, finesse) as (process, raw):
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await process.state.flush()
        seq = link.stream.seq
        for count in (NOTICE_FRAMES, NOTICE_FRAMES + 1):
            frames = [Frame(n, 1.5, f'{{"seq":{n}}}') for n in range(seq + 1, seq + count + 1)]
            for frame in frames:  # queued together: one write
                process.state.deliver("1001", frame)
            await process.state.flush()
            ((_, notice),) = await raw.xrevrange("mobagent:changes", count=1)
            carried = {k: v for k, v in notice.items() if k != "a"}
            assert notice["a"] == "1001"
            if count <= NOTICE_FRAMES:
                assert carried == {str(f.seq): f"1.5 {f.text}" for f in frames}
            else:
                assert carried == {}
            entries = await raw.xrange("mobagent:stream:1001", min=f"{seq + 1}-0")
            assert [v["f"] for _, v in entries] == [f.text for f in frames]
            seq += count


async def test_a_new_session_keeps_the_stream_its_previous_one_left_to_expire(redis_lab, finesse):
    """A session's end leaves its stream to expire (for an app that reads it late); the
    agent signs in again meanwhile: the new session's frames must not expire with it."""
    async with alone(redis_lab, finesse) as (process, raw):
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await process.agents.sign_out(link, "3")
        await process.state.flush()
        assert await raw.pttl("mobagent:stream:1001") > 0
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await process.state.flush()
        assert await raw.pttl("mobagent:stream:1001") == -1  # kept while the session is
        assert int((await raw.xrevrange("mobagent:stream:1001", count=1))[0][0][:-2]) == (
            link.stream.seq
        )


async def test_while_redis_is_away_sign_ins_wait_and_frames_are_written_in_order_after(
    persistent_redis, finesse
):
    redis_lab = persistent_redis
    process = Process(store(redis_lab, probe_interval=0.05), finesse)
    state = process.state
    await state.start()
    try:
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await state.flush()
        redis_lab.stop()
        async with asyncio.timeout(5):
            await state.lost.wait()  # the probe notices
        assert "does not answer" in (state.unavailable() or "")
        with pytest.raises(AgentError) as refused:
            await process.agents.sign_in("1002", "password", "5002", None)
        assert refused.value.kind is Refusal.STATE_UNAVAILABLE
        for state_name, reason in (("READY", None), ("NOT_READY", 2), ("READY", None)):
            await process.agents.set_state(link, state_name, reason)
            finesse.transport.pump()
        published = link.stream.seq
        redis_lab.start()  # same port, same data (its append-only file)
        async with asyncio.timeout(10):
            await state.answering.wait()
        await state.flush()
        raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
        entries = await raw.xrange("mobagent:stream:1001")
        seqs = [int(i.partition("-")[0]) for i, _ in entries]
        assert seqs == sorted(seqs) and seqs[-1] == published
        assert [json.loads(v["f"])["data"]["state"] for _, v in entries[-3:]] == [
            "READY",
            "NOT_READY",
            "READY",
        ]
        assert (await state.stored_sessions())[0].agent_id == "1001"
        await raw.aclose()
    finally:
        await process.agents.close_all()
        await state.close()


async def test_a_process_that_lost_its_lease_is_fenced_and_lets_go(redis_lab, finesse):
    """A's lease lapses (as after a pause) and B claims the agent: A's queued frames are
    not written, A is told to let go; a lease that lapsed with nobody claiming since (a
    Redis restart) is A's again at its next write."""
    a = Process(store(redis_lab, owner="node-a:1"), finesse)
    b = store(redis_lab, owner="node-b:1")
    lost: list[str] = []
    a.state.watch(lost.append, lambda _stored: None)
    await a.state.start()
    await b.start()
    raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
    try:
        _, link = await a.agents.sign_in("1001", "password", "5001", MOBILE)
        await a.state.flush()
        assert (await raw.get("mobagent:lease:1001")).startswith("node-a:1|")
        assert await b.claim("1001") is None  # held

        await raw.delete("mobagent:lease:1001")  # lapsed; nobody claimed it since
        await a.agents.set_state(link, "READY")
        finesse.transport.pump()
        await a.state.flush()
        assert (await raw.get("mobagent:lease:1001")).startswith("node-a:1|")  # A's again
        assert lost == []

        await raw.delete("mobagent:lease:1001")  # lapsed again, and now B claims it
        assert await b.claim("1001") is not None
        written = await raw.xlen("mobagent:stream:1001")
        await a.agents.set_state(link, "NOT_READY", 2)
        finesse.transport.pump()
        await a.state.flush()
        assert lost == ["1001"]  # fenced: told to let go
        assert await raw.xlen("mobagent:stream:1001") == written  # and nothing written
        assert (await raw.get("mobagent:lease:1001")).startswith("node-b:1|")
    finally:
        await raw.aclose()
        await a.agents.close_all()
        await a.state.close()
        await b.close()


async def test_before_a_reconnect_the_lease_is_asked_of_redis(redis_lab, finesse):
    """A notification session about to reconnect asks first (`AgentLink.may_reconnect`):
    yes while the lease is ours, or lapsed with nobody claiming it since (it is ours again);
    no once another process claimed it, and the agent is let go here; yes while Redis does
    not answer (cut off, a process carries on)."""
    a = Process(store(redis_lab, owner="node-a:1"), finesse)
    b = store(redis_lab, owner="node-b:1")
    await a.state.start()
    await b.start()
    raw = aioredis.Redis.from_url(redis_lab.url, decode_responses=True)
    try:
        _, link = await a.agents.sign_in("1001", "password", "5001", MOBILE)
        assert await link.may_reconnect()
        await raw.delete("mobagent:lease:1001")  # lapsed; nobody claimed it since
        assert await link.may_reconnect()
        assert (await raw.get("mobagent:lease:1001")).startswith("node-a:1|")
        redis_lab.stop()
        assert await link.may_reconnect()  # Redis away: carry on
        redis_lab.start()  # empty, as nothing was persisted
        assert await link.may_reconnect()  # and its lease and session are written again
        assert await raw.exists("mobagent:session:1001")
        await raw.delete("mobagent:lease:1001")  # lapsed again (a pause), and B claims it
        assert await b.claim("1001") is not None
        assert not await link.may_reconnect()
        assert not a.agents.held_here(link) and "1001" not in a.agents.links
    finally:
        await raw.aclose()
        await a.agents.close_all()
        await a.state.close()
        await b.close()


async def test_a_new_session_numbers_its_events_after_the_previous_one(redis_lab, finesse):
    """The stream of a session that ended stays readable a while: the next session of the
    agent goes on after its last seq, so its frames are written (not taken for old ones)."""
    async with alone(redis_lab, finesse) as (process, raw):
        _, first = await process.agents.sign_in("1001", "password", "5001", None)
        await process.agents.sign_out(first, "3")
        await process.state.flush()
        ended = first.stream.seq
        _, second = await process.agents.sign_in("1001", "password", "5001", None)
        await process.state.flush()
        assert second.stream.seq > ended
        (entry_id, last), *_ = await raw.xrevrange("mobagent:stream:1001", count=1)
        assert int(entry_id.partition("-")[0]) == second.stream.seq
        assert json.loads(last["f"])["type"] != "session.ended"


async def test_a_redis_that_lost_everything_gets_the_sessions_back_from_their_holder(
    redis_lab, finesse
):
    """Redis restarted without persistence: the process holding the session keeps it (the
    agent is not let go, so not logged out) and writes it again at its next renewal."""
    process = Process(store(redis_lab, owner="node-a:1"), finesse)
    lost: list[str] = []
    process.state.watch(lost.append, lambda _stored: None)
    await process.state.start()
    try:
        _, link = await process.agents.sign_in("1001", "password", "5001", MOBILE)
        await process.state.flush()
        redis_lab.stop()
        redis_lab.start()  # empty
        assert await process.state.stored_sessions() == []
        await process.state.renew_leases()
        (stored,) = await process.state.stored_sessions()
        assert (stored.agent_id, stored.password, stored.mobile_mode) == (
            "1001",
            "password",
            "CALL_BY_CALL",
        )
        assert lost == [] and process.agents.held_here(link)
        # Another process does not take it: the lease is the holder's again.
        other = store(redis_lab, owner="node-b:1")
        await other.start()
        assert await other.claim("1001") is None
        await other.close()
    finally:
        await process.agents.close_all()
        await process.state.close()
