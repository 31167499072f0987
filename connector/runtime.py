"""The connector at run time: one `AgentLink` per signed-in agent, held by the `Connector`.

An AgentLink is the I/O around one pure `AgentSession`: the agent's Finesse credentials
(in memory only, for reconnects), its notification session, and its event stream. It signs
the agent in (waiting for Finesse's verdict, which arrives as a notification), relays
commands, and resyncs over REST after every gap in notifications.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from connector.api.stream import EventStream
from connector.api.tokens import Tokens
from connector.config import ConnectorConfig
from connector.finesse.errors import FinesseApiError, FinesseError
from connector.finesse.failover import Hosts
from connector.finesse.models import AgentState, ApiError, MobileAgent, SystemInfo, Update, User
from connector.finesse.rest import Credentials, FinesseRest
from connector.finesse.tls import client_ssl_context
from connector.finesse.xmpp import NotificationSession, TlsMode, XmppEndpoint
from connector.heap import Heap
from connector.metrics import Metrics
from connector.session import events as ev
from connector.session.agent_session import AgentSession, CommandError
from connector.session.events import MobileEvent

log = logging.getLogger("connector")


class LoginFailed(Exception):
    """Finesse did not sign the agent in: the HTTP status for the app and the error."""

    def __init__(self, status: int, type_: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.field = status, type_, message, field


@dataclass
class Mobile:
    mode: str
    dial_number: str


class AgentLink:
    def __init__(self, connector: Connector, creds: Credentials, core: AgentSession) -> None:
        self.connector = connector
        self.creds = creds
        self.core = core
        self.stream = EventStream(core.snapshot, buffer_size=connector.config.event_buffer)
        self.notes: NotificationSession | None = None
        self._login: asyncio.Future[User] | None = None
        self._login_rid = ""
        self._logout: asyncio.Future[User] | None = None
        self._resync_task: asyncio.Task[None] | None = None
        self.connected = False
        self.lock = asyncio.Lock()

    @property
    def agent_id(self) -> str:
        return self.creds.agent_id

    # -- notifications in ---------------------------------------------------------------------

    def on_update(self, node: str, update: Update) -> None:
        metrics = self.connector.metrics
        metrics.events_in += 1
        self._watch_login(update)
        for event in self.core.apply(update):
            self.publish(event)
        if isinstance(update.data, SystemInfo):
            self.connector.hosts.report_system_info(self.connector.hosts.active, update.data)
        if isinstance(update.data, SystemInfo) and update.data.status == "IN_SERVICE":
            # Back from OUT_OF_SERVICE: Finesse re-publishes, but a resync is the safe way to
            # be sure nothing from the outage is missing (FINESSE.md 7.3).
            self.schedule_resync()

    def publish(self, event: MobileEvent) -> None:
        self.connector.metrics.events_out += 1
        self.stream.publish(event)

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
                LoginFailed(409, "login_incomplete", "Finesse did not complete the login")
            )
        return False

    def _logout_ok(self, user: User, rid: str) -> bool:
        return user.state == AgentState.LOGOUT

    def on_connection(self, up: bool) -> None:
        self.connected = up
        self.connector.hosts.report_xmpp(self.connector.hosts.active, up)
        self.publish(
            MobileEvent(
                ev.SYSTEM_STATUS,
                {
                    "status": self.core.system.status if self.core.system else "",
                    "notifications": "connected" if up else "reconnecting",
                },
            )
        )
        if up:
            self.connector.metrics.reconnects += 1
            self.schedule_resync()
        else:
            self.connector.check_availability()

    def on_finesse_presence(self, available: bool) -> None:
        self.connector.hosts.report_finesse_presence(self.connector.hosts.active, available)
        if not available:
            self.connector.check_availability()

    # -- resync -------------------------------------------------------------------------------

    def schedule_resync(self) -> None:
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.ensure_future(self.resync())

    async def resync(self) -> None:
        """GET the User and its Dialogs and emit what changed: Finesse keeps no events for a
        client that was away (no stream resumption)."""
        rest = self.connector.rest
        try:
            user = await rest.get_user(self.creds)
            dialogs = await rest.get_dialogs(self.creds)
        except FinesseError as exc:
            log.warning("agent %s: resync failed: %s", self.agent_id, exc)
            return
        for event in self.core.resync(user, dialogs):
            self.publish(event)

    # -- sign in and out ----------------------------------------------------------------------

    async def sign_in(self, extension: str, mobile: Mobile | None) -> User:
        """LOGIN, then wait for Finesse's verdict: a User notification, or an apiErrors
        notification such as Invalid Device or Device Busy (FINESSE.md 2.1)."""
        if self.notes is None:
            await self._open_notifications()
        loop = asyncio.get_running_loop()
        self._login = loop.create_future()
        self._login_rid = uuid.uuid4().hex
        try:
            await self.connector.rest.put_user(
                self.creds,
                state=AgentState.LOGIN,
                extension=extension,
                mobile_agent=MobileAgent(mobile.mode, mobile.dial_number) if mobile else None,
                request_id=self._login_rid,
            )
            user = await asyncio.wait_for(self._login, self.connector.config.login_timeout)
        except TimeoutError as exc:
            raise LoginFailed(
                504, "login_timeout", "Finesse did not answer the login in time"
            ) from exc
        finally:
            self._login = None
        await self.resync()
        return user

    async def _open_notifications(self) -> None:
        endpoint = await self.connector.xmpp_endpoint()
        self.notes = NotificationSession(
            self.creds.agent_id,
            self.creds.password,
            endpoint,
            ssl_context=self.connector.ssl_context,
            on_update=self.on_update,
            on_connection=self.on_connection,
            on_finesse_presence=self.on_finesse_presence,
            resource=self.connector.config.resource,
            keepalive=self.connector.config.keepalive,
        )
        await self.notes.start()
        self.connected = True

    async def sign_out(self, reason_code_id: str = "") -> None:
        """LOGOUT (unless Finesse already shows the agent logged out), then close."""
        if self.core.user is None or self.core.user.state != AgentState.LOGOUT:
            self._logout = asyncio.get_running_loop().create_future()
            try:
                await self.connector.rest.put_user(
                    self.creds, state=AgentState.LOGOUT, reason_code_id=reason_code_id
                )
                await asyncio.wait_for(self._logout, self.connector.config.login_timeout)
            except TimeoutError:
                log.warning("agent %s: no LOGOUT notification; closing anyway", self.agent_id)
            finally:
                self._logout = None
        await self.close()

    async def close(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
        if self.notes is not None:
            await self.notes.stop()
            self.notes = None
        self.stream.close()


class Connector:
    """Every agent link, the shared Finesse client, tokens and metrics."""

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.hosts = Hosts(config.finesse, config.finesse_secondary or None)
        self.hosts.on_switch = self._on_switch
        self.tokens = Tokens(ttl=config.token_ttl)
        self.metrics = Metrics()
        self.links: dict[str, AgentLink] = {}
        self.ssl_context = client_ssl_context(
            verify=config.verify_tls, ca_file=config.ca_file or None
        )
        self.http: aiohttp.ClientSession | None = None
        self.rest: FinesseRest
        self._endpoints: dict[str, XmppEndpoint] = {}
        self._availability: asyncio.Task[None] | None = None
        self._moving: asyncio.Future[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self.websockets = 0
        self.clock: Callable[[], float] = time.monotonic
        self.heap = Heap(
            freeze_interval=config.gc_freeze_interval, full_interval=config.gc_full_interval
        )

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl_context)
        )
        self.rest = FinesseRest(self.http, self.hosts, timeout=self.config.request_timeout)
        self.heap.start()

    async def stop(self) -> None:
        self.heap.stop()
        if self._availability is not None:
            self._availability.cancel()
        await asyncio.gather(*(link.close() for link in self.links.values()))
        self.links.clear()
        if self.http is not None:
            await self.http.close()

    # -- Finesse endpoints and failover ---------------------------------------------------------

    async def xmpp_endpoint(self) -> XmppEndpoint:
        """Where the active node's notification service listens. The XMPP options configure
        the primary node; everything else comes from SystemInfo (xmppDomain, the node's
        ports), with the node's REST host as the host."""
        base = self.hosts.active
        cached = self._endpoints.get(base)
        if cached is not None:
            return cached
        cfg = self.config
        tls = TlsMode(cfg.xmpp_tls)
        primary = base == self.hosts.nodes[0].base_url
        host = (cfg.xmpp_host if primary else "") or (urlsplit(base).hostname or "127.0.0.1")
        domain = cfg.xmpp_domain if primary else ""
        port = cfg.xmpp_port if primary else 0
        node = self.hosts.node(base)
        if not (domain and port) and (node is None or not node.xmpp_domain):
            self.hosts.report_system_info(base, await self.rest.system_info(base))
            node = self.hosts.node(base)
        if node is not None:
            domain = domain or node.xmpp_domain
            port = port or (node.xmpp_secure_port if tls == TlsMode.DIRECT else node.xmpp_port)
        endpoint = XmppEndpoint(
            host=host,
            port=port or (5223 if tls == TlsMode.DIRECT else 5222),
            domain=domain or host,
            tls=tls,
            pubsub_domain=node.xmpp_pubsub_domain if node is not None else "",
        )
        self._endpoints[base] = endpoint
        return endpoint

    def check_availability(self) -> None:
        """Something went wrong with the active node: find an available one (7.2)."""
        if self._availability is None or self._availability.done():
            self._availability = asyncio.ensure_future(self._choose())

    async def _choose(self) -> None:
        try:
            await self.hosts.choose(self.rest)
        except FinesseError as exc:
            log.warning("no Finesse node is available: %s", exc)

    def _on_switch(self, old: str, new: str) -> None:
        log.warning("Finesse failover: %s -> %s", old, new)
        self._moving = asyncio.ensure_future(self._move_all())

    async def _move_all(self) -> None:
        endpoint = await self.xmpp_endpoint()
        for link in self.links.values():
            if link.notes is not None:
                link.notes.move_to(endpoint)

    # -- sessions -----------------------------------------------------------------------------

    def lock_for(self, agent_id: str) -> asyncio.Lock:
        return self._locks.setdefault(agent_id, asyncio.Lock())

    async def open_session(
        self, agent_id: str, password: str, extension: str, mobile: Mobile | None
    ) -> tuple[str, AgentLink, User]:
        """Sign an agent in through the app: check the credentials with Finesse, LOGIN,
        wait for the outcome, and issue a token."""
        async with self.lock_for(agent_id):
            creds = Credentials(agent_id, password)
            user = await self.rest.get_user(creds)  # raises FinesseUnauthorized
            link = self.links.get(agent_id)
            if link is not None and link.creds.password != password:
                link.creds = creds  # the password changed in Finesse; keep the new one
            if link is None:
                if len(self.links) >= self.config.max_sessions:
                    raise CommandError(503, "too_many_sessions", "the connector is full")
                core = AgentSession(
                    agent_id,
                    extension,
                    call_control=mobile is not None,
                    dial_number=mobile.dial_number if mobile else "",
                )
                core.user = user
                link = AgentLink(self, creds, core)
            else:
                link.core.call_control = mobile is not None
                link.core.extension = extension
                link.core.dial_number = mobile.dial_number if mobile else ""
            try:
                user = await link.sign_in(extension, mobile)
            except BaseException:
                if agent_id not in self.links:
                    await link.close()
                self.metrics.login_failures += 1
                raise
            self.links[agent_id] = link
            self.metrics.logins += 1
            self.heap.changed()
            return self.tokens.issue(agent_id), link, user

    async def close_session(self, link: AgentLink, reason_code_id: str = "") -> None:
        async with self.lock_for(link.agent_id):
            await link.sign_out(reason_code_id)
            self.links.pop(link.agent_id, None)
            self.tokens.revoke_agent(link.agent_id)
            self.heap.changed()

    def link_for_token(self, token: str) -> AgentLink | None:
        agent_id = self.tokens.agent_of(token)
        return self.links.get(agent_id) if agent_id else None

    def count_error(self, error_type: str) -> None:
        self.metrics.finesse_errors[error_type] += 1


def describe(link: AgentLink) -> dict[str, Any]:
    return ev.agent_data(link.core.user) if link.core.user else {"id": link.agent_id}
