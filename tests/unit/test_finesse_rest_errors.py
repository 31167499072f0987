"""Typed Finesse errors, Credentials and the failover state machine of docs/finesse.md, Failover,
without a network (the monitor's `choose()` polls a scripted SystemInfo poller)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connector.finesse import codec
from connector.finesse.errors import (
    FinesseApiError,
    FinesseAsyncError,
    FinesseBadRequest,
    FinesseConnectionError,
    FinesseError,
    FinesseNotFound,
    FinesseServerError,
    FinesseUnauthorized,
    FinesseUnavailable,
    api_error_from_response,
)
from connector.finesse.failover import FinessePresence, Hosts, normalize_base
from connector.finesse.models import ApiError, Node, SystemInfo
from connector.finesse.monitor import FinesseMonitor
from connector.finesse.rest import Credentials, FinesseRest, _segment

GOLDEN = Path(__file__).parent.parent / "golden"
A = "http://fin-a.example.com:8445"
B = "http://fin-b.example.com:8445"


def body(error_type: str, message: str = "", data: str = "") -> str:
    return codec.api_errors_to_xml([ApiError(error_type, message, data)])


# -- api_error_from_response ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "cls"),
    [
        (401, "Authorization Failure", FinesseUnauthorized),
        (401, "Authentication Failure", FinesseUnauthorized),
        (401, "Invalid Authorization User Specified", FinesseUnauthorized),
        (401, "Invalid Supervisor", FinesseUnauthorized),
        (401, "Invalid State", FinesseBadRequest),  # docs/finesse.md, Errors: a HELD participant
        (404, "Not Found", FinesseNotFound),
        (404, "User Not Found", FinesseNotFound),
        (400, "Invalid State", FinesseBadRequest),
        (400, "Invalid Input", FinesseBadRequest),
        (400, "Parameter Missing", FinesseBadRequest),
        (400, "Invalid Destination", FinesseBadRequest),
        (400, "20700", FinesseBadRequest),
        (503, "Service Unavailable", FinesseUnavailable),
        (500, "Internal Server Error", FinesseServerError),
        (502, "Bad Gateway", FinesseServerError),
        (501, "Not Implemented", FinesseApiError),
        (405, "Method Not Allowed", FinesseApiError),
        (415, "Unsupported Media Type", FinesseApiError),
        (403, "Forbidden", FinesseApiError),
    ],
)
def test_status_and_type_choose_the_class(status, error_type, cls):
    err = api_error_from_response(status, body(error_type, "MSG", "data"))
    assert type(err) is cls
    assert isinstance(err, FinesseApiError) and isinstance(err, FinesseError)
    assert (err.status, err.error_type, err.error_message, err.error_data) == (
        status,
        error_type,
        "MSG",
        "data",
    )


def test_the_golden_rest_error_body_is_read_with_every_field():
    err = api_error_from_response(400, (GOLDEN / "rest_api_errors.xml").read_text())
    assert isinstance(err, FinesseBadRequest)
    assert err.errors == [ApiError("Invalid Input", "Invalid State specified for user", "state")]


def test_out_of_service_503_as_finesse_sends_it():
    err = api_error_from_response(503, body("Service Unavailable", "SERVER_OUT_OF_SERVICE"))
    assert isinstance(err, FinesseUnavailable)
    assert err.error_message == "SERVER_OUT_OF_SERVICE"


def test_every_error_of_the_body_is_kept_and_the_first_is_the_face():
    xml = codec.api_errors_to_xml([ApiError("Invalid Input", "a"), ApiError("Bad Request", "b")])
    err = api_error_from_response(400, xml)
    assert [e.error_type for e in err.errors] == ["Invalid Input", "Bad Request"]
    assert err.error_type == "Invalid Input"


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        b"",
        "   \n",
        "<html><head><title>502 Bad Gateway</title></head><body><hr>nginx</body></html>",
        "<!DOCTYPE html><html><body>Apache Tomcat error report</body></html>",
        "Service Temporarily Unavailable",
        "<ApiErrors><ApiError><ErrorType>Broken",
        "<User><state>READY</state></User>",
    ],
)
def test_bodies_that_are_not_api_errors_give_the_reason_phrase(text):
    err = api_error_from_response(502, text)
    assert isinstance(err, FinesseServerError)
    assert err.error_type == "Bad Gateway"
    assert len(err.errors) == 1 and err.error_message == ""
    assert "nginx" not in str(err) and "Tomcat" not in str(err)  # the page is never copied


def test_the_servers_reason_phrase_wins_over_the_standard_one():
    assert api_error_from_response(503, "", "Busy Right Now").error_type == "Busy Right Now"
    assert api_error_from_response(599, "").error_type == "HTTP 599"


def test_an_api_error_without_a_type_gets_the_phrase():
    xml = "<ApiErrors><ApiError><ErrorData>x</ErrorData></ApiError></ApiErrors>"
    err = api_error_from_response(404, xml)
    assert (err.error_type, err.error_data) == ("Not Found", "x")


def test_lower_case_notification_casing_is_tolerated():
    xml = codec.api_errors_to_xml([ApiError("Invalid State", "m", "d")], notification=True)
    assert api_error_from_response(400, xml).error_type == "Invalid State"


def test_str_names_status_and_type():
    err = api_error_from_response(401, body("Authorization Failure", "UNAUTHORIZED", "1001"))
    text = str(err)
    assert "401" in text and "Authorization Failure" in text and "UNAUTHORIZED" in text
    assert repr(err) == "FinesseUnauthorized(status=401, error_type='Authorization Failure')"


def test_a_huge_message_is_shortened_in_str():
    err = api_error_from_response(400, body("Invalid Input", "x" * 5000))
    assert len(str(err)) < 300
    assert err.error_message == "x" * 5000  # the data itself is kept


def test_async_errors_hold_the_notification_errors():
    err = FinesseAsyncError([ApiError("Invalid Device", "CF_INVALID", "7777")], request_id="r1")
    assert isinstance(err, FinesseError)
    assert (err.error_type, err.error_data, err.request_id) == ("Invalid Device", "7777", "r1")
    assert "Invalid Device" in str(err)


# -- Credentials and URL pieces -----------------------------------------------------------


def test_credentials_never_show_the_password():
    creds = Credentials("1001", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(creds)
    assert "s3cr3t-pw" not in str(creds)
    assert "s3cr3t-pw" not in f"{creds!r} {creds}"
    assert repr(creds) == "Credentials(agent_id='1001')"
    assert creds.password == "s3cr3t-pw"


@pytest.mark.parametrize("agent_id", ["", "10:01"])
def test_credentials_refuse_ids_basic_auth_cannot_carry(agent_id):
    with pytest.raises(ValueError, match="agent id") as info:
        Credentials(agent_id, "pw-never-shown")
    assert "pw-never-shown" not in str(info.value)


def test_ids_are_single_path_segments():
    assert _segment("../User/1002", "dialog id") == "..%2FUser%2F1002"
    assert _segment("1234_5423_1", "dialog id") == "1234_5423_1"
    assert _segment("a?b#c", "dialog id") == "a%3Fb%23c"
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError):
            _segment(bad, "dialog id")


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8445", "http://127.0.0.1:8445"),
        ("http://127.0.0.1:8445/", "http://127.0.0.1:8445"),
        ("https://fin.example.com:8445/finesse/api", "https://fin.example.com:8445"),
        ("https://fin.example.com:8445/finesse/api/", "https://fin.example.com:8445"),
    ],
)
def test_base_urls_are_normalised_once(given, base):
    assert normalize_base(given) == base
    assert Hosts(given).active == base


@pytest.mark.parametrize(
    "bad",
    ["fin.example.com:8445", "ftp://fin", "http://", "http://u:s3cr3t@fin:8445", "u:s3cr3t@fin"],
)
def test_bad_base_urls_are_refused_without_echoing_credentials(bad):
    with pytest.raises(ValueError) as info:
        normalize_base(bad)
    assert "s3cr3t" not in str(info.value)


def test_retries_count_attempts():
    with pytest.raises(ValueError):
        FinesseRest(None, Hosts(A), retries=0)  # type: ignore[arg-type]


# -- Hosts: the 7.2 state machine (pure) ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def info(status: str = "IN_SERVICE", **kw) -> SystemInfo:
    return SystemInfo(status=status, **kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hosts(clock: Clock) -> Hosts:
    h = Hosts(A, B, presence_grace=30.0, clock=clock)
    h.report_system_info(A, info())
    h.report_system_info(B, info())
    h.report_notifications(A, True)
    h.report_finesse_presence(A, True)
    return h


def test_primary_is_active_and_secondary_the_alternate():
    h = Hosts(A, B)
    assert (h.active, h.alternate) == (A, B)
    assert Hosts(A).alternate is None
    assert [n.base_url for n in h.nodes] == [A, B]
    with pytest.raises(ValueError):
        Hosts(A, A + "/finesse/api")


def test_available_checks_the_three_conditions_in_order(hosts: Hosts):
    assert hosts.available(A) and hosts.unavailable_reason(A) is None
    hosts.report_finesse_presence(A, False)
    assert "'finesse'" in hosts.unavailable_reason(A)
    hosts.report_notifications(A, False)  # XMPP (2) is checked before presence (3)
    assert "notification connection" in hosts.unavailable_reason(A)
    hosts.report_system_info(A, info("OUT_OF_SERVICE"))  # SystemInfo (1) first of all
    assert "OUT_OF_SERVICE" in hosts.unavailable_reason(A)
    assert not hosts.available(A)


def test_unknown_xmpp_and_presence_count_as_available_but_unknown_status_does_not():
    h = Hosts(A, B)
    assert "not yet known" in h.unavailable_reason(A)
    h.report_system_info(A, info())
    assert h.node(A).notifications_up is None and h.node(A).finesse is FinessePresence.UNKNOWN
    assert h.available(A)


def test_out_of_service_alone_never_asks_for_failover(hosts: Hosts, clock: Clock):
    hosts.report_system_info(A, info("OUT_OF_SERVICE"))
    clock.now += 3600
    assert hosts.needs_choice() is None
    assert hosts.active == A and not hosts.available(A)
    hosts.report_system_info(A, info("IN_SERVICE"))
    assert hosts.available(A)


def test_a_rest_failure_asks_for_a_poll_but_does_not_switch_by_itself(hosts: Hosts):
    hosts.report_rest_failure(A)
    assert hosts.active == A
    assert "REST" in hosts.needs_choice()
    assert "does not answer" in hosts.unavailable_reason(A)
    hosts.report_rest_success(A)
    assert hosts.needs_choice() is None and hosts.available(A)


def test_a_failure_on_the_alternate_does_not_disturb_the_active(hosts: Hosts):
    hosts.report_rest_failure(B)
    assert hosts.needs_choice() is None
    assert not hosts.available(B)


def test_an_xmpp_drop_asks_for_a_poll(hosts: Hosts):
    hosts.report_notifications(A, False)
    assert "notification connection" in hosts.needs_choice()
    hosts.report_notifications(A, True)
    assert hosts.needs_choice() is None


def test_finesse_unavailable_waits_for_the_grace_then_asks_for_failover(hosts: Hosts, clock: Clock):
    hosts.report_finesse_presence(A, False)
    hosts.report_rest_failure(A)  # the webapp is down, so REST fails: still waiting
    assert hosts.needs_choice() is None
    clock.now += 29
    assert hosts.needs_choice() is None
    clock.now += 1
    assert "not back" in hosts.needs_choice()


def test_finesse_back_needs_in_service_before_it_counts(hosts: Hosts, clock: Clock):
    hosts.report_finesse_presence(A, False)
    hosts.report_finesse_presence(A, True)
    assert hosts.node(A).finesse is FinessePresence.AWAITING_IN_SERVICE
    assert "waiting for IN_SERVICE" in hosts.unavailable_reason(A)
    clock.now += 31  # AVAILABLE but never IN_SERVICE: "otherwise fail over"
    assert hosts.needs_choice() is not None
    hosts.report_system_info(A, info("IN_SERVICE"))
    assert hosts.node(A).finesse is FinessePresence.AVAILABLE
    assert hosts.available(A) and hosts.needs_choice() is None


def test_out_of_service_after_finesse_came_back_keeps_waiting(hosts: Hosts):
    hosts.report_finesse_presence(A, False)
    hosts.report_finesse_presence(A, True)
    hosts.report_system_info(A, info("OUT_OF_SERVICE"))
    assert hosts.node(A).finesse is FinessePresence.AWAITING_IN_SERVICE


def test_a_new_xmpp_session_forgets_the_old_presence(hosts: Hosts):
    hosts.report_finesse_presence(A, False)
    hosts.report_notifications(A, False)
    hosts.report_notifications(A, True)
    assert hosts.node(A).finesse is FinessePresence.UNKNOWN
    assert hosts.available(A)


def test_reports_about_unknown_nodes_are_ignored(hosts: Hosts):
    other = "http://elsewhere:1"
    hosts.report_rest_failure(other)
    hosts.report_notifications(other, False)
    hosts.report_finesse_presence(other, False)
    hosts.report_system_info(other, info("OUT_OF_SERVICE"))
    assert hosts.needs_choice() is None
    with pytest.raises(KeyError):
        hosts.available(other)


def test_system_info_tells_each_node_its_xmpp_address():
    h = Hosts("http://10.0.0.1:8445", "http://10.0.0.2:8445")
    sysinfo = info(
        xmpp_domain="fin-a.example.com",
        xmpp_pubsub_domain="pubsub.fin-a.example.com",
        primary_node=Node("10.0.0.1", "8445", "5222", "5223"),
        secondary_node=Node("10.0.0.2", "8445", "5322", "5323"),
    )
    h.report_system_info("http://10.0.0.1:8445", sysinfo)
    a = h.node("http://10.0.0.1:8445")
    assert (a.xmpp_host, a.xmpp_port, a.xmpp_secure_port) == ("10.0.0.1", 5222, 5223)
    assert (a.xmpp_domain, a.xmpp_pubsub_domain) == (
        "fin-a.example.com",
        "pubsub.fin-a.example.com",
    )
    h.report_system_info("http://10.0.0.2:8445", sysinfo)
    assert h.node("http://10.0.0.2:8445").xmpp_port == 5322


def test_switch_listeners_hear_old_and_new(hosts: Hosts):
    heard: list[tuple[str, str]] = []
    hosts.add_switch_listener(lambda old, new: heard.append((old, new)))
    remove = hosts.add_switch_listener(lambda old, new: heard.append(("L", new)))
    hosts.add_switch_listener(lambda old, new: 1 / 0)  # a broken listener harms no one
    hosts.switch(B)
    hosts.switch(B)  # no change, no news
    assert heard == [(A, B), ("L", B)]
    remove()
    hosts.switch(A)
    assert heard[-1] == (B, A) and len(heard) == 3
    assert hosts.switches == 2


# -- FinesseMonitor.choose against a scripted poller --------------------------------------


class Poller:
    """Stands in for FinesseRest.system_info: per base URL an IN_SERVICE/OUT_OF_SERVICE
    status, or an exception to raise."""

    def __init__(self, **answers: object) -> None:
        self.answers: dict[str, object] = {A: "IN_SERVICE", B: "IN_SERVICE"}
        self.polled: list[str] = []
        self.gate: asyncio.Event | None = None

    async def system_info(self, base_url: str, *, timeout: float | None = None) -> SystemInfo:
        self.polled.append(base_url)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[base_url]
        if isinstance(answer, Exception):
            raise answer
        return info(str(answer))


def down(base: str) -> FinesseConnectionError:
    return FinesseConnectionError("no", host=base)


async def test_choose_keeps_a_healthy_active_node(hosts: Hosts):
    poller = Poller()
    assert await FinesseMonitor(hosts, poller.system_info).choose() == A
    assert poller.polled == [A] and hosts.switches == 0


async def test_rest_failure_and_alternate_in_service_switch_on_choose(hosts: Hosts):
    heard = []
    hosts.add_switch_listener(lambda old, new: heard.append((old, new)))
    hosts.report_rest_failure(A)
    poller = Poller()
    poller.answers[A] = down(A)
    assert await FinesseMonitor(hosts, poller.system_info).choose() == B
    assert poller.polled == [A, B]  # the active node is polled first
    assert hosts.active == B and heard == [(A, B)]
    assert not hosts.available(A) and hosts.node(A).rest_down


async def test_a_lost_connection_with_a_healthy_active_does_not_switch(hosts: Hosts):
    hosts.report_rest_failure(A)
    assert await FinesseMonitor(hosts, Poller().system_info).choose() == A
    assert hosts.needs_choice() is None and not hosts.node(A).rest_down


async def test_choose_fails_when_no_node_is_in_service(hosts: Hosts):
    poller = Poller()
    poller.answers[A] = down(A)
    poller.answers[B] = "OUT_OF_SERVICE"
    with pytest.raises(FinesseConnectionError) as info_:
        await FinesseMonitor(hosts, poller.system_info).choose()
    assert hosts.active == A
    assert "no answer" in str(info_.value) and "OUT_OF_SERVICE" in str(info_.value)


async def test_choose_treats_a_503_as_not_in_service(hosts: Hosts):
    poller = Poller()
    poller.answers[A] = api_error_from_response(503, body("Service Unavailable"))
    assert await FinesseMonitor(hosts, poller.system_info).choose() == B


async def test_choose_waits_for_finesse_within_the_grace(hosts: Hosts, clock: Clock):
    hosts.report_finesse_presence(A, False)
    poller = Poller()
    with pytest.raises(FinesseConnectionError, match="waiting"):
        await FinesseMonitor(hosts, poller.system_info).choose()
    assert poller.polled == [] and hosts.active == A  # neither polled A nor tried B
    clock.now += 30
    assert await FinesseMonitor(hosts, poller.system_info).choose() == B  # "otherwise fail over"
    assert poller.polled == [B]


async def test_choose_completes_finesse_recovery_with_an_in_service_poll(hosts: Hosts):
    hosts.report_finesse_presence(A, False)
    hosts.report_finesse_presence(A, True)
    poller = Poller()
    assert await FinesseMonitor(hosts, poller.system_info).choose() == A
    assert hosts.available(A) and poller.polled == [A]


async def test_choose_does_not_try_the_alternate_while_finesse_is_recovering(hosts: Hosts):
    hosts.report_finesse_presence(A, False)
    hosts.report_finesse_presence(A, True)
    poller = Poller()
    poller.answers[A] = "OUT_OF_SERVICE"
    with pytest.raises(FinesseConnectionError):
        await FinesseMonitor(hosts, poller.system_info).choose()
    assert poller.polled == [A] and hosts.active == A


async def test_concurrent_choices_share_one_poll(hosts: Hosts):
    hosts.report_rest_failure(A)
    poller = Poller()
    poller.answers[A] = down(A)
    poller.gate = asyncio.Event()
    monitor = FinesseMonitor(hosts, poller.system_info)
    tasks = [asyncio.ensure_future(monitor.choose()) for _ in range(50)]
    await asyncio.sleep(0)
    poller.gate.set()
    assert await asyncio.gather(*tasks) == [B] * 50
    assert poller.polled == [A, B]


async def test_single_node_choose(clock: Clock):
    h = Hosts(A, clock=clock)
    poller = Poller()
    assert await FinesseMonitor(h, poller.system_info).choose() == A
    poller.answers[A] = down(A)
    with pytest.raises(FinesseConnectionError):
        await FinesseMonitor(h, poller.system_info).choose()


async def test_backoff_is_full_jitter_under_an_exponential_cap(monkeypatch):
    caps: list[float] = []
    slept: list[float] = []

    class Rng:
        def uniform(self, low: float, high: float) -> float:
            assert low == 0
            caps.append(high)
            return high / 2

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    rest = FinesseRest(None, Hosts(A), backoff=0.2, max_backoff=2.0, rng=Rng())  # type: ignore[arg-type]
    for attempt in range(1, 7):
        await rest._pause(attempt)
    assert caps == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    assert slept == pytest.approx([c / 2 for c in caps])


async def switched_to(hosts: Hosts) -> asyncio.Future[str]:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    hosts.add_switch_listener(lambda old, new: future.done() or future.set_result(new))
    return future


async def test_a_dropped_notification_connection_makes_the_monitor_fail_over(hosts: Hosts):
    poller = Poller()
    poller.answers[A] = down(A)
    monitor = FinesseMonitor(hosts, poller.system_info)
    switch = await switched_to(hosts)
    monitor.notifications(A, False)  # reported by the transport: 7.2 row 1, poll now
    assert await asyncio.wait_for(switch, 1) == B
    assert poller.polled == [A, B] and not hosts.node(A).notifications_up


async def test_the_monitor_fails_over_once_the_finesse_users_grace_is_over():
    hosts = Hosts(A, B, presence_grace=0.05)
    hosts.report_system_info(A, info())
    poller = Poller()
    monitor = FinesseMonitor(hosts, poller.system_info)
    switch = await switched_to(hosts)
    monitor.finesse_presence(A, False)  # the webapp went down: wait for it, then fail over
    assert await asyncio.wait_for(switch, 1) == B
    assert poller.polled == [B]  # A's REST API is down with its webapp: never polled
    monitor.stop()
