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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.errors import AgentError, Refusal
from connector.finesse.errors import FinesseUnauthorized
from connector.finesse.models import AgentState, MobileAgent, ReasonCode, WrapUpReason
from connector.finesse.notifications import NotificationTransport
from connector.finesse.rest import Credentials
from connector.metrics import Metrics
from connector.service.link import AgentLink
from connector.service.ports import FinessePort
from connector.service.tokens import Tokens
from connector.session import events as ev
from connector.session.agent_session import AgentSession
from connector.stream import EventSink, EventStream

REASON_CATEGORIES = (AgentState.NOT_READY, AgentState.LOGOUT)


@dataclass(frozen=True)
class ServiceSettings:
    login_timeout: float = 30.0  # LOGIN to its outcome (a nailed connection rings first)
    max_sessions: int = 5000
    event_buffer: int = 1000  # replay buffer per agent


class AgentService:
    def __init__(
        self,
        finesse: FinessePort,
        transport: NotificationTransport,
        tokens: Tokens,
        metrics: Metrics,
        *,
        settings: ServiceSettings | None = None,
        sinks: Sequence[EventSink] = (),
        on_sessions_changed: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.finesse = finesse
        self.transport = transport
        self.tokens = tokens
        self.metrics = metrics
        self.settings = settings or ServiceSettings()
        self.sinks = tuple(sinks)
        self._changed = on_sessions_changed  # e.g. the GC policy's changed()
        self._clock = clock
        self.links: dict[str, AgentLink] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- who is asking ------------------------------------------------------------------------

    def authenticate(self, token: str) -> AgentLink:
        agent_id = self.tokens.agent_of(token) if token else None
        link = self.links.get(agent_id) if agent_id else None
        if link is None:
            raise AgentError(Refusal.UNAUTHORIZED, "a valid session token is required")
        return link

    # -- sessions -----------------------------------------------------------------------------

    def _lock(self, agent_id: str) -> asyncio.Lock:
        return self._locks.setdefault(agent_id, asyncio.Lock())

    async def sign_in(
        self, agent_id: str, password: str, extension: str, mobile: MobileAgent | None
    ) -> tuple[str, AgentLink]:
        """Check the credentials with Finesse, LOGIN, wait for the outcome, issue a token.
        No `mobile`: a state-only session (no call control)."""
        async with self._lock(agent_id):
            creds = Credentials(agent_id, password)
            try:
                user = await self.finesse.get_user(creds)
            except FinesseUnauthorized as exc:
                raise AgentError(
                    Refusal.WRONG_CREDENTIALS,
                    "wrong agent id or password",
                    error_type=exc.error_type or "Authorization Failure",
                ) from exc
            link = self.links.get(agent_id)
            if link is not None and link.creds.password != password:
                link.creds = creds  # the password changed in Finesse; keep the new one
            if link is None:
                if len(self.links) >= self.settings.max_sessions:
                    raise AgentError(Refusal.TOO_MANY_SESSIONS, "the connector is full")
                link = self._new_link(creds, extension, mobile)
                link.session.user = user
            else:
                session = link.session
                session.call_control = mobile is not None
                session.extension = extension
                session.dial_number = mobile.dial_number if mobile else ""
            try:
                await link.log_in(self.transport, extension, mobile, self.settings.login_timeout)
            except BaseException:
                if agent_id not in self.links:
                    await link.close()
                self.metrics.login_failures += 1
                raise
            self.links[agent_id] = link
            self.metrics.logins += 1
            self._changed()
            return self.tokens.issue(agent_id), link

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
        )
        return AgentLink(creds, session, stream, finesse=self.finesse, metrics=self.metrics)

    async def sign_out(self, link: AgentLink, reason_code_id: str = "") -> None:
        async with self._lock(link.agent_id):
            await link.log_out(reason_code_id, self.settings.login_timeout)
            self.links.pop(link.agent_id, None)
            self.tokens.revoke_agent(link.agent_id)
            self._changed()

    async def close_all(self) -> None:
        """The connector stops: close every session (Finesse logs the agents out after its
        own timeout, as it would after any loss of their notification sessions)."""
        await asyncio.gather(*(link.close() for link in self.links.values()))
        self.links.clear()

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

    async def resync(self, link: AgentLink) -> None:
        await link.resync()

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
