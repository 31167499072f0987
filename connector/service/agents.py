"""The agent use cases: sign in, sign out, set state, make a call, act on a dialog, read
reason codes and wrap-up reasons, resync.

`AgentService` is the one place they live. HTTP handlers (and any other front end) parse,
call one method and shape the answer; the rules about what an agent may ask are the pure
`AgentSession`'s, the requests are Finesse's REST API (`FinessePort`), the notifications
come through a `NotificationTransport`, and events leave through each agent's
`EventStream` to its readers and the configured sinks. Refusals are `AgentError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from connector.errors import AgentError, Refusal
from connector.finesse.errors import FinesseApiError, FinesseError, FinesseUnauthorized
from connector.finesse.models import (
    AgentState,
    MobileAgent,
    MobileAgentMode,
    ReasonCode,
    WrapUpReason,
)
from connector.finesse.notifications import NotificationTransport
from connector.finesse.rest import Credentials
from connector.metrics import Metrics
from connector.push.attention import Attention, LocalAttention
from connector.service.link import AgentLink
from connector.service.ports import FinessePort, StatePort, StoredSession
from connector.service.throttle import FailureWindow, RateLimiter
from connector.session import events as ev
from connector.session.agent_session import AgentSession
from connector.session.events import MobileEvent
from connector.stream import EventSink, EventStream

REASON_CATEGORIES = (AgentState.NOT_READY, AgentState.LOGOUT)
# Sessions taken up (notifications opened, resynced) at once after a restart or take-over:
# enough to keep Finesse and this process busy, few enough not to open thousands of
# connections in one burst.
REOPEN_AT_ONCE = 128
log = logging.getLogger("connector")


def _failure_reason(exc: BaseException) -> str:
    """A sign-in failure's reason, for the metrics: the refusal or Finesse's ErrorType."""
    if isinstance(exc, AgentError):
        return exc.kind.value
    if isinstance(exc, FinesseApiError):
        return exc.error_type or "finesse_error"
    return type(exc).__name__


def _check_joins(link: AgentLink, extension: str, mobile: MobileAgent | None) -> None:
    """A second sign-in joins the live session only if it asks for the same thing: the
    extension, and the mobile mode and dial number (or none). Otherwise it is refused with
    what is live: one agent, one session in Finesse."""
    session = link.session
    live_mobile = link.session.user.mobile_agent if link.session.user else None
    live = (session.extension, session.call_control, session.dial_number)
    asked = (extension, mobile is not None, mobile.dial_number if mobile else "")
    same_mode = mobile is None or live_mobile is None or live_mobile.mode == mobile.mode
    if live == asked and same_mode:
        return
    how = (
        f"{live_mobile.mode} to {session.dial_number}"
        if live_mobile is not None
        else ("a mobile phone" if session.call_control else "the desk phone, state only")
    )
    field = "extension" if extension != session.extension else "mobile"
    raise AgentError(
        Refusal.ALREADY_SIGNED_IN,
        f"agent {link.agent_id} is signed in on extension {session.extension} ({how}); "
        "sign out first to sign in differently",
        field,
    )


class KeyedLocks:
    """One asyncio lock per key while anyone holds or waits for it: kept only in use, so
    made-up agent ids cannot grow it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str):
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    login_timeout: float = 30.0  # LOGIN to its outcome (a nailed connection rings first)
    max_sessions: int = 5000
    event_buffer: int = 1000  # replay buffer per agent
    max_websockets_per_agent: int = 4  # readers of an agent's stream; a new one replaces the oldest
    login_failure_limit: int = 3  # failed sign-ins per agent id (Finesse locks out at 5)
    login_failure_window: float = 300.0
    signin_rate: float = 2.0  # sign-ins per second per client address (0: no limit)
    signin_burst: int = 20
    reconcile_interval: float = 60.0  # each agent re-read from Finesse this often (0: never)


class AgentService:
    def __init__(
        self,
        finesse: FinessePort,
        transport: NotificationTransport,
        state: StatePort,
        metrics: Metrics,
        *,
        settings: ServiceSettings | None = None,
        sinks: Sequence[EventSink] = (),
        on_sessions_changed: Callable[[], None] = lambda: None,
        on_session_ended: Callable[[str], None] = lambda _agent_id: None,
        attention: Attention | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.finesse = finesse
        self.transport = transport
        self.state = state  # tokens, and the sessions a restart or another process takes up
        self.metrics = metrics
        self.settings = settings or ServiceSettings()
        self.sinks = tuple(sinks)
        self._changed = on_sessions_changed  # e.g. the GC policy's changed()
        self._session_ended = on_session_ended  # e.g. the push notifier's: by agent id
        # Whether each app watches (push decides by it): shared by the processes, or each
        # stream's own (connector/push/attention.py).
        self.attention = attention or LocalAttention()
        self._clock = clock
        self.links: dict[str, AgentLink] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._reconciler: asyncio.Task[None] | None = None
        self._locks = KeyedLocks()
        self._reopening: set[asyncio.Task[int]] = set()
        self._reopen_gate = asyncio.Semaphore(REOPEN_AT_ONCE)
        state.watch(self._lost, self._orphans)
        settings = self.settings
        self.failures = FailureWindow(settings.login_failure_limit, settings.login_failure_window)
        self.signins = RateLimiter(settings.signin_rate, settings.signin_burst)

    # -- who is asking ------------------------------------------------------------------------

    async def authenticate(self, token: str) -> AgentLink:
        agent_id, expired = await self.state.lookup_token(token) if token else (None, False)
        if expired:
            raise AgentError(Refusal.TOKEN_EXPIRED, "the session token has expired: sign in again")
        link = self.links.get(agent_id) if agent_id else None
        if link is None and agent_id:
            stored = await self.state.load_session(agent_id)  # held by another process
            link = self._view(stored) if stored is not None else None
        if link is None:
            raise AgentError(Refusal.UNAUTHORIZED, "a valid session token is required")
        return link

    def held_here(self, link: AgentLink) -> bool:
        """Whether this process holds the agent's session (else `link` is a view of a
        session another process holds, read from the state store)."""
        return self.links.get(link.agent_id) is link

    async def events(self, link: AgentLink) -> EventStream:
        """The agent's event stream to read: its own here, or the stream another process
        writes, followed from the state store."""
        if self.held_here(link):
            return link.stream
        return await self.state.follow(link.agent_id, link.stream)

    # -- sessions -----------------------------------------------------------------------------

    async def sign_in(
        self,
        agent_id: str,
        password: str,
        extension: str,
        mobile: MobileAgent | None,
        *,
        client: str = "",
    ) -> tuple[str, AgentLink]:
        """Check the credentials with Finesse, LOGIN, wait for the outcome, issue a token.
        No `mobile`: a state-only session (no call control). `client` is the caller's
        address, for the per-address limit.

        No attempt that could count toward Finesse's lock-out is forwarded once the agent id
        has failed `login_failure_limit` times in the window; a password that differs from
        a live session's is refused here, without asking Finesse."""
        wait = self.signins.take(client) if client else None
        if wait is not None:
            self._throttled("client", agent_id, client)
            raise AgentError(
                Refusal.TOO_MANY_ATTEMPTS,
                "too many sign-ins from this address; try again later",
                retry_after=wait,
            )
        why = self.state.unavailable()
        if why is not None:
            # Its session could not be kept: a restart would lose it. (Signed-in agents
            # carry on; their events wait in memory until the store is back.)
            raise AgentError(Refusal.STATE_UNAVAILABLE, f"sign-ins are paused: {why}")
        async with self._locks.hold(agent_id):
            wait = self.failures.retry_after(agent_id)
            if wait is not None:
                self._throttled("agent", agent_id, client)
                raise AgentError(
                    Refusal.TOO_MANY_ATTEMPTS,
                    f"too many failed sign-ins for agent {agent_id}; try again later",
                    retry_after=wait,
                )
            link = self.links.get(agent_id)
            if link is not None and not hmac.compare_digest(
                link.creds.password.encode(), password.encode()
            ):
                raise self._wrong_credentials(agent_id, client, "Authorization Failure")
            creds = Credentials(agent_id, password)
            try:
                user = await self.finesse.get_user(creds)
            except FinesseUnauthorized as exc:
                raise self._wrong_credentials(agent_id, client, exc.error_type) from exc
            self.failures.succeeded(agent_id)
            if link is None:
                if len(self.links) >= self.settings.max_sessions:
                    raise AgentError(Refusal.TOO_MANY_SESSIONS, "the connector is full")
                base = await self.state.claim(agent_id)
                if base is None:
                    return await self._join_elsewhere(agent_id, password, extension, mobile, client)
                link = self._new_link(creds, extension, mobile)
                if base:  # numbers go on after the agent's previous session (shared state)
                    link.stream.resume((), base)
                link.session.user = user
            else:
                _check_joins(link, extension, mobile)
            try:
                await link.log_in(self.transport, extension, mobile, self.settings.login_timeout)
            except BaseException as exc:
                if agent_id not in self.links:
                    await link.close()
                    self.state.drop_session(agent_id)  # and its lease
                self.metrics.login_failures[_failure_reason(exc)] += 1
                raise
            if agent_id not in self.links:
                await self._keep(link, mobile)
            self.links[agent_id] = link
            link.confirm_signed_in()
            self.metrics.logins += 1
            self._changed()
            return await self.state.issue_token(agent_id), link

    async def _join_elsewhere(
        self, agent_id: str, password: str, extension: str, mobile: MobileAgent | None, client: str
    ) -> tuple[str, AgentLink]:
        """The agent is signed in through another connector process: a second sign-in joins
        that session on the same terms as a local one (`_check_joins`)."""
        stored = await self.state.load_session(agent_id)
        if stored is None:
            raise AgentError(
                Refusal.ALREADY_SIGNED_IN,
                f"agent {agent_id} is signing in through another connector process; try again",
            )
        if not hmac.compare_digest(stored.password.encode(), password.encode()):
            raise self._wrong_credentials(agent_id, client, "Authorization Failure")
        view = self._view(stored)
        _check_joins(view, extension, mobile)
        self.metrics.logins += 1
        return await self.state.issue_token(agent_id), view

    def _view(self, stored: StoredSession) -> AgentLink:
        """A session another process holds, as stored: its snapshot answers reads and the
        advisory checks of commands (which go straight to Finesse); its stream, once
        followed (`reader`), relays what the holder writes."""
        link = self._link_of(stored)
        link.signed_in = True
        return link

    def _link_of(self, stored: StoredSession) -> AgentLink:
        creds = Credentials(stored.agent_id, stored.password)
        mode = stored.mobile_mode
        mobile = MobileAgent(MobileAgentMode(mode), stored.dial_number) if mode else None
        link = self._new_link(creds, stored.extension, mobile)
        link.session.user = stored.user
        link.session.dialogs = {d.id: d for d in stored.dialogs}
        return link

    async def _keep(self, link: AgentLink, mobile: MobileAgent | None) -> None:
        """The new session in the state store, before its first token: a restart finds it.
        If the store refuses, the session is closed again (Finesse logs the agent out after
        its presence timeout) and the sign-in fails with 503."""
        session = link.session
        stored = StoredSession(
            link.agent_id,
            link.creds.password,
            session.extension,
            str(mobile.mode) if mobile else "",
            session.dial_number,
            seq=link.stream.seq,
        )
        try:
            await self.state.save_session(stored, session)
        except AgentError:
            await link.close()
            raise

    def _wrong_credentials(self, agent_id: str, client: str, error_type: str) -> AgentError:
        self.metrics.login_failures[Refusal.WRONG_CREDENTIALS.value] += 1
        if self.failures.failed(agent_id):
            log.warning(
                "sign-ins for agent %s refused for a while: %d failures (last from %s)",
                agent_id,
                self.failures.limit,
                client or "an unknown address",
            )
        return AgentError(
            Refusal.WRONG_CREDENTIALS,
            "wrong agent id or password",
            error_type=error_type or "Authorization Failure",
        )

    def _throttled(self, scope: str, agent_id: str, client: str) -> None:
        self.metrics.login_throttled[scope] += 1
        if scope == "client" and self.signins.started:
            log.warning("sign-ins from %s throttled (last for agent %s)", client, agent_id)

    def _new_link(self, creds: Credentials, extension: str, mobile: MobileAgent | None):
        session = AgentSession(
            creds.agent_id,
            extension,
            call_control=mobile is not None,
            dial_number=mobile.dial_number if mobile else "",
        )
        stream = EventStream(
            session.snapshot,
            buffer_size=self.settings.event_buffer,
            clock=self._clock,
            agent_id=creds.agent_id,
            sinks=self.sinks,
            max_readers=self.settings.max_websockets_per_agent,
            on_readers=self.attention.readers_changed if self.attention.shared else None,
        )
        return AgentLink(
            creds,
            session,
            stream,
            finesse=self.finesse,
            metrics=self.metrics,
            on_ended=self._ended,
            may_reconnect=self._still_held,
        )

    async def sign_out(self, link: AgentLink, reason_code_id: str = "") -> None:
        if not self.held_here(link):
            # Held by another process: LOGOUT, and the tokens go at once; that process sees
            # the agent logged out and ends the session (`session.ended`, logged_out).
            await self.finesse.put_user(
                link.creds, state=AgentState.LOGOUT, reason_code_id=reason_code_id
            )
            await self.state.revoke_tokens(link.agent_id)
            return
        async with self._locks.hold(link.agent_id):
            await link.log_out(reason_code_id, self.settings.login_timeout)
            await self.state.revoke_tokens(link.agent_id)  # everywhere, before we answer
            self._forget(link, {"reason": ev.SIGNED_OUT, "message": "signed out"})
            await link.close(ev.SIGNED_OUT)

    def _ended(self, link: AgentLink, reason: str, details: dict[str, str]) -> None:
        """The session ended without the app asking (AgentLink saw it): tell the app,
        revoke its tokens, close its WebSockets, forget it."""
        if self.links.get(link.agent_id) is not link:
            log.warning(
                "agent %s: a session that is not the live one ended (%s)", link.agent_id, reason
            )
            return
        log.warning("agent %s: session ended: %s", link.agent_id, details["message"])
        self._forget(link, details)
        task = asyncio.ensure_future(link.close(reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _forget(self, link: AgentLink, details: dict[str, str]) -> None:
        """The session is over: its last event says why (`session.ended`), its tokens are
        revoked, the service no longer holds it. Closing it is the caller's."""
        if self.links.get(link.agent_id) is link:
            del self.links[link.agent_id]
        self.metrics.sessions_ended[details["reason"]] += 1
        link.publish(MobileEvent(ev.SESSION_ENDED, details))
        self.state.drop_session(link.agent_id)  # its tokens too, after that last frame
        self._session_ended(link.agent_id)  # after the last event: its push is on its way
        self._changed()

    def _lost(self, agent_id: str) -> None:
        """Another process holds the agent now (this one was paused, or cut off from the
        store while the others were not): close its session here without a word to the
        app (its readers' WebSockets close; it reconnects and reads the new holder's
        stream), and no sign-out: the agent stays logged in."""
        link = self.links.pop(agent_id, None)
        if link is None:
            return
        link.signed_in = False
        task = asyncio.ensure_future(link.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        self._changed()

    async def _still_held(self, link: AgentLink) -> bool:
        """Before a notification session reconnects: whether this process still holds the
        agent, asked of the state store now (a process paused past its lease finds it lost
        here, lets the agent go, and never replaces the new holder's session at Finesse)."""
        return self.links.get(link.agent_id) is link and await self.state.holds(link.agent_id)

    def _orphans(self, stored: list[StoredSession]) -> None:
        """Sessions of a process that died or stalled, claimed here: taken up."""
        task = asyncio.ensure_future(self.reopen(self.adopt(stored)))
        self._reopening.add(task)
        task.add_done_callback(self._reopening.discard)

    async def take_up(self, stored: Sequence[StoredSession]) -> int:
        """`adopt` then `reopen`: the sessions the state store holds, carried on here.
        Returns how many were taken up."""
        return await self.reopen(self.adopt(stored))

    def adopt(self, stored: Sequence[StoredSession]) -> list[tuple[AgentLink, StoredSession]]:
        """Hold sessions the state store kept (after a restart the agents are still logged
        in to Finesse, which logs them out 60 s after their presence went), at once and
        without I/O: their tokens work from now on, the snapshot answers GET /agent and
        /dialogs, each stream goes on after its stored frames. `reopen` does the rest."""
        adopted = []
        for record in stored:
            if record.agent_id in self.links:
                continue
            link = self._link_of(record)
            # Numbers a crashed process published but had not written yet are skipped (an
            # app may have seen them): at most `event_buffer` of them wait in memory.
            link.stream.resume(record.frames, record.seq + self.settings.event_buffer)
            self.links[record.agent_id] = link
            adopted.append((link, record))
        self._changed()
        return adopted

    async def reopen(
        self, adopted: Sequence[tuple[AgentLink, StoredSession]], *, retry_for: float = 45.0
    ) -> int:
        """Open the adopted sessions' notifications, `REOPEN_AT_ONCE` at a time (all the
        take-ups of this process together), and publish what changed in the gap as
        ordinary events (`AgentLink.take_up`). Finesse not answering is tried again for
        `retry_for` seconds (inside its 60 s before a forced logout); refused credentials
        end the session at once. Returns how many are up."""
        # Kept again first, all in one write: the seq each goes on from (a second crash must
        # not reuse the numbers this process is about to use), the password sealed with the
        # current key. Not a reason to leave them unopened (Finesse would log them out).
        try:
            await self.state.save_sessions(
                [
                    (dataclasses.replace(record, seq=link.stream.seq, frames=()), link.session)
                    for link, record in adopted
                ]
            )
        except AgentError as exc:
            log.warning("%d session(s) taken up but not kept again: %s", len(adopted), exc)

        async def one(link: AgentLink) -> bool:
            async with self._reopen_gate:
                return await self._reopen(link, retry_for)

        return sum(await asyncio.gather(*(one(link) for link, _ in adopted)))

    async def _reopen(self, link: AgentLink, retry_for: float) -> bool:
        loop = asyncio.get_running_loop()
        give_up, delay = loop.time() + retry_for, 0.5
        while self.links.get(link.agent_id) is link:
            try:
                await link.take_up(self.transport)
                return True
            except FinesseError as exc:
                refused = isinstance(exc, FinesseUnauthorized)
                if refused or loop.time() + delay > give_up:
                    log.warning("agent %s: stored session not taken up: %s", link.agent_id, exc)
                    link.on_closed(credentials_refused=refused)
                    return False
                log.info("agent %s: taking up again in %g s: %s", link.agent_id, delay, exc)
            await asyncio.sleep(delay)  # back-off while Finesse does not answer
            delay = min(delay * 2, 5.0)
            if not await self._still_held(link):  # claimed just now, but not after a wait
                break
        return False

    async def close_all(self) -> None:
        """The connector stops: close every session (Finesse logs the agents out after its
        own timeout, as it would after any loss of their notification sessions)."""
        if self._reconciler is not None:
            self._reconciler.cancel()
        for task in self._reopening:
            task.cancel()
        await asyncio.gather(*(link.close() for link in self.links.values()))
        self.links.clear()

    # -- reconciliation -----------------------------------------------------------------------

    def start(self) -> None:
        if self.settings.reconcile_interval > 0:
            self._reconciler = asyncio.ensure_future(self._reconcile())

    def reconcile_every(self, seconds: float) -> None:
        """Change the reconciliation interval now (0: stop reconciling)."""
        if self._reconciler is not None:
            self._reconciler.cancel()
            self._reconciler = None
        self.settings = dataclasses.replace(self.settings, reconcile_interval=seconds)
        self.start()

    async def _reconcile(self) -> None:
        """A lost notification is never resent: re-read every agent's User and Dialogs once
        per `reconcile_interval`, one agent at a time, spread evenly over the interval (2,000
        agents at 60 s: ~33 pairs of GETs a second), and emit whatever differs."""
        interval = self.settings.reconcile_interval
        while True:
            links = list(self.links.values())
            if not links:
                await asyncio.sleep(interval)
                continue
            for link in links:
                await asyncio.sleep(interval / len(links))
                if self.links.get(link.agent_id) is link and link.connected:
                    repaired = await link.resync()
                    if repaired:
                        self.metrics.reconcile_repairs += repaired
                        log.warning(
                            "agent %s: %d change(s) found by reconciling", link.agent_id, repaired
                        )

    # -- what the agent sees ------------------------------------------------------------------

    @staticmethod
    def agent(link: AgentLink) -> dict[str, Any]:
        user = link.session.user
        return ev.agent_data(user) if user else {"id": link.agent_id}

    @staticmethod
    def dialogs(link: AgentLink) -> list[dict[str, Any]]:
        session = link.session
        return [session.dialog_json(d) for d in session.dialogs.values()]

    async def reason_codes(self, link: AgentLink, category: str) -> list[ReasonCode]:
        if category not in REASON_CATEGORIES:
            raise AgentError(
                Refusal.INVALID_FIELD, "category must be NOT_READY or LOGOUT", "category"
            )
        return await self.finesse.reason_codes(link.creds, category)

    async def wrap_up_reasons(self, link: AgentLink) -> list[WrapUpReason]:
        return await self.finesse.wrap_up_reasons(link.creds)

    async def resync(self, link: AgentLink) -> int:
        return await link.resync()

    async def app_state(self, link: AgentLink, visible: bool) -> None:
        """The app is on screen or in the background (`visibilitychange`): in the
        background, its events also go to the sinks for the unattended (push). Said to any
        process: the shared facts keep it for the one that decides."""
        link.stream.visible = visible
        await self.attention.set_visible(link.agent_id, visible)

    # -- commands (each answers the requestId; the outcome arrives as an event) --------------

    async def set_state(self, link: AgentLink, state: Any, reason_code_id: Any = None) -> str:
        state, reason = link.session.check_state(state, reason_code_id)
        return await self.finesse.put_user(link.creds, state=state, reason_code_id=reason)

    async def make_call(self, link: AgentLink, to_address: Any) -> str:
        session = link.session
        to = session.check_make_call(to_address)
        return await self.finesse.make_call(
            link.creds, from_address=session.extension, to_address=to
        )

    async def dialog_action(self, link: AgentLink, dialog_id: str, command: dict[str, Any]) -> str:
        request = link.session.check_action(dialog_id, command)
        return await self.finesse.dialog_action(link.creds, dialog_id, request)
