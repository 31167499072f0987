"""The connector assembled from its configuration: the composition root.

Here, and only here, the pieces meet: the Finesse nodes (`Hosts`) and their
`FinesseMonitor`, the REST client, the notification transport (XMPP), the agent use cases
(`AgentService`) with their tokens and event sinks, the metrics and the GC policy. A new
notification transport or event sink is built here from the configuration; nothing else
changes.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp

from connector.config import ConnectorConfig
from connector.finesse.errors import FinesseError
from connector.finesse.failover import Hosts
from connector.finesse.monitor import FinesseMonitor
from connector.finesse.rest import FinesseRest
from connector.finesse.tls import client_ssl_context
from connector.finesse.xmpp import TlsMode
from connector.finesse.xmpp_transport import XmppOptions, XmppTransport
from connector.gc_policy import GcPolicy
from connector.metrics import Metrics
from connector.push import (
    Allowlist,
    MemorySubscriptions,
    PushNotifier,
    Subscriptions,
    VapidKeys,
)
from connector.push.attention import Attention, LocalAttention
from connector.push.delivery import PushSender
from connector.push.message import PushPolicy
from connector.push.metrics import PushMetrics
from connector.push.process import PushProcess
from connector.service.agents import AgentService, ServiceSettings
from connector.service.ports import StatePort
from connector.service.tokens import Tokens
from connector.store.memory import MemoryState
from connector.store.redis_push import RedisAttention, RedisSubscriptions
from connector.store.redis_state import RedisState
from connector.store.sealing import Sealer
from connector.stream import EventSink

log = logging.getLogger("connector")


class Connector:
    """Every collaborator of one connector process; `start()` builds the ones that need
    the running loop, `stop()` closes every session and client."""

    rest: FinesseRest
    monitor: FinesseMonitor
    transport: XmppTransport
    agents: AgentService
    _first_contact: asyncio.Task[None]

    def __init__(self, config: ConnectorConfig) -> None:
        self.config = config
        self.hosts = Hosts(config.finesse, config.finesse_secondary or None)
        self.tokens = Tokens(ttl=config.token_ttl)
        self.metrics = Metrics()
        self.ssl_context = client_ssl_context(
            verify=config.verify_tls, ca_file=config.ca_file or None
        )
        self.gc_policy = GcPolicy(
            freeze_interval=config.gc_freeze_interval, full_interval=config.gc_full_interval
        )
        self.sinks: list[EventSink] = []  # event sinks besides the WebSockets (push, store)
        self.state = state_store(config, self.tokens)
        if (sink := self.state.sink()) is not None:
            self.sinks.append(sink)
        self.http: aiohttp.ClientSession | None = None
        # Web Push: read (or made) now, so that a bad key file stops the start-up. Its facts
        # (subscriptions, whether each app watches) are kept with the rest of the state.
        subscriptions, self.attention = push_store(self.state)
        self.push = PushNotifier(
            subscriptions,
            VapidKeys.load(config.state_path, config.vapid_subject, config.vapid_private_key),
            Allowlist(config.push_allow),
            PushPolicy(call_ttl=config.push_call_ttl, ttl=config.push_ttl),
            PushMetrics(),
            max_per_agent=config.push_max_subscriptions,
            attention=self.attention,
        )
        self.sinks.append(self.push)
        self.websockets = 0  # open event-stream WebSockets (a gauge for /metrics)
        self._moving: asyncio.Task[None] | None = None
        self._reopening: asyncio.Task[int] | None = None

    async def start(self) -> None:
        config = self.config
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl_context)
        )
        self.rest = FinesseRest(self.http, self.hosts, timeout=config.request_timeout)
        if config.push_process:
            sender = PushProcess(self.push.vapid, self.push.metrics)
            await sender.start()
            self.push.sender = sender
        else:
            self.push.sender = PushSender.open(self.push.vapid)
        self.monitor = FinesseMonitor(self.hosts, self.rest.system_info)
        self.rest.on_unreachable = self.monitor.rest_unreachable
        self.transport = XmppTransport(
            XmppOptions(
                host=config.xmpp_host,
                port=config.xmpp_port,
                domain=config.xmpp_domain,
                tls=TlsMode(config.xmpp_tls),
                resource=config.resource,
                keepalive=config.keepalive,
                auth_retry_for=config.notification_auth_retry,
                give_up_after=config.notification_give_up,
            ),
            self.hosts,
            self.monitor,
            self.ssl_context,
            on_dropped=self._notification_dropped,
        )
        await self.state.start()
        await self.attention.start()
        self.agents = AgentService(
            self.rest,
            self.transport,
            self.state,
            self.metrics,
            settings=ServiceSettings(
                login_timeout=config.login_timeout,
                max_sessions=config.max_sessions,
                event_buffer=config.event_buffer,
                max_websockets_per_agent=config.max_websockets_per_agent,
                login_failure_limit=config.login_failure_limit,
                login_failure_window=config.login_failure_window,
                signin_rate=config.signin_rate,
                signin_burst=config.signin_burst,
                reconcile_interval=config.reconcile_interval,
            ),
            sinks=self.sinks,
            on_sessions_changed=self.gc_policy.changed,
            on_session_ended=self.push.session_ended,
            attention=self.attention,
        )
        self.hosts.add_switch_listener(self._on_switch)
        self._first_contact = asyncio.ensure_future(self._reach_finesse())
        if self.state.durable:
            # Held before the API listens (an app's first request after a restart finds its
            # agent); their notifications reopen meanwhile.
            adopted = self.agents.adopt(await self.state.claim_stored())
            self._reopening = asyncio.ensure_future(self.agents.reopen(adopted))
        self.agents.start()
        self.gc_policy.start()

    def _notification_dropped(self) -> None:
        self.metrics.notifications_dropped += 1

    async def _reach_finesse(self, every: float = 5.0) -> None:
        """Say at start-up whether Finesse answers, and keep trying until it does: a wrong
        `--finesse` is found now, not at the first agent's sign-in. (/readyz tells too.)"""
        warned = False
        while True:
            base = self.hosts.active
            try:
                info = await self.monitor.probe(base, timeout=self.config.request_timeout)
            except FinesseError as exc:
                if not warned:
                    log.warning("Finesse at %s does not answer (%s); still trying", base, exc)
                    warned = True
                await asyncio.sleep(every)
                continue
            if warned:
                log.warning("Finesse at %s answers now (%s)", base, info.status)
            return

    def finesse_status(self) -> tuple[str, str | None]:
        """The active node's state as /healthz and /readyz tell it: IN_SERVICE,
        OUT_OF_SERVICE, unreachable or unknown; and why it is not available (None if it is)."""
        node = self.hosts.node(self.hosts.active)
        assert node is not None
        status = "unreachable" if node.rest_down else (node.status or "unknown")
        return status, self.hosts.unavailable_reason(node.base_url)

    def _on_switch(self, old: str, new: str) -> None:
        """Failover: every notification session follows to the new node (7.2)."""
        self._moving = asyncio.ensure_future(self.transport.move_to(new))

    async def stop(self) -> None:
        self.gc_policy.stop()
        self.monitor.stop()
        self._first_contact.cancel()
        for task in (self._moving, self._reopening):
            if task is not None:
                task.cancel()
        await self.agents.close_all()
        await self.push.close()
        await self.attention.close()
        await self.state.close()
        if self.http is not None:
            await self.http.close()


def state_store(config: ConnectorConfig, tokens: Tokens) -> StatePort:
    """The state store the `state` option names: this process's memory, or Redis."""
    if config.state in ("", "memory"):
        return MemoryState(tokens)
    # The process's name in leases: its node and port when the port is fixed, so that a
    # restarted process takes its own agents back at once (another one waits for its
    # leases to lapse); random with a port chosen at start.
    owner = f"{socket.gethostname()}:{config.listen_port}" if config.listen_port else ""
    return RedisState(
        config.state,
        Sealer(config.state_key),
        token_ttl=config.token_ttl,
        depth=config.event_buffer,
        owner=owner,
        lease_ttl=config.lease_ttl,
    )


def push_store(state: StatePort) -> tuple[Subscriptions, Attention]:
    """Where Web Push keeps its facts: beside the state, in this process or in Redis."""
    if isinstance(state, RedisState):
        return RedisSubscriptions(state), RedisAttention(state)
    return MemorySubscriptions(), LocalAttention()
