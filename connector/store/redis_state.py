"""State in Redis (`--state redis://host:port/db`): what a restarted connector, or another
process, needs to carry on for an agent.

Keys (all under `mobagent:`):

- `token:<sha256 of the token>`, hash: `agent`, `exp` (epoch s); it expires a day after
  `exp` (until then, presenting it says "expired", not "unknown");
- `tokens:<agent>`, set: the hashes of the agent's tokens (revocation deletes them all);
- `session:<agent>`, hash: `extension`, `mode`, `dial`, `password` (sealed: sealing.py),
  `seq` (the highest seq used or reserved), `user` and `dialogs` (Finesse's XML: the
  snapshot);
- `sessions`, set: the agents signed in;
- `stream:<agent>`, stream: the agent's frames, id `<seq>-0`, fields `t` (ts) and `f` (the
  frame's JSON); capped at the replay depth;
- `changes`, stream, the feed of changes: a notice per write that made an agent's stream
  longer, with the frames it added unless more than `NOTICE_FRAMES` (field `a`: the agent;
  per frame, field `<seq>`: "ts text"), capped near `FEED_LENGTH`: what a process that
  follows other processes' streams reads;
- `lease:<agent>` ("owner|epoch", expiring) and `epoch:<agent>` (a counter): which process
  holds the agent's notification session, and the number that fences one that lost it;
- Web Push's (`redis_push.py`): `push:<agent>` and `pushorder:<agent>` (the browsers'
  subscriptions), `hidden` in `session:<agent>` (the app is in the background),
  `watching:<agent>` (event WebSockets open per process) and `process:<id>` (expiring).

Leases: a process claims an agent (a new sign-in, a lapsed lease), renews what it holds
every third of `lease_ttl`, and looks for lapsed leases every sixth; every write of an
agent's frames is fenced by its lease (redis_scripts.py).

Frames reach Redis through this store's event sink: `deliver` only queues (it runs at
publish time, on the loop); one writer task writes each agent's new frames and its snapshot
with one script call per agent, so the snapshot always matches the frames written with it.
The script skips frames already written (a retry after a reply that was lost) and is the
one place a frame is written. While Redis does not answer, frames wait in memory (the
newest `depth` per agent: older ones the stream's cap would drop anyway) and are written in
order when it is back; `unavailable()` says why meanwhile, so sign-ins are refused (503)
and `/readyz` tells.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import itertools
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from connector.errors import AgentError, Refusal
from connector.finesse import codec
from connector.service.ports import LiveSession, StoredSession
from connector.store.redis_scripts import CLAIM, JOURNAL, RENEW, REVOKE, UNLEASED
from connector.store.sealing import Sealer, SealError
from connector.stream import EventStream, Frame

log = logging.getLogger("connector.store")
PREFIX = "mobagent:"
TOKEN_GRACE = 24 * 3600.0  # an expired token is kept this long to say "expired", not "unknown"
CHANGES = f"{PREFIX}changes"
# Notices kept in the feed of changes (about): seconds at thousands of events a second; a
# follower further behind reads the streams themselves. A notice carries the frames of its
# write when they are at most NOTICE_FRAMES (nearly always one or two): the feed stays a
# few MB, at most about 10,000 x 4 frames.
FEED_LENGTH = 10_000
NOTICE_FRAMES = 4
SWEEP = 5.0  # s between reads of every followed stream (a change notice trimmed away)
ENDED_STREAM_TTL_MS = 300_000  # a finished session's stream, for an app that reads it late
RETRY_MIN, RETRY_MAX = 0.1, 2.0  # s between attempts while Redis does not answer


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stream_id(text: str) -> tuple[int, int]:
    ms, _, n = text.partition("-")
    return int(ms), int(n or 0)


def key_of(kind: str, agent_id: str) -> str:
    return f"{PREFIX}{kind}:{agent_id}"


def _frames(entries: Iterable[tuple[str, dict[str, str]]]) -> tuple[tuple[int, float, str], ...]:
    """Stream entries (id `<seq>-0`, fields `t` and `f`) as frames."""
    return tuple((int(i.partition("-")[0]), float(v["t"]), v["f"]) for i, v in entries)


@dataclass
class _Journal:
    """An agent's frames not yet in Redis, and whether its session ended after them."""

    frames: deque[Frame]
    ended: bool = False


@dataclass
class _Batch:
    agent_id: str
    frames: list[Frame]
    ended: bool
    lease: str
    user: str = ""
    dialogs: str = ""
    done: list[str] = field(default_factory=list)


class RedisState:
    durable = True

    def __init__(
        self,
        url: str,
        sealer: Sealer,
        *,
        token_ttl: float,
        depth: int,
        owner: str = "",
        lease_ttl: float = 5.0,
        probe_interval: float = 1.0,
        sweep: float = SWEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        # This process, in lease values: stable for a node and port (a restarted process
        # takes its own leases back at once), else random.
        self.owner = owner or secrets.token_hex(6)
        self.lease_ttl = lease_ttl
        self._held: dict[str, str] = {}  # agent -> our lease value ("owner|epoch")
        self._on_lost: Callable[[str], None] = lambda _agent: None
        self._on_orphans: Callable[[list[StoredSession]], None] = lambda _stored: None
        self._suspects: dict[str, float] = {}  # agents seen without a lease: since when
        self._mirrors: dict[str, EventStream] = {}  # agents other processes hold, followed
        self._follower: asyncio.Task[None] | None = None
        self._joined: set[str] = set()  # followed since the follower's last round
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            # Once at once (a pooled connection Redis closed when it restarted); beyond that
            # our own retries: frames wait in memory meanwhile.
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        self._sealer = sealer
        self.token_ttl = token_ttl
        self.depth = depth
        self._clock = clock
        self._probe_interval = probe_interval
        self._sweep = sweep
        self._journals: dict[str, _Journal] = {}  # agents with frames to write, in order
        self._live: dict[str, LiveSession] = {}
        self._records: dict[str, StoredSession] = {}  # how each held session was stored
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._problem: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._journal = self._redis.register_script(JOURNAL)
        self._revoke = self._redis.register_script(REVOKE)
        self._claim = self._redis.register_script(CLAIM)
        self._renew = self._redis.register_script(RENEW)
        self._unleased = self._redis.register_script(UNLEASED)
        self.unavailable_since: float | None = None
        self.answering = asyncio.Event()  # set while Redis answers (for waiting on it)
        self.lost = asyncio.Event()  # set while it does not

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._redis.ping()
            self._ok()
        except RedisError as exc:
            self._failed(exc)
            log.warning("Redis at %s does not answer (%s); still trying", self._where(), exc)
        self._tasks = [
            asyncio.ensure_future(self._writer()),
            asyncio.ensure_future(self._probe()),
            asyncio.ensure_future(self._leases()),
        ]

    async def flush(self) -> None:
        """Write every frame queued so far (a RedisError if Redis does not answer)."""
        await self._write_all()

    async def close(self) -> None:
        """Write what is queued (if Redis answers), then stop."""
        with contextlib.suppress(RedisError, TimeoutError):
            async with asyncio.timeout(2.0):
                await self._write_all()
        # The loops also stop at this flag: a cancellation that lands as an asyncio.timeout
        # expires can be taken for the timeout (Python 3.11), and the loop would go on.
        self._closed = True
        tasks = [t for t in (*self._tasks, self._follower) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await self._redis.aclose()

    def _where(self) -> str:
        return self.url.partition("@")[2] or self.url  # never a password in the URL

    def unavailable(self) -> str | None:
        return self._problem

    def _failed(self, exc: BaseException) -> None:
        if self._problem is None:
            self.unavailable_since = self._clock()
            log.warning("Redis unavailable: %s", exc)
        self.answering.clear()
        self.lost.set()
        self._problem = f"Redis at {self._where()} does not answer: {exc or type(exc).__name__}"

    def _ok(self) -> None:
        if self._problem is not None:
            log.warning("Redis answers again")
        self._problem = None
        self.unavailable_since = None
        self.answering.set()
        self.lost.clear()

    async def _probe(self) -> None:
        """Notice Redis going away (or coming back) even when nothing is written."""
        while not self._closed:
            await asyncio.sleep(self._probe_interval)
            try:
                await self._redis.ping()
            except RedisError as exc:
                self._failed(exc)
                continue
            if self._problem is not None:
                self._wake.set()  # the writer retries now rather than after its back-off

    def _refused(self, exc: BaseException) -> AgentError:
        self._failed(exc)
        return AgentError(Refusal.STATE_UNAVAILABLE, "the connector's state store is unavailable")

    refused = _refused  # for the adapters sharing this store's connection (redis_push.py)

    @property
    def redis(self) -> aioredis.Redis:
        """The connection pool, shared with the other adapters on this store."""
        return self._redis

    # -- tokens -------------------------------------------------------------------------------

    async def issue_token(self, agent_id: str) -> str:
        token = secrets.token_urlsafe(32)
        digest = _hash(token)
        expires = self._clock() + self.token_ttl
        key = key_of("token", digest)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"agent": agent_id, "exp": repr(expires)})
                pipe.expire(key, int(self.token_ttl + TOKEN_GRACE) + 1)
                pipe.sadd(key_of("tokens", agent_id), digest)
                await pipe.execute()
        except RedisError as exc:
            raise self._refused(exc) from exc
        return token

    async def lookup_token(self, token: str) -> tuple[str | None, bool]:
        if not token.isascii():  # never one of ours (and a lone surrogate cannot be hashed)
            return None, False
        key = key_of("token", _hash(token))
        try:
            agent_id, expires = await self._redis.hmget(key, ["agent", "exp"])
            if agent_id is None or expires is None:
                return None, False
            if self._clock() >= float(expires):
                await self._redis.delete(key)
                return None, True
        except RedisError as exc:
            raise self._refused(exc) from exc
        return agent_id, False

    async def revoke_tokens(self, agent_id: str) -> None:
        try:
            await self._revoke(keys=[key_of("tokens", agent_id)])
        except RedisError as exc:
            raise self._refused(exc) from exc

    # -- sessions -----------------------------------------------------------------------------

    async def save_session(self, session: StoredSession, live: LiveSession) -> None:
        await self.save_sessions([(session, live)])

    async def save_sessions(self, sessions: list[tuple[StoredSession, LiveSession]]) -> None:
        """`save_session` of several (a take-up), in one pipeline."""
        async with self._writing:
            # A previous session of an agent may still have its end queued: written first.
            earlier = [b for b in (self._take(s.agent_id) for s, _ in sessions) if b is not None]
            try:
                if earlier:
                    await self._run(earlier)
                async with self._redis.pipeline(transaction=True) as pipe:
                    for session, live in sessions:
                        agent_id = session.agent_id
                        pipe.hset(
                            key_of("session", agent_id),
                            mapping={
                                "extension": session.extension,
                                "mode": session.mobile_mode,
                                "dial": session.dial_number,
                                "password": self._sealer.seal(agent_id, session.password),
                                "seq": session.seq,
                                **self._snapshot(live),
                            },
                        )
                        pipe.sadd(f"{PREFIX}sessions", agent_id)
                        # The stream of the agent's previous session was to expire: this
                        # session's frames go on in it (its replay buffer, its numbering).
                        pipe.persist(key_of("stream", agent_id))
                    await pipe.execute()
            except RedisError as exc:
                raise self._refused(exc) from exc
            for session, live in sessions:
                self._live[session.agent_id] = live
                self._records[session.agent_id] = dataclasses.replace(session, frames=())
        self._wake.set()  # their frames so far, and the snapshots with them

    def drop_session(self, agent_id: str) -> None:
        self._live.pop(agent_id, None)
        self._records.pop(agent_id, None)
        self._journal_of(agent_id).ended = True
        self._wake.set()

    async def stored_sessions(self) -> list[StoredSession]:
        try:
            agents = sorted(await self._redis.smembers(f"{PREFIX}sessions"))
            out = []
            for agent_id in agents:
                stored = await self._stored(agent_id)
                if stored is not None:
                    out.append(stored)
        except RedisError as exc:
            raise self._refused(exc) from exc
        return out

    async def _stored(self, agent_id: str, *, frames: bool = True) -> StoredSession | None:
        """The stored session; with its newest frames for a process that takes it up (not
        for one that only serves a request: that is the whole replay buffer)."""
        return (await self._stored_many([agent_id], frames=frames))[0]

    async def _stored_many(
        self, agents: list[str], *, frames: bool = True
    ) -> list[StoredSession | None]:
        """`_stored` of several agents, in one pipeline."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for agent_id in agents:
                pipe.hgetall(key_of("session", agent_id))
                if frames:
                    pipe.xrevrange(key_of("stream", agent_id), count=self.depth)
            replies = await pipe.execute()
        if not frames:
            return [self._parse(a, fields, []) for a, fields in zip(agents, replies, strict=True)]
        pairs = zip(agents, replies[0::2], replies[1::2], strict=True)
        return [self._parse(a, fields, entries) for a, fields, entries in pairs]

    def _parse(
        self, agent_id: str, fields: dict[str, str], entries: list[Any]
    ) -> StoredSession | None:
        if not fields or "password" not in fields:
            return None
        try:
            password = self._sealer.open(agent_id, fields["password"])
        except SealError as exc:
            log.warning("agent %s: stored session not taken up: %s", agent_id, exc)
            return None
        stored_frames = _frames(reversed(entries))
        last = stored_frames[-1][0] if stored_frames else 0
        seq = max(int(fields.get("seq") or 0), last)
        user_xml, dialogs_xml = fields.get("user", ""), fields.get("dialogs", "")
        return StoredSession(
            agent_id,
            password,
            fields.get("extension", ""),
            fields.get("mode", ""),
            fields.get("dial", ""),
            user=codec.parse_user(user_xml) if user_xml else None,
            dialogs=tuple(codec.parse_dialogs(dialogs_xml)) if dialogs_xml else (),
            seq=seq,
            frames=stored_frames,
        )

    # -- frames -------------------------------------------------------------------------------

    def sink(self) -> RedisState:
        return self

    unattended_only = False  # every frame is written, watched or not

    def deliver(self, agent_id: str, frame: Frame) -> None:
        self._journal_of(agent_id).frames.append(frame)
        self._wake.set()

    def _journal_of(self, agent_id: str) -> _Journal:
        journal = self._journals.get(agent_id)
        if journal is None:
            journal = self._journals[agent_id] = _Journal(deque(maxlen=self.depth))
        return journal

    def _snapshot(self, live: LiveSession | None) -> dict[str, str]:
        if live is None:
            return {}
        return {
            "user": codec.user_to_xml(live.user) if live.user else "",
            "dialogs": codec.dialogs_to_xml(list(live.dialogs.values())),
        }

    def _take(self, agent_id: str) -> _Batch | None:
        """The agent's queued frames (and end) with its snapshot as of now: taken together,
        synchronously, so the snapshot is the state after exactly these frames. Frames of
        an agent this process does not hold (any more) are not written: dropped."""
        journal = self._journals.pop(agent_id, None)
        lease = self._held.get(agent_id)
        if journal is None or lease is None:
            return None
        snap = self._snapshot(self._live.get(agent_id))
        return _Batch(agent_id, list(journal.frames), journal.ended, lease, **snap)

    def _put_back(self, batches: list[_Batch]) -> None:
        """A write failed: the batches go back in front of whatever came meanwhile."""
        for batch in reversed(batches):
            later = self._journals.pop(batch.agent_id, None)
            if batch.agent_id not in self._held:
                continue  # lost meanwhile: never written
            journal = _Journal(deque(batch.frames, maxlen=self.depth), batch.ended)
            if later is not None:
                journal.frames.extend(later.frames)
                journal.ended = journal.ended or later.ended
            self._journals = {batch.agent_id: journal, **self._journals}

    async def _writer(self) -> None:
        delay = RETRY_MIN
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._write_all()
            except RedisError as exc:
                self._failed(exc)
                # Back off (frames wait in memory); the probe wakes us when Redis is back.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                delay = min(delay * 2, RETRY_MAX)
                self._wake.set()
                continue
            delay = RETRY_MIN
            self._ok()

    async def _write_all(self, chunk: int = 256) -> None:
        while self._journals:
            async with self._writing:  # a chunk at a time: a session saved meanwhile waits less
                agents = list(self._journals)[:chunk]
                batches = [b for b in map(self._take, agents) if b is not None]
                try:
                    await self._run(batches)
                except BaseException:
                    self._put_back(batches)
                    raise

    async def _run(self, batches: list[_Batch]) -> None:
        lease_ms = int(self.lease_ttl * 1000)
        calls: list[tuple[list[str], list[str | int | float]]] = []
        for b in batches:
            args: list[str | int | float] = [
                self.depth,
                ENDED_STREAM_TTL_MS if b.ended else "",
                b.user,
                b.dialogs,
                b.lease,
                lease_ms,
                FEED_LENGTH,
                NOTICE_FRAMES,
            ]
            for seq, ts, text in b.frames:
                args += [seq, repr(ts), text]
            agent = b.agent_id
            keys = [
                key_of("stream", agent),
                key_of("session", agent),
                key_of("tokens", agent),
                key_of("lease", agent),
                key_of("epoch", agent),
                CHANGES,
            ]
            calls.append((keys, args))
        results = await self._pipelined(self._journal, calls)
        for b, result in zip(batches, results, strict=True):
            if int(result) == -1:
                self._fenced(b.agent_id)
            elif b.ended and self._held.get(b.agent_id) == b.lease:
                del self._held[b.agent_id]

    async def _pipelined(
        self, script: AsyncScript, calls: list[tuple[list[str], list[str | int | float]]]
    ) -> list[Any]:
        """`script` once per (keys, args), in one pipeline, by its SHA alone: redis-py's
        pipelined scripts ask SCRIPT EXISTS first, a round trip more on each write of the
        relay's path. A Redis that lost its scripts (restarted) answers NOSCRIPT: the script
        is loaded and the pipeline sent again (a journal write already done is skipped)."""

        async def send() -> list[Any]:
            async with self._redis.pipeline(transaction=False) as pipe:
                for keys, args in calls:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                return await pipe.execute()

        try:
            return await send()
        except NoScriptError:
            await self._redis.script_load(script.script)
            return await send()

    # -- leases: one process per agent's notification session ---------------------------------

    def watch(
        self,
        on_lost: Callable[[str], None],
        on_orphans: Callable[[list[StoredSession]], None],
    ) -> None:
        """`on_lost(agent)`: another process holds the agent now (this one was paused or
        cut off): close its session here, publish nothing more for it. `on_orphans(stored)`:
        sessions whose process died, claimed by this one: take them up."""
        self._on_lost, self._on_orphans = on_lost, on_orphans

    async def claim(self, agent_id: str) -> int | None:
        """The agent's lease for this process (a new epoch), unless another holds it (None);
        the seq its stream goes on from."""
        try:
            value, last = await self._claim(keys=self._claim_keys(agent_id), args=self._claim_args)
        except RedisError as exc:
            raise self._refused(exc) from exc
        if not value:
            return None
        self._held[agent_id] = value
        return int(last)

    def _claim_keys(self, agent_id: str) -> list[str]:
        return [key_of(kind, agent_id) for kind in ("lease", "epoch", "stream", "session")]

    @property
    def _claim_args(self) -> list[str | int]:
        return [self.owner, int(self.lease_ttl * 1000)]

    def _fenced(self, agent_id: str) -> None:
        if self._held.pop(agent_id, None) is None:
            return
        self._journals.pop(agent_id, None)
        self._live.pop(agent_id, None)
        self._records.pop(agent_id, None)
        log.warning("agent %s: another connector process holds it now; letting go", agent_id)
        self._on_lost(agent_id)

    async def _leases(self) -> None:
        """Every third of the lease time renew ours (compare-and-set); every sixth, look
        for sessions whose lease lapsed (their process died or stalled) to take them up."""
        for tick in itertools.count(1):
            if self._closed:
                return
            await asyncio.sleep(self.lease_ttl / 6)
            try:
                if tick % 2 == 0:
                    await self.renew_leases()
                await self._claim_orphans()
            except (RedisError, AgentError) as exc:
                self._failed(exc)

    async def holds(self, agent_id: str) -> bool:
        """Whether the agent's lease is still ours, asked of Redis now (and renewed if so).
        Lost: let go here (`on_lost`) and False. Redis not answering: True (a process cut
        off from Redis carries on, as when it renews)."""
        if agent_id not in self._held:
            return False
        try:
            await self.renew_leases(only=[agent_id])
        except RedisError as exc:
            self._failed(exc)
        return agent_id in self._held

    async def renew_leases(self, chunk: int = 500, only: list[str] | None = None) -> None:
        held = self._held
        agents = list(held.items()) if only is None else [(a, held[a]) for a in only if a in held]
        lease_ms = int(self.lease_ttl * 1000)
        for start in range(0, len(agents), chunk):
            part = agents[start : start + chunk]
            keys = [
                k
                for agent, _ in part
                for k in (key_of("lease", agent), key_of("epoch", agent), key_of("session", agent))
            ]
            kept = await self._renew(keys=keys, args=[lease_ms, *(v for _, v in part)])
            for (agent, value), held in zip(part, kept, strict=True):
                if self._held.get(agent) != value:
                    continue  # ended or claimed anew meanwhile
                if held == 0:
                    self._fenced(agent)
                elif held == 2:
                    await self._rewrite(agent)

    async def _rewrite(self, agent_id: str) -> None:
        """Redis lost the agent's session (restarted without persistence): written again
        from what this process holds, so that a restart or another process can still take
        it up. Its tokens cannot be: the apps sign in again (the agent stays logged in)."""
        record, live = self._records.get(agent_id), self._live.get(agent_id)
        if record is None or live is None:
            return
        log.warning("agent %s: Redis lost its session; written again", agent_id)
        await self.save_session(record, live)

    async def _claim_orphans(self, chunk: int = 200) -> None:
        # Found by Redis (one script over every session): each process looks several
        # times a lease period, and thousands of sessions' replies would cost it the CPU.
        missing = {a for a in await self._unleased() if a not in self._held}
        # Claimed only once seen without a lease for more than a third of the lease time
        # (a renewal period): a live holder whose lease lapsed with a Redis restart takes
        # it back first.
        now = asyncio.get_running_loop().time()
        self._suspects = {a: self._suspects.get(a, now) for a in missing}
        orphans = [a for a, seen in self._suspects.items() if now - seen > self.lease_ttl / 3]
        random.shuffle(orphans)  # processes racing for them spread the load
        for start in range(0, len(orphans), chunk):
            # Taken up a chunk at a time: the first reopen while the rest are claimed.
            taken = await self._claim_many(orphans[start : start + chunk])
            if taken:
                log.warning("taking up %d session(s) of a connector process that went", len(taken))
                self._on_orphans(taken)

    async def _claim_many(self, agents: list[str]) -> list[StoredSession]:
        """Claim the agents (one pipeline), then load those claimed (another)."""
        calls = [(self._claim_keys(agent), self._claim_args) for agent in agents]
        replies = await self._pipelined(self._claim, calls)
        claimed = [(a, value) for a, (value, _) in zip(agents, replies, strict=True) if value]
        self._held.update(claimed)
        names = [agent for agent, _ in claimed]
        taken = []
        for agent, stored in zip(names, await self._stored_many(names), strict=True):
            self._suspects.pop(agent, None)
            if stored is None:
                self._held.pop(agent, None)
            else:
                taken.append(stored)
        return taken

    async def claim_stored(self) -> list[StoredSession]:
        try:
            agents = sorted(await self._redis.smembers(f"{PREFIX}sessions"))
        except RedisError as exc:
            raise self._refused(exc) from exc
        try:
            return await self._claim_many(agents)
        except RedisError as exc:
            raise self._refused(exc) from exc

    # -- streams other processes write --------------------------------------------------------

    async def follow(self, agent_id: str, mirror: EventStream) -> EventStream:
        following = self._mirrors.get(agent_id)
        if following is not None and not following.closed:
            return following
        try:
            entries = await self._redis.xrevrange(key_of("stream", agent_id), count=self.depth)
        except RedisError as exc:
            raise self._refused(exc) from exc
        following = self._mirrors.get(agent_id)  # another reader may have won the race
        if following is not None and not following.closed:
            return following
        frames = _frames(reversed(entries))
        mirror.resume(frames, frames[-1][0] if frames else 0)  # the replay buffer, as written
        self._mirrors[agent_id] = mirror
        self._joined.add(agent_id)
        if self._follower is None or self._follower.done():
            self._follower = asyncio.ensure_future(self._follow())
        return mirror

    async def _follow(self, block_ms: int = 250) -> None:
        """Relays the streams other processes write into their mirrors. It reads the feed
        of changes (`changes`: a notice per write, with its frames): a round is one request
        and costs what changed, not the number of streams followed (one XREAD over a
        thousand streams cost Redis 3.5 ms: docs/benchmarks.md). A stream is read itself,
        from where its mirror is, when a notice skips frames (trimmed away, or a version of
        the journal without them), when it is followed anew (written before the feed's
        place, maybe), after a failure, and every `sweep` s (its notices trimmed away, with
        no later one to tell). A stream nobody reads any more is let go at the sweep."""
        delay = RETRY_MIN
        cursor = ""  # the last notice read ("": take the feed's end, and read everything)
        stale: set[str] = set()  # agents whose stream is to be read
        swept = time.monotonic()
        complained = False
        while self._mirrors and not self._closed:
            try:
                if not cursor:
                    cursor = await self._feed_end()
                    stale.update(self._mirrors)
                else:
                    block = None if stale or self._joined else block_ms
                    reply = await self._redis.xread({CHANGES: cursor}, count=1000, block=block)
                    for _, notices in reply or ():
                        cursor = notices[-1][0]
                        stale |= self._relay_notices(notices)
                stale |= self._joined
                self._joined.clear()
                if time.monotonic() - swept >= self._sweep:
                    swept = time.monotonic()
                    # Let go here, not each round: a scan of a thousand mirrors a round was
                    # a fifth of a busy process's CPU (docs/benchmarks.md).
                    for agent in [a for a, m in self._mirrors.items() if not m.readers or m.closed]:
                        del self._mirrors[agent]
                    stale.update(self._mirrors)
                    # A feed that went back (Redis replaced, its data lost, on a host whose
                    # clock is behind) would hide its notices behind our cursor.
                    end = await self._feed_end()
                    if _stream_id(end) < _stream_id(cursor):
                        cursor = end
                stale = await self._read_streams(stale & self._mirrors.keys())
            except Exception as exc:  # the follower must outlive any failure: it relays all
                if isinstance(exc, RedisError):
                    self._failed(exc)
                elif not complained:  # once until a round succeeds
                    complained = True
                    log.exception("relaying other processes' streams failed; reading them again")
                cursor = ""  # then everything is read again from each mirror's place
                await asyncio.sleep(delay)  # back-off while Redis does not answer
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = RETRY_MIN
            complained = False

    async def _feed_end(self) -> str:
        top = await self._redis.xrevrange(CHANGES, count=1)
        return top[0][0] if top else "0-0"

    def _relay_notices(self, notices: list[tuple[str, dict[str, str]]]) -> set[str]:
        """Relays the frames of the notices about followed agents; returns the agents whose
        stream is to be read (a notice skipped frames, or carried none)."""
        stale: set[str] = set()
        for _, fields in notices:
            agent = fields.get("a", "")
            mirror = self._mirrors.get(agent)
            if mirror is None or mirror.closed or agent in stale:
                continue
            try:
                frames = [
                    (int(seq), float(ts), text)
                    for seq, (ts, _, text) in ((k, v.partition(" ")) for k, v in fields.items())
                    if seq != "a"
                ]
            except ValueError:
                frames = []
            if not frames or frames[0][0] > mirror.seq + 1:
                stale.add(agent)
            else:
                mirror.relay(frames)
        return stale

    async def _read_streams(self, agents: set[str], count: int = 500) -> set[str]:
        """Reads the agents' streams from where their mirrors are; returns those with more
        than one read's worth (the rest next round)."""
        wanted = {
            key_of("stream", a): f"{self._mirrors[a].seq}-0"
            for a in agents
            if not self._mirrors[a].closed  # its session ended: let go at the sweep
        }
        if not wanted:
            return set()
        reply = await self._redis.xread(wanted, count=count)
        more = set()
        for key, entries in reply or ():
            agent = key.rpartition(":")[2]
            mirror = self._mirrors.get(agent)
            if mirror is not None:
                mirror.relay(_frames(entries))
            if len(entries) >= count:
                more.add(agent)
        return more

    async def load_session(self, agent_id: str) -> StoredSession | None:
        """The agent's stored session (for a process that serves it without holding it)."""
        try:
            return await self._stored(agent_id, frames=False)
        except RedisError as exc:
            raise self._refused(exc) from exc
