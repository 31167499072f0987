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
  frame's JSON); capped at the replay depth.

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
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from connector.errors import AgentError, Refusal
from connector.finesse import codec
from connector.service.ports import LiveSession, StoredSession
from connector.store.sealing import Sealer, SealError
from connector.stream import Frame

log = logging.getLogger("connector.store")
PREFIX = "mobagent:"
TOKEN_GRACE = 24 * 3600.0  # an expired token is kept this long to say "expired", not "unknown"
ENDED_STREAM_TTL_MS = 300_000  # a finished session's stream, for an app that reads it late
RETRY_MIN, RETRY_MAX = 0.1, 2.0  # s between attempts while Redis does not answer

# KEYS: stream, session, tokens set. ARGV: maxlen, the stream's lifetime in ms once the
# session ended ("" while it goes on), user, dialogs, then (seq, ts, text) per frame. Frames
# not newer than the stream's last entry were written before (a retry): skipped. The
# snapshot is kept only while the session is; its seq is a high-water mark.
JOURNAL = """
local last = 0
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
local i = 5
while i <= #ARGV do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i] .. '-0', 't', ARGV[i + 1],
      'f', ARGV[i + 2])
    last = seq
  end
  i = i + 3
end
if ARGV[2] ~= '' then
  for _, h in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    redis.call('DEL', 'mobagent:token:' .. h)
  end
  redis.call('DEL', KEYS[3], KEYS[2])
  redis.call('SREM', 'mobagent:sessions', string.sub(KEYS[2], 18))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  local mark = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
  if last > mark then mark = last end
  redis.call('HSET', KEYS[2], 'seq', mark, 'user', ARGV[3], 'dialogs', ARGV[4])
end
return last
"""

# KEYS: tokens set. Every token of the agent, at once.
REVOKE = """
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', 'mobagent:token:' .. h)
end
return redis.call('DEL', KEYS[1])
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key(kind: str, agent_id: str) -> str:
    return f"{PREFIX}{kind}:{agent_id}"


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
        probe_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 0),  # our own retries: frames wait in memory meanwhile
            decode_responses=True,
        )
        self._sealer = sealer
        self.token_ttl = token_ttl
        self.depth = depth
        self._clock = clock
        self._probe_interval = probe_interval
        self._journals: dict[str, _Journal] = {}  # agents with frames to write, in order
        self._live: dict[str, LiveSession] = {}
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._problem: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._journal = self._redis.register_script(JOURNAL)
        self._revoke = self._redis.register_script(REVOKE)
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
        ]

    async def flush(self) -> None:
        """Write every frame queued so far (a RedisError if Redis does not answer)."""
        await self._write_all()

    async def close(self) -> None:
        """Write what is queued (if Redis answers), then stop."""
        with contextlib.suppress(RedisError, TimeoutError):
            async with asyncio.timeout(2.0):
                await self._write_all()
        for task in self._tasks:
            task.cancel()
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
        while True:
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

    # -- tokens -------------------------------------------------------------------------------

    async def issue_token(self, agent_id: str) -> str:
        token = secrets.token_urlsafe(32)
        digest = _hash(token)
        expires = self._clock() + self.token_ttl
        key = _key("token", digest)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"agent": agent_id, "exp": repr(expires)})
                pipe.expire(key, int(self.token_ttl + TOKEN_GRACE) + 1)
                pipe.sadd(_key("tokens", agent_id), digest)
                await pipe.execute()
        except RedisError as exc:
            raise self._refused(exc) from exc
        return token

    async def lookup_token(self, token: str) -> tuple[str | None, bool]:
        key = _key("token", _hash(token))
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
            await self._revoke(keys=[_key("tokens", agent_id)])
        except RedisError as exc:
            raise self._refused(exc) from exc

    # -- sessions -----------------------------------------------------------------------------

    async def save_session(self, session: StoredSession, live: LiveSession) -> None:
        agent_id = session.agent_id
        async with self._writing:
            # A previous session of the agent may still have its end queued: written first.
            earlier = self._take(agent_id)
            try:
                if earlier is not None:
                    await self._run([earlier])
                await self._redis.hset(
                    _key("session", agent_id),
                    mapping={
                        "extension": session.extension,
                        "mode": session.mobile_mode,
                        "dial": session.dial_number,
                        "password": self._sealer.seal(agent_id, session.password),
                        "seq": session.seq,
                        **self._snapshot(live),
                    },
                )
                await self._redis.sadd(f"{PREFIX}sessions", agent_id)
            except RedisError as exc:
                raise self._refused(exc) from exc
            self._live[agent_id] = live
        self._wake.set()  # its frames so far, and the snapshot with them

    def drop_session(self, agent_id: str) -> None:
        self._live.pop(agent_id, None)
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

    async def _stored(self, agent_id: str) -> StoredSession | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(_key("session", agent_id))
            pipe.xrevrange(_key("stream", agent_id), count=self.depth)
            fields, entries = await pipe.execute()
        if not fields or "password" not in fields:
            return None
        try:
            password = self._sealer.open(agent_id, fields["password"])
        except SealError as exc:
            log.warning("agent %s: stored session not taken up: %s", agent_id, exc)
            return None
        frames = tuple(
            (int(entry_id.partition("-")[0]), float(values["t"]), values["f"])
            for entry_id, values in reversed(entries)
        )
        seq = max(int(fields.get("seq") or 0), frames[-1][0] if frames else 0)
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
            frames=frames,
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
        synchronously, so the snapshot is the state after exactly these frames."""
        journal = self._journals.pop(agent_id, None)
        if journal is None:
            return None
        snap = self._snapshot(self._live.get(agent_id))
        return _Batch(agent_id, list(journal.frames), journal.ended, **snap)

    def _put_back(self, batches: list[_Batch]) -> None:
        """A write failed: the batches go back in front of whatever came meanwhile."""
        for batch in reversed(batches):
            later = self._journals.pop(batch.agent_id, None)
            journal = _Journal(deque(batch.frames, maxlen=self.depth), batch.ended)
            if later is not None:
                journal.frames.extend(later.frames)
                journal.ended = journal.ended or later.ended
            self._journals = {batch.agent_id: journal, **self._journals}

    async def _writer(self) -> None:
        delay = RETRY_MIN
        while True:
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
        async with self._writing:
            while self._journals:
                agents = list(self._journals)[:chunk]
                batches = [b for b in map(self._take, agents) if b is not None]
                try:
                    await self._run(batches)
                except BaseException:
                    self._put_back(batches)
                    raise

    async def _run(self, batches: list[_Batch]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for b in batches:
                args: list[str | int | float] = [
                    self.depth,
                    ENDED_STREAM_TTL_MS if b.ended else "",
                    b.user,
                    b.dialogs,
                ]
                for seq, ts, text in b.frames:
                    args += [seq, repr(ts), text]
                keys = [
                    _key("stream", b.agent_id),
                    _key("session", b.agent_id),
                    _key("tokens", b.agent_id),
                ]
                await self._journal(keys=keys, args=args, client=pipe)
            await pipe.execute()
