"""The running simulator: one model, one clock, one or two Finesse sides, the control API.

A Finesse deployment is a primary/secondary pair (docs/finesse.md, Failover). Each side here has its
own REST listener and XMPP notification service over the same model, and each reports the
other in SystemInfo. Faults (out of service, side down, lost notifications, latency,
dropped XMPP sessions) are switched here, with their durations on the model clock.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import simpy
from aiohttp import web

from connector.finesse import codec
from connector.finesse.models import SYSTEM_INFO_URI, Node, SystemInfo, Update
from finesse_sim.clock import WallClock
from finesse_sim.config import SimConfig
from finesse_sim.model.contact_center import ContactCenter
from finesse_sim.model.timers import Timer, schedule
from finesse_sim.traffic import TrafficGenerator, TrafficProfile
from finesse_sim.web import control_api, finesse_api
from finesse_sim.xmpp import XmppServer

log = logging.getLogger("finesse_sim")


@dataclass(eq=False)
class Side:
    name: str  # "A" (primary) or "B" (secondary)
    host: str
    domain: str
    rest_port: int
    xmpp_port: int
    xmpp_tls_port: int | None = None
    xmpp: XmppServer | None = None
    runner: web.AppRunner | None = None
    site: web.TCPSite | None = None
    down: bool = False
    down_timer: Timer | None = None
    webapp_down: bool = False  # the 'finesse' user UNAVAILABLE, REST unanswered (7.2)
    webapp_timer: Timer | None = None


@dataclass
class Listen:
    """Where the simulator listens. Port 0 picks a free port; None leaves a listener out."""

    host: str = "127.0.0.1"
    rest_port: int = 8445
    xmpp_port: int = 5222
    xmpp_tls_port: int | None = None
    secondary_rest_port: int | None = None
    secondary_xmpp_port: int | None = None
    secondary_host: str | None = None  # e.g. 127.0.0.2, so the two nodes differ by host
    # STARTTLS on the XMPP port, required before SASL unless the roster allows plaintext
    # authentication (and direct TLS where a TLS port is set)
    tls: bool = False


@dataclass
class PhoneWatchers:
    """Handset event subscribers (control API WebSockets), by phone number."""

    queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = field(default_factory=dict)

    def add(self, number: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues.setdefault(number, set()).add(queue)
        return queue

    def remove(self, number: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        watchers = self.queues.get(number)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self.queues[number]

    def send(self, number: str, event: dict[str, Any]) -> None:
        for queue in self.queues.get(number, ()):
            queue.put_nowait(event)


class Simulator:
    def __init__(self, config: SimConfig, listen: Listen | None = None, speed: float = 1.0):
        self.config = config
        self.listen = listen or Listen()
        self.env = simpy.Environment()
        self.clock = WallClock(self.env, speed)
        self.model = ContactCenter(
            config,
            self.env,
            on_notification=self._publish,
            on_phone_event=self._phone_event,
        )
        self.phones = PhoneWatchers()
        self.traffic: TrafficGenerator | None = None  # live traffic, `start_traffic`
        self.rest_latency_ms = 0
        self._latency_timer: Timer | None = None
        self._service_timer: Timer | None = None
        self.tls_context: ssl.SSLContext | None = None
        self.ca_file: str | None = None
        self.notifications_published = 0
        self.last_publish_monotonic = 0.0
        self._changed = asyncio.Event()
        self.sides: list[Side] = [
            Side(
                "A",
                self.listen.host,
                config.xmpp_domain,
                self.listen.rest_port,
                self.listen.xmpp_port,
                self.listen.xmpp_tls_port,
            )
        ]
        if self.listen.secondary_rest_port is not None:
            self.sides.append(
                Side(
                    "B",
                    self.listen.secondary_host or self.listen.host,
                    config.secondary_xmpp_domain,
                    self.listen.secondary_rest_port,
                    self.listen.secondary_xmpp_port or 0,
                )
            )

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.clock.start()
        if self.listen.tls:
            from finesse_sim.tls import self_signed_context

            hosts = {s.host for s in self.sides}
            names = [*hosts, "localhost", *(s.domain for s in self.sides)]
            self.tls_context, ca_path = self_signed_context(names)
            self.ca_file = str(ca_path)
        for side in self.sides:
            await self._start_side(side)

    async def _start_side(self, side: Side) -> None:
        side.xmpp = XmppServer(
            domain=side.domain,
            authenticate=self._xmpp_authenticate,
            on_presence=self._presence,
            auto_nodes=self.model.auto_nodes,
            may_subscribe=self.model.may_subscribe,
            tls_context=self.tls_context,
            allow_plaintext_auth=self.config.allow_plaintext_auth,
        )
        side.xmpp_port, tls_port = await side.xmpp.start(
            side.host, side.xmpp_port, side.xmpp_tls_port if self.tls_context else None
        )
        side.xmpp_tls_port = tls_port
        app = self.make_app(side)
        side.runner = web.AppRunner(app, access_log=None)
        await side.runner.setup()
        side.site = web.TCPSite(side.runner, side.host, side.rest_port, backlog=1024)
        await side.site.start()
        server = side.site._server
        if server is not None and side.rest_port == 0:
            side.rest_port = server.sockets[0].getsockname()[1]

    def make_app(self, side: Side) -> web.Application:
        app = web.Application(
            middlewares=[control_api.side_gate, finesse_api.finesse_errors],
            client_max_size=finesse_api.MAX_BODY,
        )
        app[finesse_api.SIM_KEY] = self
        app[finesse_api.SIDE_KEY] = side
        finesse_api.add_routes(app)
        control_api.add_routes(app)
        return app

    async def stop(self) -> None:
        self.stop_traffic()
        self.clock.stop()
        for side in self.sides:
            if side.xmpp is not None:
                await side.xmpp.stop()
            if side.runner is not None:
                await side.runner.cleanup()

    # -- live traffic -------------------------------------------------------------------------

    def start_traffic(self, profile: TrafficProfile) -> TrafficGenerator:
        """Customers call by `profile` from now on, on the model clock (replacing any
        traffic already running). Raises `ProfileError` for a DN that is not a queue."""
        self.stop_traffic()
        with self.model_input():
            self.traffic = TrafficGenerator(self.model, profile, on_change=self._signal)
            self.traffic.start()
        return self.traffic

    def stop_traffic(self) -> None:
        """No more arrivals; its counters stay readable (`GET /sim/v1/traffic`)."""
        if self.traffic is not None and self.traffic.running:
            with self.model_input():
                self.traffic.stop()

    # -- inputs -------------------------------------------------------------------------------

    @contextmanager
    def model_input(self) -> Iterator[None]:
        """Bring the model to the present, apply an input, re-arm the clock for the timers it
        may have started."""
        self.clock.sync()
        try:
            yield
        finally:
            self.clock.sync()

    def _xmpp_authenticate(self, user: str, password: str) -> bool:
        from connector.finesse.models import ApiErrorException

        if user not in self.model.agents:
            return False  # the JID's local part is the agent id, never the login name
        with self.model_input():
            try:
                # Finesse's notification service authenticates against Finesse's own user
                # store: a bad SASL password counts toward the same lock-out as a bad REST
                # one, and a locked user is refused here even with the right password.
                # UNCONFIRMED: the SASL condition for a locked user; `not-authorized`, as
                # for a wrong password (Openfire's auth provider just fails).
                self.model.authenticate(user, password)
            except ApiErrorException:
                return False
        return True

    def _signal(self) -> None:
        """Wake everyone in `wait_until`: presence changed or a notification went out."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, pred: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait for a condition on the simulator, re-checked at each change it signals."""
        async with asyncio.timeout(timeout):
            while not pred():
                await self._changed.wait()

    def _presence(self, user: str, available: bool) -> None:
        self._signal()
        # A user counts as present while any side holds an available session.
        if not available and any(
            s.xmpp is not None and user in s.xmpp.available_users() for s in self.sides
        ):
            return
        with self.model_input():
            self.model.presence(user, available)

    # -- outputs ------------------------------------------------------------------------------

    def _publish(self, node: str, update: Update) -> None:
        xml = codec.update_to_xml(update)
        self.notifications_published += 1
        self.last_publish_monotonic = time.monotonic()
        for side in self.sides:
            if side.xmpp is not None and not side.down:
                side.xmpp.publish(node, xml)
        self._signal()

    def _phone_event(self, number: str, event: dict[str, Any]) -> None:
        if self.traffic is not None:
            self.traffic.phone_event(number, event)  # its customers' handsets
        event = {**event, "ts": self.model.timestamp(), "monotonic": time.monotonic()}
        self.phones.send(number, event)

    # -- SystemInfo ---------------------------------------------------------------------------

    def _node(self, side: Side) -> Node:
        return Node(
            host=side.host,
            https_port=str(side.rest_port),
            xmpp_port=str(side.xmpp_port),
            xmpp_secure_port=str(side.xmpp_tls_port or ""),
        )

    def system_info(self, side: Side) -> SystemInfo:
        primary = self.sides[0]
        secondary = self.sides[1] if len(self.sides) > 1 else None
        return SystemInfo(
            status="IN_SERVICE" if self.model.in_service else "OUT_OF_SERVICE",
            deployment_type=self.config.deployment,
            current_timestamp=self.model.timestamp(),
            xmpp_domain=side.domain,
            xmpp_pubsub_domain=f"pubsub.{side.domain}",
            primary_node=self._node(primary),
            secondary_node=self._node(secondary) if secondary else None,
            cti_version="20" if self.config.deployment == "UCCE" else "",
            peripheral_id="5000",
        )

    def _publish_system_info(self) -> None:
        for side in self.sides:
            if side.xmpp is None or side.down:
                continue
            update = Update("PUT", SYSTEM_INFO_URI, self.system_info(side))
            side.xmpp.publish(SYSTEM_INFO_URI, codec.update_to_xml(update))

    # -- faults -------------------------------------------------------------------------------

    def out_of_service(self, seconds: float) -> None:
        """CTI failover: OUT_OF_SERVICE notification, 503s and no events; then IN_SERVICE and
        the latest state re-published (docs/finesse.md, Out of service)."""
        with self.model_input():
            if self._service_timer:
                self._service_timer.cancel()
            if self.model.in_service:
                self.model.set_in_service(False)
                self._publish_system_info()
            self._service_timer = schedule(self.env, seconds, self._back_in_service)

    def _back_in_service(self) -> None:
        self._service_timer = None
        self.model.in_service = True
        self._publish_system_info()
        self.model.in_service = False
        self.model.set_in_service(True)

    def rest_latency(self, ms: int, seconds: float) -> None:
        with self.model_input():
            self.rest_latency_ms = ms
            if self._latency_timer:
                self._latency_timer.cancel()
            self._latency_timer = schedule(self.env, seconds, self._latency_over)

    def _latency_over(self) -> None:
        self.rest_latency_ms = 0

    def drop_xmpp(self) -> None:
        for side in self.sides:
            if side.xmpp is not None:
                side.xmpp.drop_all_sessions()

    def side(self, name: str) -> Side | None:
        return next((s for s in self.sides if s.name == name.upper()), None)

    async def side_down(self, side: Side, seconds: float) -> None:
        """The side refuses connections and drops its XMPP sessions for a while."""
        with self.model_input():
            if side.down_timer:
                side.down_timer.cancel()
            side.down_timer = schedule(
                self.env, seconds, lambda: asyncio.ensure_future(self._side_up(side))
            )
        if side.down:
            return
        side.down = True
        assert side.xmpp is not None
        side.xmpp.set_refusing(True)
        if side.site is not None:
            await side.site.stop()
            side.site = None

    async def _side_up(self, side: Side) -> None:
        side.down_timer = None
        side.down = False
        assert side.xmpp is not None and side.runner is not None
        side.xmpp.set_refusing(False)
        side.site = web.TCPSite(side.runner, side.host, side.rest_port, backlog=1024)
        await side.site.start()

    def finesse_down(self, side: Side, seconds: float) -> None:
        """The Finesse webapp (Tomcat) of one side is down: its 'finesse' XMPP user goes
        UNAVAILABLE and its REST API answers nothing; then AVAILABLE again, followed by an
        IN_SERVICE SystemInfo notification (the recovery docs/finesse.md, Failover expects)."""
        with self.model_input():
            if side.webapp_timer:
                side.webapp_timer.cancel()
            side.webapp_timer = schedule(self.env, seconds, lambda: self._finesse_up(side))
        side.webapp_down = True
        if side.xmpp is not None:
            side.xmpp.set_finesse_presence(False)

    def _finesse_up(self, side: Side) -> None:
        side.webapp_timer = None
        side.webapp_down = False
        if side.xmpp is not None and not side.down:
            side.xmpp.set_finesse_presence(True)
            update = Update("PUT", SYSTEM_INFO_URI, self.system_info(side))
            side.xmpp.publish(SYSTEM_INFO_URI, codec.update_to_xml(update))

    async def reset(self) -> None:
        """A fresh world: everyone logged out, no calls, no faults, every side up."""
        was_out = not self.model.in_service
        for timer in (self._latency_timer, self._service_timer):
            if timer:
                timer.cancel()
        self._latency_timer = self._service_timer = None
        self.rest_latency_ms = 0
        with self.model_input():
            self.model.reset()
            if self.traffic is not None:
                self.traffic.reset()  # its calls are gone: it starts over
        if was_out:
            self._publish_system_info()  # clients are waiting for IN_SERVICE
        for side in self.sides:
            if side.webapp_timer:
                side.webapp_timer.cancel()
            side.webapp_down, side.webapp_timer = False, None
            if side.down_timer:
                side.down_timer.cancel()
            if side.down:
                await self._side_up(side)
            elif side.xmpp is not None:
                side.xmpp.set_finesse_presence(True)
        self.clock.sync()
