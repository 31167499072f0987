"""The connector's Finesse REST client and failover against the simulated Finesse, over real
loopback sockets. Requests are counted on the client side with an `aiohttp.TraceConfig`."""

from __future__ import annotations

import base64
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from connector.finesse.errors import (
    FinesseApiError,
    FinesseBadRequest,
    FinesseConnectionError,
    FinesseNotFound,
    FinesseResponseError,
    FinesseServerError,
    FinesseTimeout,
    FinesseUnauthorized,
    FinesseUnavailable,
)
from connector.finesse.failover import Hosts
from connector.finesse.models import Dialog, DialogRequest, Update, User
from connector.finesse.monitor import FinesseMonitor
from connector.finesse.rest import Credentials, FinesseRest
from scenarios.stack.finesse_lab import FinesseLab, Notifications

pytestmark = pytest.mark.integration

CREDS = Credentials("1001", "password")
EXT = "5001"


@dataclass
class Wire:
    """What the client put on the wire: one entry per attempt."""

    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def start(_s: Any, _c: Any, params: aiohttp.TraceRequestStartParams) -> None:
            self.requests.append((params.method, params.url.raw_path, dict(params.headers)))

        async def end(_s: Any, _c: Any, params: aiohttp.TraceRequestEndParams) -> None:
            self.statuses.append(params.response.status)

        config.on_request_start.append(start)
        config.on_request_end.append(end)
        return config

    def count(self, method: str, path_end: str = "") -> int:
        return sum(1 for m, p, _ in self.requests if m == method and p.endswith(path_end))

    def clear(self) -> None:
        self.requests.clear()
        self.statuses.clear()


@dataclass
class Connector:
    rest: FinesseRest
    hosts: Hosts
    monitor: FinesseMonitor
    wire: Wire


@pytest.fixture
async def lab() -> AsyncIterator[FinesseLab]:
    async with FinesseLab() as lab:
        yield lab


@pytest.fixture
async def pair() -> AsyncIterator[FinesseLab]:
    async with FinesseLab(secondary_rest_port=0, secondary_xmpp_port=0) as lab:
        yield lab


@pytest.fixture
async def http_wire() -> AsyncIterator[tuple[aiohttp.ClientSession, Wire]]:
    wire = Wire()
    async with aiohttp.ClientSession(trace_configs=[wire.trace()]) as http:
        yield http, wire


def make_connector(
    http_wire: tuple[aiohttp.ClientSession, Wire], primary: str, secondary: str | None = None, **kw
) -> Connector:
    http, wire = http_wire
    hosts = Hosts(primary, secondary)
    options = {"timeout": 2.0, "retries": 3, "backoff": 0.01, "max_backoff": 0.05, **kw}
    rest = FinesseRest(http, hosts, **options)
    monitor = FinesseMonitor(hosts, rest.system_info)
    rest.on_unreachable = monitor.rest_unreachable  # as the connector's runtime wires it
    return Connector(rest, hosts, monitor, wire)


@pytest.fixture
def conn(lab: FinesseLab, http_wire) -> Connector:
    # A base URL that already ends with /finesse/api is accepted and normalised.
    return make_connector(http_wire, lab.url("/finesse/api"))


async def notes_for(lab: FinesseLab, agent_id: str = "1001", side: int = 0) -> Notifications:
    return await lab.agent(agent_id).connect_xmpp(side)


def is_user(state: str, request_id: str | None = None):
    def match(_node: str, u: Update) -> bool:
        return (
            isinstance(u.data, User)
            and u.data.state == state
            and (request_id is None or u.request_id == request_id)
        )

    return match


async def logged_in(conn: Connector, notes: Notifications, *, ready: bool = False) -> None:
    rid = await conn.rest.put_user(CREDS, state="LOGIN", extension=EXT)
    await notes.wait_for(is_user("NOT_READY", rid), "NOT_READY after LOGIN")
    if ready:
        rid = await conn.rest.put_user(CREDS, state="READY")
        await notes.wait_for(is_user("READY", rid), "READY")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- reads and changes ------------------------------------------------------------------------


async def test_system_info_needs_no_credentials_and_the_monitor_informs_hosts(
    lab: FinesseLab, conn
):
    info = await conn.monitor.probe(conn.hosts.active)
    assert info.status == "IN_SERVICE" and info.xmpp_domain == "finesse-a.sim.local"
    assert len(conn.wire.requests) == 1
    headers = conn.wire.requests[0][2]
    assert "Authorization" not in headers and headers["Accept"] == "application/xml"
    node = conn.hosts.node(conn.hosts.active)
    side = lab.sim.sides[0]
    assert (node.status, node.xmpp_host, node.xmpp_port) == (
        "IN_SERVICE",
        "127.0.0.1",
        side.xmpp_port,
    )
    assert conn.hosts.available(conn.hosts.active)


async def test_get_user_with_basic_auth(conn):
    user = await conn.rest.get_user(CREDS)
    assert (user.login_id, user.state, user.team_id) == ("1001", "LOGOUT", "1")
    method, path, headers = conn.wire.requests[0]
    assert (method, path) == ("GET", "/finesse/api/User/1001")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"1001:password").decode()
    assert headers["Accept"] == "application/xml"


async def test_login_202_and_the_request_id_sent_is_the_one_echoed(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    rid = await conn.rest.put_user(CREDS, state="LOGIN", extension=EXT)
    assert uuid.UUID(hex=rid).version == 4 and len(rid) == 32  # uuid4 hex
    method, path, headers = conn.wire.requests[0]
    assert (method, path, conn.wire.statuses) == ("PUT", "/finesse/api/User/1001", [202])
    assert headers["requestId"] == rid and headers["Content-Type"] == "application/xml"
    update = await notes.wait_for(is_user("NOT_READY"), "NOT_READY after LOGIN")
    assert update.request_id == rid and update.data.extension == EXT


async def test_ready_with_a_chosen_request_id(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    await logged_in(conn, notes)
    rid = await conn.rest.put_user(CREDS, state="READY", request_id="ready-1")
    assert rid == "ready-1"
    update = await notes.wait_for(is_user("READY"), "READY")
    assert update.request_id == "ready-1"
    assert (await conn.rest.get_user(CREDS)).state == "READY"


async def test_every_request_id_is_fresh(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    await logged_in(conn, notes, ready=True)
    ids = [h["requestId"] for m, _, h in conn.wire.requests if m == "PUT"]
    assert len(ids) == 2 and len(set(ids)) == 2


async def test_routed_call_then_answer_and_hold(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    await logged_in(conn, notes, ready=True)
    status, body = await lab.control("POST", "/calls", {"dn": "8000", "from": "+15550100"})
    assert status == 201
    await notes.dialog_event("POST")
    (dialog,) = await conn.rest.get_dialogs(CREDS)
    assert (dialog.id, dialog.state, dialog.from_address) == (
        body["callId"],
        "ALERTING",
        "+15550100",
    )
    assert dialog.participant(EXT).actions == ["ANSWER"]

    answer = DialogRequest(requested_action="ANSWER", target_media_address=EXT)
    rid = await conn.rest.dialog_action(CREDS, dialog.id, answer)
    active = await notes.dialog_event("PUT", lambda d: d.state == "ACTIVE")
    assert active.id == dialog.id
    assert (await conn.rest.get_dialog(CREDS, dialog.id)).participant(EXT).state == "ACTIVE"
    assert conn.wire.requests[-2][2]["requestId"] == rid

    hold = DialogRequest(requested_action="HOLD", target_media_address=EXT)
    await conn.rest.dialog_action(CREDS, dialog.id, hold)
    await notes.dialog_event("PUT", lambda d: d.participant(EXT).state == "HELD")
    held = await conn.rest.get_dialog(CREDS, dialog.id)
    assert held.participant(EXT).state == "HELD" and "RETRIEVE" in held.participant(EXT).actions


async def test_make_call_with_call_variables(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    await logged_in(conn, notes)
    rid = await conn.rest.make_call(
        CREDS, from_address=EXT, to_address="+15550199", call_variables={"callVariable1": "X-1"}
    )
    method, path, headers = conn.wire.requests[-1]
    assert (method, path, headers["requestId"]) == ("POST", "/finesse/api/User/1001/Dialogs", rid)
    update = await notes.wait_for(
        lambda n, u: n.endswith("/Dialogs") and u.event == "POST", "Dialogs POST"
    )
    assert update.request_id == rid
    dialog: Dialog = update.data[0]
    assert dialog.to_address == "+15550199"
    assert dialog.media_properties.call_variables["callVariable1"] == "X-1"
    assert [d.id for d in await conn.rest.get_dialogs(CREDS)] == [dialog.id]


async def test_reason_codes_wrap_up_reasons_and_team(conn):
    assert [c.label for c in await conn.rest.reason_codes(CREDS, "NOT_READY")] == ["Break", "Lunch"]
    (logout,) = await conn.rest.reason_codes(CREDS, "LOGOUT")
    assert (logout.id, logout.label, logout.category) == ("3", "End of shift", "LOGOUT")
    assert conn.wire.requests[0][1] == "/finesse/api/User/1001/ReasonCodes"
    reasons = await conn.rest.wrap_up_reasons(CREDS)
    assert [w.label for w in reasons] == ["Resolved", "Escalated"]
    team = await conn.rest.team(CREDS, "1")
    assert team.name == "Sales" and "1001" in {m.login_id for m in team.users}


# -- refusals ---------------------------------------------------------------------------------


async def test_wrong_password_is_unauthorized_and_never_retried(conn, caplog):
    caplog.set_level(logging.DEBUG, logger="connector.finesse")
    bad = Credentials("1001", "not-the-password")
    with pytest.raises(FinesseUnauthorized) as info:
        await conn.rest.get_user(bad)
    err = info.value
    assert (err.status, err.error_type) == (401, "Authorization Failure")
    assert conn.wire.count("GET") == 1
    secret = base64.b64encode(b"1001:not-the-password").decode()
    for text in (str(err), repr(err), caplog.text):
        assert "not-the-password" not in text and secret not in text
    assert "GET" in caplog.text and "401" in caplog.text  # the request is logged, lean


async def test_unknown_team_is_not_found_with_its_error_type(conn):
    with pytest.raises(FinesseNotFound) as info:
        await conn.rest.team(CREDS, "99")
    assert (info.value.error_type, info.value.error_data) == ("TeamId Not Found", "99")


@pytest.mark.parametrize(
    ("fields", "error_type"),
    [
        ({"state": "TALKING"}, "Invalid Input"),  # never settable by an agent
        ({"state": "NOT_READY"}, "Parameter Missing"),  # reason codes are configured
        ({"state": "LOGOUT", "reason_code_id": "3"}, "Invalid State"),  # LOGOUT from READY
    ],
)
async def test_wrong_state_passes_finesse_error_type_through(
    lab: FinesseLab, conn, fields, error_type
):
    notes = await notes_for(lab)
    await logged_in(conn, notes, ready=True)
    conn.wire.clear()
    with pytest.raises(FinesseBadRequest) as info:
        await conn.rest.put_user(CREDS, **fields)
    assert (info.value.status, info.value.error_type) == (400, error_type)
    assert conn.wire.count("PUT") == 1


async def test_a_bad_get_is_never_retried(conn):
    with pytest.raises(FinesseBadRequest) as info:
        await conn.rest.reason_codes(CREDS, "")
    assert info.value.error_type == "Parameter Missing"
    assert conn.wire.count("GET") == 1


async def test_unknown_dialog_is_not_found(conn):
    with pytest.raises(FinesseNotFound) as info:
        await conn.rest.get_dialog(CREDS, "99999")
    assert (info.value.status, info.value.error_type) == (404, "Not Found")
    assert conn.wire.count("GET") == 1


async def test_a_dialog_id_cannot_climb_the_path(lab: FinesseLab, conn):
    notes = await notes_for(lab)
    await logged_in(conn, notes)
    with pytest.raises(FinesseNotFound):
        await conn.rest.get_dialog(CREDS, "../User/1001")
    assert conn.wire.requests[-1][1] == "/finesse/api/Dialog/..%2FUser%2F1001"  # one segment
    assert conn.wire.statuses[-1] == 404


# -- out of service, timeouts, refused connections -------------------------------------------


async def test_out_of_service_get_retried_then_unavailable_put_sent_once(lab: FinesseLab, conn):
    status, _ = await lab.control("POST", "/faults", {"kind": "out_of_service", "seconds": 3600})
    assert status == 200
    with pytest.raises(FinesseUnavailable) as info:
        await conn.rest.get_user(CREDS)
    assert (info.value.status, info.value.error_message) == (503, "SERVER_OUT_OF_SERVICE")
    assert conn.wire.count("GET") == 3 and conn.wire.statuses == [503, 503, 503]
    conn.wire.clear()
    with pytest.raises(FinesseUnavailable):
        await conn.rest.put_user(CREDS, state="LOGIN", extension=EXT)
    assert conn.wire.count("PUT") == 1
    # OUT_OF_SERVICE (CTI loss) is not a reason to fail over (docs/finesse.md, Failover, third row).
    await conn.monitor.probe(conn.hosts.active)
    assert conn.hosts.node(conn.hosts.active).status == "OUT_OF_SERVICE"
    assert conn.hosts.needs_choice() is None


async def test_a_get_succeeds_across_a_short_out_of_service(lab: FinesseLab, http_wire):
    conn = make_connector(http_wire, lab.url(""), retries=60, backoff=0.02, max_backoff=0.1)
    assert (await lab.control("PUT", "/clock", {"speed": 50}))[0] == 200
    # 10 model seconds at speed 50: the outage lasts 0.2 s of wall time.
    status, _ = await lab.control("POST", "/faults", {"kind": "out_of_service", "seconds": 10})
    assert status == 200
    user = await conn.rest.get_user(CREDS)
    assert user.login_id == "1001"
    assert conn.wire.statuses[0] == 503 and conn.wire.statuses[-1] == 200
    assert set(conn.wire.statuses[:-1]) == {503}


async def test_connection_refused_is_a_connection_error(http_wire):
    base = f"http://127.0.0.1:{closed_port()}"
    conn = make_connector(http_wire, base)
    with pytest.raises(FinesseConnectionError) as info:
        await conn.rest.get_user(CREDS)
    assert info.value.host == base.removeprefix("http://")
    assert info.value.host in str(info.value) and "password" not in str(info.value)
    assert conn.wire.count("GET") == 3  # a GET is retried on connection errors
    assert conn.hosts.node(base).rest_down and "REST" in conn.hosts.needs_choice()
    conn.wire.clear()
    with pytest.raises(FinesseConnectionError):
        await conn.rest.put_user(CREDS, state="READY")
    assert conn.wire.count("PUT") == 1  # a change is never repeated


async def test_a_slow_answer_times_out(lab: FinesseLab, http_wire):
    conn = make_connector(http_wire, lab.url(""), timeout=0.2, retries=2)
    fault = {"kind": "rest_latency", "ms": 1000, "seconds": 3600}
    assert (await lab.control("POST", "/faults", fault))[0] == 200
    with pytest.raises(FinesseTimeout, match=r"no answer within 0\.2 s"):
        await conn.rest.get_user(CREDS)
    assert conn.wire.count("GET") == 2


# -- failover between two sides ---------------------------------------------------------------


async def test_side_down_choose_switches_to_b_and_requests_succeed_there(
    pair: FinesseLab, http_wire
):
    conn = make_connector(http_wire, pair.url(""), pair.url("", side=1))
    a, b = conn.hosts.active, conn.hosts.alternate
    switches: list[tuple[str, str]] = []
    conn.hosts.add_switch_listener(lambda old, new: switches.append((old, new)))
    assert await conn.monitor.choose() == a  # both fine: stay on the primary
    await conn.rest.get_user(CREDS)  # a pooled connection to A now exists

    await pair.control("POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 3600})
    await pair.sim.wait_until(lambda: pair.sim.sides[0].site is None)
    with pytest.raises(FinesseConnectionError):
        await conn.rest.put_user(CREDS, state="LOGIN", extension=EXT)
    assert conn.wire.count("PUT") == 1  # sent once, to A: a change never fails over by itself
    assert conn.hosts.active == a and "REST" in conn.hosts.needs_choice()

    assert await conn.monitor.choose() == b
    assert conn.hosts.active == b and switches == [(a, b)]
    assert conn.hosts.node(b).xmpp_port == pair.sim.sides[1].xmpp_port
    notes = await notes_for(pair, side=1)  # XMPP reconnects to B, as 7.2 row 1 says
    await conn.rest.put_user(CREDS, state="LOGIN", extension=EXT)
    await notes.wait_for(is_user("NOT_READY"), "NOT_READY after LOGIN on B")
    assert (await conn.rest.get_user(CREDS)).state == "NOT_READY"
    assert conn.wire.requests[-1][1] == "/finesse/api/User/1001"
    assert conn.hosts.needs_choice() is None


async def test_a_get_fails_over_by_itself(pair: FinesseLab, http_wire):
    conn = make_connector(http_wire, pair.url(""), pair.url("", side=1))
    b = conn.hosts.alternate
    await pair.control("POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 3600})
    await pair.sim.wait_until(lambda: pair.sim.sides[0].site is None)
    user = await conn.rest.get_user(CREDS)
    assert user.login_id == "1001" and conn.hosts.active == b
    # The failed GET, the SystemInfo polls of A then B, the GET on B.
    paths = [p for _, p, _ in conn.wire.requests]
    assert paths == [
        "/finesse/api/User/1001",
        "/finesse/api/SystemInfo",
        "/finesse/api/SystemInfo",
        "/finesse/api/User/1001",
    ]


# -- answers that are not Finesse's ------------------------------------------------------------


@pytest.fixture
async def odd_server() -> AsyncIterator[str]:
    """A web server in front of nothing: an HTML error page, a redirect, a garbage 200."""
    from aiohttp import web

    async def html_502(_r: web.Request) -> web.Response:
        return web.Response(
            status=502, text="<html><body>nginx</body></html>", content_type="text/html"
        )

    async def redirect(_r: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("https://127.0.0.1:8445/finesse/api/User/1001")

    async def garbage(_r: web.Request) -> web.Response:
        return web.Response(text="<html>login page</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/finesse/api/User/1001", html_502)
    app.router.add_put("/finesse/api/User/1001", redirect)
    app.router.add_get("/finesse/api/User/1001/Dialogs", garbage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_non_finesse_answers_are_typed_errors(odd_server: str, http_wire):
    conn = make_connector(http_wire, odd_server)
    with pytest.raises(FinesseServerError) as info:
        await conn.rest.get_user(CREDS)
    assert (info.value.status, info.value.error_type) == (502, "Bad Gateway")
    assert conn.wire.count("GET") == 1  # only a 503 is worth retrying
    with pytest.raises(FinesseApiError) as info:
        await conn.rest.put_user(CREDS, state="READY")
    assert (info.value.status, info.value.error_type) == (301, "Moved Permanently")
    assert conn.wire.count("PUT") == 1 and conn.wire.count("GET") == 1  # not followed
    with pytest.raises(FinesseResponseError):
        await conn.rest.get_dialogs(CREDS)
