"""The connector's per-agent notification session against the simulated Finesse, on real
loopback sockets: plaintext, STARTTLS and direct TLS, reconnects, failover, subscriptions.

Every wait is for an event (a callback of the session or a change in the simulator), with
a timeout; nothing sleeps to let things settle.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from connector.finesse import codec
from connector.finesse.models import TeamMember, Update, User
from connector.finesse.tls import SSL_READ_BUFFER, client_ssl_context
from connector.finesse.xmpp import (
    MAX_RECONNECT_DELAY,
    NotificationSession,
    SessionState,
    TlsMode,
    XmppAuthError,
    XmppConnectError,
    XmppEndpoint,
    XmppSubscriptionError,
    XmppTlsError,
    backoff_delay,
)
from finesse_sim.config import SimConfig, default_config
from finesse_sim.xmpp import session as sim_session
from mobagent import event_loop
from scenarios.stack.finesse_lab import FinesseLab

pytestmark = pytest.mark.integration

TIMEOUT = 5.0
PASSWORD = "password"
TEAM = "/finesse/api/Team/1/Users"


def user_node(agent_id: str) -> str:
    return f"/finesse/api/User/{agent_id}"


class Probe:
    """What a session reported through its callbacks, with waits on it."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Update]] = []
        self.connection: list[bool] = []
        self.finesse: list[bool] = []
        self.on_lost: Callable[[], None] | None = None  # runs inside on_connection(False)
        self._changed = asyncio.Event()

    def on_update(self, node: str, update: Update) -> None:
        self.updates.append((node, update))
        self._changed.set()

    def on_connection(self, up: bool) -> None:
        if not up and self.on_lost is not None:
            self.on_lost()
        self.connection.append(up)
        self._changed.set()

    def on_finesse(self, available: bool) -> None:
        self.finesse.append(available)
        self._changed.set()

    async def until(self, pred: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not pred():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"no {what} within {timeout} s; connection={self.connection} "
                f"finesse={self.finesse} updates={[(n, u.event) for n, u in self.updates]}"
            ) from None

    async def update(
        self, pred: Callable[[str, Update], bool], what: str, timeout: float = TIMEOUT
    ) -> tuple[str, Update]:
        """The first update matching `pred` (consumed: later waits do not see it)."""
        found: list[tuple[str, Update]] = []

        def match() -> bool:
            for i, (node, update) in enumerate(self.updates):
                if pred(node, update):
                    found.append(self.updates.pop(i))
                    return True
            return False

        await self.until(match, what, timeout)
        return found[0]

    async def user_state(self, agent_id: str, state: str) -> User:
        _, update = await self.update(
            lambda n, u: (
                n == user_node(agent_id) and isinstance(u.data, User) and u.data.state == state
            ),
            f"User {agent_id} {state}",
        )
        assert isinstance(update.data, User)
        return update.data

    async def connection_events(self, expected: list[bool]) -> None:
        await self.until(lambda: self.connection == expected, f"on_connection {expected}")


def endpoint(lab: FinesseLab, side: int = 0, tls: TlsMode = TlsMode.PLAIN) -> XmppEndpoint:
    s = lab.sim.sides[side]
    port = s.xmpp_tls_port if tls is TlsMode.DIRECT else s.xmpp_port
    assert port
    return XmppEndpoint(s.host, port, s.domain, tls)


class Sessions:
    """Builds sessions with probes, and stops whatever a test leaves running."""

    def __init__(self) -> None:
        self.made: list[NotificationSession] = []

    def new(
        self,
        agent_id: str,
        where: XmppEndpoint,
        *,
        password: str = PASSWORD,
        ssl_context: Any = None,
        **kw: Any,
    ) -> tuple[NotificationSession, Probe]:
        probe = Probe()
        kw.setdefault("reconnect_min", 0.05)
        kw.setdefault("reconnect_max", 0.2)
        kw.setdefault("connect_timeout", 3.0)
        session = NotificationSession(
            agent_id,
            password,
            where,
            ssl_context=ssl_context or client_ssl_context(),
            on_update=probe.on_update,
            on_connection=probe.on_connection,
            on_finesse_presence=probe.on_finesse,
            **kw,
        )
        self.made.append(session)
        return session, probe

    async def up(self, agent_id: str, where: XmppEndpoint, **kw: Any):
        session, probe = self.new(agent_id, where, **kw)
        await session.start()
        return session, probe

    async def stop_all(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.made))


@pytest.fixture
async def lab():
    async with FinesseLab() as lab:
        yield lab


def fifty_agents() -> SimConfig:
    config = default_config()
    base = config.agents[0]
    for n in range(11, 51):
        config.agents.append(
            dataclasses.replace(
                base,
                id=f"{1000 + n}",
                login_name=f"agent{n}",
                extension=f"{5000 + n}",
                dial_number=f"+1555123{n:04d}",
            )
        )
    return config


@pytest.fixture
async def tls_lab():
    async with FinesseLab(fifty_agents(), tls=True, xmpp_tls_port=0) as lab:
        yield lab


@pytest.fixture
async def pair():
    async with FinesseLab(secondary_rest_port=0, secondary_xmpp_port=0) as lab:
        yield lab


@pytest.fixture
async def sessions():
    made = Sessions()
    try:
        yield made
    finally:
        await made.stop_all()


@pytest.fixture
def presences(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None, str | None]]:
    """(user, type, priority) of every presence stanza the simulated server receives."""
    seen: list[tuple[str, str | None, str | None]] = []
    original = sim_session.C2SSession._presence

    def record(self: Any, presence: Any) -> None:
        priority = presence.find(f"{{{sim_session.stanzas.NS_CLIENT}}}priority")
        seen.append(
            (self.user, presence.get("type"), priority.text if priority is not None else None)
        )
        original(self, presence)

    monkeypatch.setattr(sim_session.C2SSession, "_presence", record)
    return seen


class IqLog:
    """Iq stanzas the simulated server receives (after it has handled them), with a wait."""

    def __init__(self, pred: Callable[[Any], bool]) -> None:
        self.pred = pred
        self.seen: list[Any] = []
        self.changed = asyncio.Event()

    def record(self, session: Any, iq: Any) -> None:
        if self.pred(iq):
            self.seen.append((session.user, iq))
            self.changed.set()

    async def until(self, count: int, what: str, timeout: float = TIMEOUT) -> None:
        try:
            async with asyncio.timeout(timeout):
                while len(self.seen) < count:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {count} {what} within {timeout} s: {self.seen}") from None


def log_iqs(monkeypatch: pytest.MonkeyPatch, pred: Callable[[Any], bool]) -> IqLog:
    seen = IqLog(pred)
    original = sim_session.C2SSession._iq

    def record(self: Any, iq: Any) -> None:
        original(self, iq)
        seen.record(self, iq)

    monkeypatch.setattr(sim_session.C2SSession, "_iq", record)
    return seen


def count_authentications(monkeypatch: pytest.MonkeyPatch, lab: FinesseLab, side: int = 0):
    """Replace a side's SASL check by a counting one (optionally refusing everyone)."""
    server = lab.sim.sides[side].xmpp
    original = server.authenticate
    calls: list[str] = []
    state = {"refuse": False}

    def authenticate(user: str, password: str) -> bool:
        calls.append(user)
        return False if state["refuse"] else original(user, password)

    monkeypatch.setattr(server, "authenticate", authenticate)
    return calls, state


def available(lab: FinesseLab, agent_id: str, side: int = 0) -> Callable[[], bool]:
    return lambda: agent_id in lab.sim.sides[side].xmpp.available_users()


def gone(lab: FinesseLab, agent_id: str, side: int = 0) -> Callable[[], bool]:
    return lambda: agent_id not in lab.sim.sides[side].xmpp.registry.by_user


# --- plaintext session -----------------------------------------------------------------


async def test_start_plaintext_session_is_up_and_a_login_arrives_as_an_update(
    lab: FinesseLab, sessions: Sessions, presences
):
    session, probe = await sessions.up("1001", endpoint(lab))
    assert session.connected and session.state is SessionState.UP
    assert probe.connection == [True]
    assert session.jid == f"1001@{lab.sim.sides[0].domain}/mobileagent"
    await lab.sim.wait_until(available(lab, "1001"))
    assert ("1001", None, "0") in presences  # presence with priority 0
    assert session.xmpp is not None and session.xmpp.transport.get_extra_info("ssl_object") is None

    res = await lab.agent("1001").put_user(state="LOGIN", extension="5001")
    assert res.status == 202
    _, update = await probe.update(lambda n, u: n == user_node("1001"), "User update")
    assert update.event == "PUT" and update.source == user_node("1001")
    assert isinstance(update.data, User)
    assert update.data.state == "NOT_READY"
    assert update.data.login_id == "1001" and update.data.extension == "5001"


async def test_wrong_password_is_an_auth_error_quickly_and_not_retried(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    calls, _ = count_authentications(monkeypatch, lab)
    session, probe = sessions.new("1001", endpoint(lab), password="not-the-password")
    started = time.monotonic()
    with pytest.raises(XmppAuthError):
        await session.start()
    assert time.monotonic() - started < 1.0
    assert calls == ["1001"]
    assert not session.connected and session.state is SessionState.IDLE
    assert probe.connection == []
    assert lab.sim.sides[0].xmpp.available_users() == set()


async def test_closed_port_is_a_connect_error_within_connect_timeout(sessions: Sessions):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session, _ = sessions.new(
        "1001", XmppEndpoint("127.0.0.1", port, "finesse.example"), connect_timeout=2.0
    )
    started = time.monotonic()
    with pytest.raises(XmppConnectError):
        await session.start()
    assert time.monotonic() - started < 2.0
    assert session.state is SessionState.IDLE


async def test_silent_server_is_a_connect_error_after_connect_timeout(sessions: Sessions):
    accepted: list[asyncio.StreamWriter] = []

    async def mute(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, never answer

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        session, _ = sessions.new(
            "1001", XmppEndpoint("127.0.0.1", port, "finesse.example"), connect_timeout=0.5
        )
        started = time.monotonic()
        with pytest.raises(XmppConnectError, match="within"):
            await session.start()
        assert 0.5 <= time.monotonic() - started < 2.0
        assert accepted
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "kw",
    [
        {"resource": "desktop"},
        {"resource": "Desktop"},
        {"resource": ""},
        {"reconnect_max": MAX_RECONNECT_DELAY + 1},
        {"reconnect_min": 0},
        {"reconnect_min": 5.0, "reconnect_max": 1.0},
    ],
)
async def test_desktop_resource_and_unsafe_settings_are_rejected(kw: dict[str, Any]):
    with pytest.raises(ValueError):
        NotificationSession(
            "1001",
            PASSWORD,
            XmppEndpoint("127.0.0.1", 5222, "finesse.example"),
            ssl_context=client_ssl_context(),
            on_update=lambda n, u: None,
            **kw,
        )


def test_backoff_is_jittered_between_min_and_a_doubling_cap():
    lows, highs = [], []
    for failures in range(8):
        lows.append(backoff_delay(failures, 0.5, 10.0, rand=lambda a, b: a))
        highs.append(backoff_delay(failures, 0.5, 10.0, rand=lambda a, b: b))
    assert lows == [0.5] * 8
    assert highs == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
    assert all(0.5 <= backoff_delay(3, 0.5, 10.0) <= 8.0 for _ in range(100))


# --- subscriptions -----------------------------------------------------------------------


async def test_team_subscription_delivers_member_updates_and_is_restored_after_reconnect(
    lab: FinesseLab, sessions: Sessions
):
    pubsub = lab.sim.sides[0].xmpp.pubsub
    session, probe = await sessions.up("1001", endpoint(lab))
    await session.subscribe(TEAM)
    assert session.subscriptions == (TEAM,)
    assert pubsub.explicit_subscriptions("1001") == [(TEAM, pubsub.subid("1001", TEAM))]

    await lab.agent("1002").put_user(state="LOGIN", extension="5002")
    _, update = await probe.update(
        lambda n, u: n == TEAM and u.source == user_node("1002"), "team update for 1002"
    )
    assert isinstance(update.data, TeamMember) and update.data.state == "NOT_READY"

    # A server that lost the subscription while we were away (the simulator keeps it):
    # it must be there again after the reconnect because the session made it again.
    probe.on_lost = lambda: pubsub.unsubscribe("1001", TEAM)
    await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
    await probe.connection_events([True, False, True])
    assert pubsub.subid("1001", TEAM) is not None

    await lab.agent("1002").put_user(state="READY")
    _, update = await probe.update(
        lambda n, u: n == TEAM and u.source == user_node("1002") and u.data.state == "READY",
        "team update for 1002 after the reconnect",
    )


async def test_subscribe_and_unsubscribe_are_xep0060_iqs_to_the_pubsub_service_with_full_jid(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    ns = "{http://jabber.org/protocol/pubsub}"
    iqs = log_iqs(monkeypatch, lambda iq: iq.find(f"{ns}pubsub") is not None)
    session, _ = await sessions.up("1001", endpoint(lab))
    await session.subscribe(TEAM)
    await session.unsubscribe(TEAM)
    await iqs.until(2, "pubsub requests")
    side = lab.sim.sides[0]
    for (user, iq), op in zip(iqs.seen, ["subscribe", "unsubscribe"], strict=True):
        assert user == "1001"
        assert (iq.get("type"), iq.get("to")) == ("set", f"pubsub.{side.domain}")
        (pubsub,) = iq
        (request,) = pubsub
        assert request.tag == f"{ns}{op}"
        assert request.attrib == {"node": TEAM, "jid": f"1001@{side.domain}/mobileagent"}
    assert side.xmpp.pubsub.explicit_subscriptions("1001") == []


async def test_unsubscribe_from_a_node_the_server_dropped_counts_as_done(
    lab: FinesseLab, sessions: Sessions
):
    pubsub = lab.sim.sides[0].xmpp.pubsub
    session, _ = await sessions.up("1001", endpoint(lab))
    await session.subscribe(TEAM)
    pubsub.unsubscribe("1001", TEAM)  # gone on the server: it answers unexpected-request
    await session.unsubscribe(TEAM)
    assert session.subscriptions == () and session.connected


async def test_subscription_the_service_refuses_is_an_error_and_not_remembered(
    lab: FinesseLab, sessions: Sessions
):
    session, _ = await sessions.up("1001", endpoint(lab))
    with pytest.raises(XmppSubscriptionError) as caught:
        await session.subscribe("/finesse/api/Team/99/Users")
    assert caught.value.condition == "forbidden"
    assert session.subscriptions == ()
    assert session.connected


# --- losing the connection ---------------------------------------------------------------


async def test_xmpp_drop_reconnects_with_presence_and_notifications_flow_again(
    lab: FinesseLab, sessions: Sessions, presences
):
    session, probe = await sessions.up("1001", endpoint(lab))
    await lab.sim.wait_until(available(lab, "1001"))
    presences.clear()

    await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
    await probe.connection_events([True, False])
    assert not session.connected
    await probe.connection_events([True, False, True])
    assert session.connected and session.reconnects == 1
    await lab.sim.wait_until(available(lab, "1001"))
    assert presences == [("1001", None, "0")]  # presence again, priority 0

    await lab.agent("1001").put_user(state="LOGIN", extension="5001")
    await probe.user_state("1001", "NOT_READY")
    await lab.agent("1001").put_user(state="READY")
    await probe.user_state("1001", "READY")


async def test_a_session_its_owner_let_go_is_given_up_instead_of_reconnecting(
    lab: FinesseLab, sessions: Sessions, monkeypatch
):
    """Another connector process holds the agent now: asked before the reconnect, the owner
    says no; the session stops and logs in nowhere (it would replace the other's)."""
    asking = asyncio.Event()
    answer = asyncio.get_running_loop().create_future()

    async def may_reconnect() -> bool:
        asking.set()
        return await answer

    session, probe = await sessions.up("1001", endpoint(lab), may_reconnect=may_reconnect)
    await lab.sim.wait_until(available(lab, "1001"))
    logins, _ = count_authentications(monkeypatch, lab)
    await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
    await probe.connection_events([True, False])
    await asyncio.wait_for(asking.wait(), TIMEOUT)  # asked before any attempt, and waited for
    assert session.state is SessionState.RECONNECTING and logins == []
    supervisor = session._supervisor
    assert supervisor is not None
    answer.set_result(False)
    await asyncio.wait_for(supervisor, TIMEOUT)
    assert session.state is SessionState.STOPPED
    assert logins == [] and session.reconnects == 0
    assert probe.connection == [True, False]  # given up without a word: the owner knows


async def test_ping_timeout_counts_as_a_lost_connection(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    session, probe = await sessions.up("1001", endpoint(lab), keepalive=0.3)
    ping = ("get", sim_session._PING)
    monkeypatch.setitem(sim_session._SERVER_IQ, ping, lambda *args: None)  # never answered
    await probe.connection_events([True, False])
    monkeypatch.undo()
    await probe.connection_events([True, False, True])
    assert session.reconnects == 1


async def test_keepalive_pings_the_server_and_an_error_answer_keeps_the_session(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    ping = ("get", sim_session._PING)

    def refuse(self: Any, iq_id: str, to: str | None, _payload: Any) -> None:
        self._iq_error(iq_id, to, "cancel", "service-unavailable")

    monkeypatch.setitem(sim_session._SERVER_IQ, ping, refuse)
    pings = log_iqs(monkeypatch, lambda iq: iq.find(sim_session._PING) is not None)
    session, probe = await sessions.up("1001", endpoint(lab), keepalive=0.2)
    await pings.until(3, "keepalive pings")
    domain = lab.sim.sides[0].domain
    assert all(
        (user, iq.get("type"), iq.get("to"), len(iq)) == ("1001", "get", domain, 1)
        for user, iq in pings.seen
    )
    assert session.connected and probe.connection == [True]


async def test_server_pings_are_answered_with_an_empty_result(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    answers = log_iqs(monkeypatch, lambda iq: iq.get("id") == "s2c-ping")
    session, probe = await sessions.up("1001", endpoint(lab))
    domain = lab.sim.sides[0].domain
    (server_side,) = lab.sim.sides[0].xmpp.registry.by_user["1001"]
    server_side.send(
        f"<iq type='get' id='s2c-ping' from='{domain}' to='{session.jid}'>"
        "<ping xmlns='urn:xmpp:ping'/></iq>"
    )
    await answers.until(1, "answer to the server's ping")
    ((user, iq),) = answers.seen
    assert (user, iq.get("type"), iq.get("to"), len(iq)) == ("1001", "result", domain, 0)
    assert session.connected and probe.connection == [True]


async def test_see_other_host_is_not_followed_the_session_reconnects_with_its_own_backoff(
    lab: FinesseLab, sessions: Sessions, caplog
):
    where = endpoint(lab)
    session, probe = await sessions.up("1001", where)
    (server_side,) = lab.sim.sides[0].xmpp.registry.by_user["1001"]
    with caplog.at_level(logging.WARNING, logger="connector.finesse.xmpp"):
        server_side.send(
            "<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>"
            "elsewhere.example.com:5222</see-other-host></stream:error></stream:stream>"
        )
        server_side.close()
        await probe.connection_events([True, False, True])
    assert session.endpoint == where and session.reconnects == 1
    await lab.sim.wait_until(available(lab, "1001"))
    assert any("see-other-host" in r.getMessage() for r in caplog.records)


async def test_credentials_refused_at_reconnect_are_retried_then_given_up(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch, caplog
):
    session, probe = await sessions.up("1001", endpoint(lab), auth_retry_for=0.5)
    calls, auth = count_authentications(monkeypatch, lab)
    auth["refuse"] = True  # e.g. the password was changed meanwhile
    with caplog.at_level(logging.WARNING, logger="connector.finesse.xmpp"):
        await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
        await probe.connection_events([True, False, False])
    assert session.state is SessionState.FAILED
    assert isinstance(session.failure, XmppAuthError)
    assert len(calls) >= 2 and set(calls) == {"1001"}  # retried, at the slowest backoff
    assert len(calls) <= 1 + 0.5 / 0.2 + 1
    assert any("credentials refused" in r.getMessage() for r in caplog.records)
    assert any("closed for good" in r.getMessage() for r in caplog.records)


async def test_credentials_refused_for_a_while_then_accepted_reconnect(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    """A lock-out ends: the session comes back by itself."""
    session, probe = await sessions.up("1001", endpoint(lab), auth_retry_for=60.0)
    server = lab.sim.sides[0].xmpp
    original, refused = server.authenticate, asyncio.Event()
    attempts: list[str] = []

    def authenticate(user: str, password: str) -> bool:
        attempts.append(user)
        if len(attempts) < 2:
            return False
        refused.set()  # the second attempt after the drop succeeds: the lock-out is over
        return original(user, password)

    monkeypatch.setattr(server, "authenticate", authenticate)
    await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
    await asyncio.wait_for(refused.wait(), TIMEOUT)
    await probe.connection_events([True, False, True])
    assert session.state is SessionState.UP


async def test_stop_unsubscribes_goes_unavailable_and_never_reconnects(
    lab: FinesseLab, sessions: Sessions, presences
):
    side = lab.sim.sides[0]
    session, probe = await sessions.up("1001", endpoint(lab))
    await session.subscribe(TEAM)
    await lab.sim.wait_until(available(lab, "1001"))

    await session.stop()
    assert side.xmpp.pubsub.explicit_subscriptions("1001") == []
    assert ("1001", "unavailable", None) in presences
    await lab.sim.wait_until(gone(lab, "1001"))
    assert "1001" not in side.xmpp.available_users()
    assert session.state is SessionState.STOPPED and not session.connected
    assert session.xmpp is None and session.subscriptions == ()
    assert probe.connection == [True]  # stopping is not reported as a loss
    with pytest.raises(RuntimeError):
        await session.start()
    await session.stop()  # idempotent


async def test_stop_while_reconnecting_ends_at_once_and_reports_leftovers(
    lab: FinesseLab, sessions: Sessions, caplog
):
    session, probe = await sessions.up("1001", endpoint(lab), reconnect_min=0.05)
    await session.subscribe(TEAM)
    await lab.control("POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 60})
    await probe.connection_events([True, False])
    assert session.state is SessionState.RECONNECTING
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="connector.finesse.xmpp"):
        await session.stop()
    assert time.monotonic() - started < 0.5
    assert session.state is SessionState.STOPPED and session.subscriptions == ()
    assert any(TEAM in r.getMessage() for r in caplog.records)  # left on the server


async def test_stop_during_start_makes_start_fail_at_once(sessions: Sessions):
    connected = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # hold the connection, never answer
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        session, _ = sessions.new(
            "1001", XmppEndpoint("127.0.0.1", port, "finesse.example"), connect_timeout=5.0
        )
        starting = asyncio.ensure_future(session.start())
        async with asyncio.timeout(TIMEOUT):
            await connected.wait()
        assert session.state is SessionState.CONNECTING
        await session.stop()
        async with asyncio.timeout(1.0):
            with pytest.raises(XmppConnectError):
                await starting
        assert session.state is SessionState.STOPPED
    finally:
        server.close()
        await server.wait_closed()


async def test_callback_errors_do_not_end_the_session(lab: FinesseLab, sessions: Sessions):
    session, probe = await sessions.up("1001", endpoint(lab))
    await lab.sim.wait_until(available(lab, "1001"))
    original = probe.on_update
    calls: list[str] = []

    def flaky(node: str, update: Update) -> None:
        calls.append(node)
        if len(calls) == 1:
            raise RuntimeError("bug in the caller")
        original(node, update)

    session._on_update = flaky
    await lab.agent("1001").put_user(state="LOGIN", extension="5001")
    await lab.agent("1001").put_user(state="READY")
    await probe.user_state("1001", "READY")
    assert session.connected and len(calls) >= 2


async def test_malformed_notification_is_logged_and_skipped(
    lab: FinesseLab, sessions: Sessions, caplog
):
    session, probe = await sessions.up("1001", endpoint(lab))
    await lab.sim.wait_until(available(lab, "1001"))
    side = lab.sim.sides[0]
    junk = "<Update><data><bogus>" + "x" * 1000 + "</bogus></data><event>PUT</event></Update>"
    with caplog.at_level(logging.DEBUG):
        assert side.xmpp.publish(user_node("1001"), junk) == 1
        await lab.agent("1001").put_user(state="LOGIN", extension="5001")
        await probe.user_state("1001", "NOT_READY")
    assert session.connected and probe.connection == [True]
    skipped = [r for r in caplog.records if "malformed notification" in r.getMessage()]
    assert len(skipped) == 1
    assert "bogus" in skipped[0].getMessage() and len(skipped[0].getMessage()) < 600


async def test_the_password_is_never_logged(sessions: Sessions, caplog):
    secret, wrong = "S3cret-Pw-1001", "Wr0ng-Pw-1001"
    config = default_config()
    config.agents[0] = dataclasses.replace(config.agents[0], password=secret)
    async with FinesseLab(config) as lab:
        with caplog.at_level(logging.DEBUG):
            bad, _ = sessions.new("1001", endpoint(lab), password=wrong)
            with pytest.raises(XmppAuthError):
                await bad.start()
            session, probe = await sessions.up("1001", endpoint(lab), password=secret)
            await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
            await probe.connection_events([True, False, True])
            await session.stop()
    sent_auth = [r.getMessage() for r in caplog.records if "xmpp-sasl" in r.getMessage()]
    assert any("[redacted]" in m for m in sent_auth)  # the stream's DEBUG dump of <auth>
    for pw in (secret, wrong):
        plain = base64.b64encode(f"\0{'1001'}\0{pw}".encode()).decode()
        for record in caplog.records:
            message = record.getMessage()
            assert pw not in message and plain not in message, message


# --- the 'finesse' user and failover -----------------------------------------------------


async def test_finesse_user_presence_is_reported(lab: FinesseLab, sessions: Sessions):
    session, probe = await sessions.up("1001", endpoint(lab))
    await probe.until(lambda: probe.finesse == [True], "finesse AVAILABLE")
    assert session.finesse_available is True
    await lab.control("PUT", "/clock", {"speed": 20})
    await lab.control("POST", "/faults", {"kind": "finesse_down", "seconds": 10})
    await probe.until(lambda: probe.finesse == [True, False], "finesse UNAVAILABLE")
    assert session.finesse_available is False and session.connected
    await probe.until(lambda: probe.finesse == [True, False, True], "finesse AVAILABLE again")


async def test_move_to_the_other_side_reconnects_there(pair: FinesseLab, sessions: Sessions):
    a, b = pair.sim.sides
    assert a.domain != b.domain
    session, probe = await sessions.up("1001", endpoint(pair, 0))
    await pair.sim.wait_until(available(pair, "1001", 0))

    session.move_to(endpoint(pair, 1))
    await probe.connection_events([True, False, True])
    assert session.endpoint.domain == b.domain
    assert session.jid == f"1001@{b.domain}/mobileagent"
    await pair.sim.wait_until(available(pair, "1001", 1))
    await pair.sim.wait_until(gone(pair, "1001", 0))
    assert session.reconnects == 1

    await pair.agent("1001").put_user(state="LOGIN", extension="5001")
    await probe.user_state("1001", "NOT_READY")


async def test_move_to_while_waiting_to_reconnect_goes_there_at_once(
    pair: FinesseLab, sessions: Sessions
):
    session, probe = await sessions.up(
        "1001",
        endpoint(pair, 0),
        reconnect_min=MAX_RECONNECT_DELAY,
        reconnect_max=MAX_RECONNECT_DELAY,
    )
    await pair.control("POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 60})
    await probe.connection_events([True, False])
    session.move_to(endpoint(pair, 1))  # the backoff would be 30 s: this must not wait
    await probe.connection_events([True, False, True])
    await pair.sim.wait_until(available(pair, "1001", 1))


# --- TLS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [TlsMode.STARTTLS, TlsMode.DIRECT])
async def test_tls_session_with_the_lab_ca_is_encrypted_and_delivers_updates(
    tls_lab: FinesseLab, sessions: Sessions, mode: TlsMode
):
    assert tls_lab.sim.ca_file
    ctx = client_ssl_context(ca_file=tls_lab.sim.ca_file)
    session, probe = await sessions.up("1001", endpoint(tls_lab, tls=mode), ssl_context=ctx)
    assert session.xmpp is not None
    assert session.xmpp.ssl_context is ctx
    assert session.xmpp.transport.get_extra_info("ssl_object") is not None
    await tls_lab.sim.wait_until(available(tls_lab, "1001"))
    await tls_lab.agent("1001").put_user(state="LOGIN", extension="5001")
    await probe.user_state("1001", "NOT_READY")


async def test_starttls_session_reads_through_a_small_tls_buffer(
    tls_lab: FinesseLab, sessions: Sessions
):
    ctx = client_ssl_context(ca_file=tls_lab.sim.ca_file)
    session, probe = await sessions.up(
        "1001", endpoint(tls_lab, tls=TlsMode.STARTTLS), ssl_context=ctx
    )
    assert session.xmpp is not None
    await tls_lab.sim.wait_until(available(tls_lab, "1001"))
    # A notification several times the buffer (TLS records of up to 16 KiB) arrives whole.
    big = User(login_id="1001", first_name="F" * (5 * SSL_READ_BUFFER), state="NOT_READY")
    xml = codec.update_to_xml(Update("PUT", user_node("1001"), big))
    assert tls_lab.sim.sides[0].xmpp.publish(user_node("1001"), xml) == 1
    await probe.until(
        lambda: any(
            isinstance(u.data, User) and u.data.first_name == big.first_name
            for _, u in probe.updates
        ),
        "the big notification, whole",
    )
    if event_loop.running() == "uvloop":
        return  # its TLS is its own (memory per agent: the connector_memory benchmark)
    # CPython 3.11+'s asyncio TLS transport, private: this fails loudly if it changes.
    buffer = session.xmpp.transport._ssl_protocol._ssl_buffer  # type: ignore[union-attr]
    assert isinstance(buffer, bytearray)
    assert len(buffer) <= SSL_READ_BUFFER  # not asyncio's default 256 KiB


@pytest.mark.parametrize("mode", [TlsMode.STARTTLS, TlsMode.DIRECT])
async def test_tls_against_the_default_ca_store_fails_without_sending_credentials(
    tls_lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch, mode: TlsMode
):
    calls, _ = count_authentications(monkeypatch, tls_lab)
    session, probe = sessions.new("1001", endpoint(tls_lab, tls=mode))  # self-signed server
    with pytest.raises(XmppConnectError):
        await session.start()
    assert calls == [] and probe.connection == []
    assert tls_lab.sim.sides[0].xmpp.available_users() == set()


async def test_starttls_is_required_when_configured(
    lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    calls, _ = count_authentications(monkeypatch, lab)
    session, _ = sessions.new("1001", endpoint(lab, tls=TlsMode.STARTTLS))  # no TLS offered
    with pytest.raises(XmppTlsError, match="STARTTLS"):
        await session.start()
    assert calls == []  # never fell back to plaintext


async def test_a_plaintext_session_is_refused_by_a_simulator_with_tls_on(
    tls_lab: FinesseLab, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
):
    """Finesse 12.5+ requires STARTTLS: SASL in the clear ends the stream before the
    password is checked (so it counts nothing toward the lock-out either)."""
    calls, _ = count_authentications(monkeypatch, tls_lab)
    session, probe = sessions.new("1001", endpoint(tls_lab, tls=TlsMode.PLAIN))
    with pytest.raises(XmppConnectError) as refused:
        await session.start()
    assert not isinstance(refused.value, XmppAuthError)
    assert calls == [] and probe.connection == []
    assert tls_lab.sim.model.agents["1001"].failed_logins == 0


async def test_a_simulator_allowing_plaintext_auth_takes_a_plaintext_session(
    sessions: Sessions,
):
    config = dataclasses.replace(default_config(), allow_plaintext_auth=True)
    async with FinesseLab(config, tls=True) as lab:
        session, probe = await sessions.up("1001", endpoint(lab, tls=TlsMode.PLAIN))
        assert session.xmpp is not None
        assert session.xmpp.transport.get_extra_info("ssl_object") is None
        await lab.sim.wait_until(available(lab, "1001"))
        await lab.agent("1001").put_user(state="LOGIN", extension="5001")
        await probe.user_state("1001", "NOT_READY")
        await session.stop()


async def test_fifty_sessions_share_one_ssl_context_and_each_gets_its_own_notifications(
    tls_lab: FinesseLab, sessions: Sessions
):
    ctx = client_ssl_context(ca_file=tls_lab.sim.ca_file)
    assert client_ssl_context(ca_file=tls_lab.sim.ca_file, verify=True) is ctx
    ids = [a.id for a in tls_lab.sim.config.agents]
    assert len(ids) == 50
    made = [sessions.new(i, endpoint(tls_lab, tls=TlsMode.STARTTLS), ssl_context=ctx) for i in ids]
    await asyncio.gather(*(s.start() for s, _ in made))
    assert all(s.xmpp is not None and s.xmpp.ssl_context is ctx for s, _ in made)
    assert len({id(s.xmpp) for s, _ in made}) == 50
    await tls_lab.sim.wait_until(lambda: tls_lab.sim.sides[0].xmpp.available_users() >= set(ids))

    agents = {a.id: a for a in tls_lab.sim.config.agents}
    results = await asyncio.gather(
        *(tls_lab.agent(i).put_user(state="LOGIN", extension=agents[i].extension) for i in ids)
    )
    assert all(r.status == 202 for r in results)
    await asyncio.gather(
        *(probe.user_state(i, "NOT_READY") for i, (_, probe) in zip(ids, made, strict=True))
    )
    for agent_id, (_, probe) in zip(ids, made, strict=True):
        foreign = [n for n, _ in probe.updates if n.startswith("/finesse/api/User/")]
        assert all(n.startswith(user_node(agent_id)) for n in foreign), (agent_id, foreign)
