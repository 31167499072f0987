"""One signed-in agent at run time: the I/O around its pure `AgentSession`.

An `AgentLink` holds the agent's Finesse credentials (in memory only, for reconnects), its
notification session, and its event stream. It is the session's `NotificationListener`:
every Finesse notification goes through `AgentSession.apply` and out as mobile events. It
waits for Finesse's verdict on a LOGIN or LOGOUT (a notification carrying our requestId),
and resyncs over REST after every gap in notifications (Finesse keeps nothing for a client
that was away). The use cases that drive it live in `AgentService`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from connector.errors import AgentError, Refusal
from connector.finesse.errors import FinesseApiError, FinesseError
from connector.finesse.models import AgentState, ApiError, MobileAgent, SystemInfo, Update, User
from connector.finesse.notifications import Notifications, NotificationTransport
from connector.finesse.rest import Credentials
from connector.metrics import Metrics
from connector.service.ports import FinessePort
from connector.session import events as ev
from connector.session.agent_session import AgentSession
from connector.session.events import MobileEvent
from connector.stream import EventStream

log = logging.getLogger("connector")


class AgentLink:
    def __init__(
        self,
        creds: Credentials,
        session: AgentSession,
        stream: EventStream,
        *,
        finesse: FinessePort,
        metrics: Metrics,
        on_ended: Callable[[AgentLink, str, dict[str, str]], None] = lambda *_: None,
        may_reconnect: Callable[[AgentLink], Awaitable[bool]] | None = None,
    ) -> None:
        self.creds = creds
        self.session = session
        self.stream = stream
        self._finesse = finesse
        self._metrics = metrics
        self.notifications: Notifications | None = None
        self._login: asyncio.Future[User] | None = None
        self._login_rid = ""
        self._logout: asyncio.Future[User] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_again = False
        self._opening = False  # log_in is opening the notification session (resyncs after)
        self._on_ended = on_ended  # the service ends the session: reason, details
        self._may_reconnect = may_reconnect  # the service: is the session still ours?
        self.signed_in = False  # from a confirmed LOGIN until we sign out or it ends
        self.connected = False

    @property
    def agent_id(self) -> str:
        return self.creds.agent_id

    # -- notifications in (NotificationListener) ----------------------------------------------

    def on_update(self, node: str, update: Update) -> None:
        self._metrics.events_in += 1
        self._watch_login(update)
        for event in self.session.apply(update):
            self.publish(event)
        data = update.data
        if type(data) is User and data.state == AgentState.LOGOUT and self.signed_in:
            # Finesse logged the agent out, or a stale notification says so: Finesse's
            # REST answer decides (the resync ends the session if it is so).
            self.schedule_resync()
        elif isinstance(data, SystemInfo) and data.status == "IN_SERVICE":
            # Back from OUT_OF_SERVICE: Finesse re-publishes, but a resync is the safe way to
            # be sure nothing from the outage is missing (docs/finesse.md, Out of service).
            self.schedule_resync()

    def on_connection(self, up: bool) -> None:
        self.connected = up
        system = self.session.system
        self.publish(
            MobileEvent(
                ev.SYSTEM_STATUS,
                {
                    "status": system.status if system else "",
                    "notifications": "connected" if up else "reconnecting",
                },
            )
        )
        if up:
            self._metrics.reconnects += 1
            if not self._opening:  # a sign-in resyncs once its LOGIN is confirmed
                self.schedule_resync()

    def on_finesse_presence(self, available: bool) -> None:
        """Failover is the monitor's business (the transport reports it there)."""

    async def may_reconnect(self) -> bool:
        return self._may_reconnect is None or await self._may_reconnect(self)

    def on_closed(self, credentials_refused: bool) -> None:
        if credentials_refused:
            self._end(ev.CREDENTIALS_REFUSED, "Finesse refused the agent's credentials")
        else:
            self._end(ev.FINESSE_UNREACHABLE, "Finesse's notification service cannot be reached")

    def _check_logged_out(self) -> None:
        """Finesse's REST answer shows the agent logged out and we did not ask: the
        session is over."""
        user = self.session.user
        if self._logout is not None or user is None or user.state != AgentState.LOGOUT:
            return  # signing out ourselves, or not logged out
        if user.reason_code_id == ev.FORCED_LOGOUT_REASON_CODE:
            self._end(ev.FORCED_LOGOUT, "Finesse logged the agent out", user.reason_code_id)
        else:
            self._end(ev.LOGGED_OUT, "the agent was logged out in Finesse", user.reason_code_id)

    def _end(self, reason: str, message: str, reason_code_id: str = "") -> None:
        if not self.signed_in:
            return
        self.signed_in = False
        details = {"reason": reason, "message": message}
        if reason_code_id:
            details["reasonCodeId"] = reason_code_id
        self._on_ended(self, reason, details)

    def publish(self, event: MobileEvent) -> None:
        self._metrics.events_out += 1
        self.stream.publish(event)

    # -- Finesse's verdict on our LOGIN / LOGOUT ----------------------------------------------

    def _watch_login(self, update: Update) -> None:
        data = update.data
        for waiter, done in ((self._login, self._login_ok), (self._logout, self._logout_ok)):
            if waiter is None or waiter.done():
                continue
            if isinstance(data, list) and data and isinstance(data[0], ApiError):
                if update.request_id in (self._login_rid, ""):
                    waiter.set_exception(FinesseApiError(400, list(data)))
            elif isinstance(data, User) and done(data, update.request_id):
                waiter.set_result(data)

    def _login_ok(self, user: User, rid: str) -> bool:
        if user.state != AgentState.LOGOUT:
            return True  # signed in (or already was: a forced login keeps the state)
        if rid == self._login_rid:
            # Still LOGOUT in answer to our LOGIN: e.g. a nailed connection's setup call
            # was not answered.
            assert self._login is not None
            self._login.set_exception(
                AgentError(Refusal.LOGIN_INCOMPLETE, "Finesse did not complete the login")
            )
        return False

    def _logout_ok(self, user: User, rid: str) -> bool:
        return user.state == AgentState.LOGOUT

    async def log_in(
        self,
        transport: NotificationTransport,
        extension: str,
        mobile: MobileAgent | None,
        timeout: float,
    ) -> User:
        """Open notifications (if not yet), LOGIN, then wait for Finesse's verdict: a User
        notification, or an apiErrors notification such as Invalid Device or Device Busy
        (docs/finesse.md, User: sign-in and state changes); then the Dialogs: the User
        notification is Finesse's newest User, so it is not fetched again."""
        if self.notifications is None:
            self._opening = True
            try:
                self.notifications = await transport.open(self.creds, self)
            finally:
                self._opening = False
            self.connected = True
        self._login = asyncio.get_running_loop().create_future()
        self._login_rid = uuid.uuid4().hex
        try:
            await self._finesse.put_user(
                self.creds,
                state=AgentState.LOGIN,
                extension=extension,
                mobile_agent=mobile,
                request_id=self._login_rid,
            )
            user = await asyncio.wait_for(self._login, timeout)
        except TimeoutError as exc:
            raise AgentError(
                Refusal.LOGIN_TIMEOUT, "Finesse did not answer the login in time"
            ) from exc
        finally:
            self._login = None
        await self.resync(user)
        return user

    async def take_up(self, transport: NotificationTransport) -> None:
        """Carry on a session another process (or this one before a restart) signed in:
        open its notifications (Finesse cancels the forced logout its presence loss
        started), then resync: what changed in the gap is published as ordinary events (a
        call routed meanwhile is a `dialog.created`), or the session ends if Finesse logged
        the agent out."""
        self.signed_in = True  # before the resync that opening schedules may end it
        self.notifications = await transport.open(self.creds, self)
        self.connected = True
        task = self._resync_task  # scheduled by on_connection(True): waited for, not doubled
        if task is None:
            await self.resync()
        else:
            await asyncio.shield(task)

    def confirm_signed_in(self) -> None:
        """The service holds this session now: from here on a logout that we did not ask
        for ends it."""
        self.signed_in = True
        user = self.session.user
        if user is not None and user.state == AgentState.LOGOUT:
            self.schedule_resync()  # logged out while signing in: confirm, then end

    async def log_out(self, reason_code_id: str, timeout: float) -> None:
        """LOGOUT (unless Finesse already shows the agent logged out); `close()` follows.
        A LOGOUT that Finesse refuses (e.g. during a call) leaves the session as it was."""
        user = self.session.user
        if user is None or user.state != AgentState.LOGOUT:
            self._logout = asyncio.get_running_loop().create_future()
            try:
                await self._finesse.put_user(
                    self.creds, state=AgentState.LOGOUT, reason_code_id=reason_code_id
                )
                await asyncio.wait_for(self._logout, timeout)
            except TimeoutError:
                log.warning("agent %s: no LOGOUT notification; closing anyway", self.agent_id)
            finally:
                self._logout = None
        self.signed_in = False

    # -- resync -------------------------------------------------------------------------------

    def schedule_resync(self) -> None:
        """Resync soon; if one is under way, once more after it (its GETs may have been
        answered before what made this one necessary)."""
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.ensure_future(self._resyncs())
        else:
            self._resync_again = True

    async def _resyncs(self) -> None:
        while True:
            self._resync_again = False
            await self.resync()
            if not self._resync_again:
                return

    async def resync(self, user: User | None = None) -> int:
        """GET the User (unless `user` is as new as a GET's) and its Dialogs and emit what
        changed: Finesse keeps no events for a client that was away (no stream
        resumption). Returns how many events that made."""
        try:
            if user is None:
                user = await self._finesse.get_user(self.creds)
            dialogs = await self._finesse.get_dialogs(self.creds)
        except FinesseError as exc:
            log.warning("agent %s: resync failed: %s", self.agent_id, exc)
            return 0
        events = self.session.resync(user, dialogs)
        for event in events:
            self.publish(event)
        self._check_logged_out()
        return len(events)

    async def close(self, reason: str = "") -> None:
        if self._resync_task is not None and self._resync_task is not asyncio.current_task():
            self._resync_task.cancel()
        if self.notifications is not None:
            await self.notifications.stop()
            self.notifications = None
        self.stream.close(reason)
