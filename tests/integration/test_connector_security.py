"""Nobody locks an agent out through the connector, and a session that dies is never silent
(docs/security.md): each attack or fault reproduced against the real stack on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from connector.finesse import codec, xmpp
from connector.finesse.models import Update, user_uri
from finesse_sim.xmpp.stanzas import Notification, recipient_parts
from mobile_sim.api import AppError, Mobile, login_body, send
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration

MOBILE_1001 = Mobile("CALL_BY_CALL", "+15551230001")


async def refused(request) -> AppError:
    with pytest.raises(AppError) as refusal:
        await request
    return refusal.value


async def sign_in_as(lab: ConnectorLab, agent_id: str, password: str, headers=None):
    """A raw sign-in (no app kept): the reply, as sent."""
    assert lab.http is not None
    body = login_body(agent_id, password, "5009", None)
    return await send(lab.http, "POST", lab.url("/api/v1/sessions"), body, headers)


async def finesse_accepts(lab: ConnectorLab, agent_id: str) -> bool:
    """A GET as the agent with the right password: 200 unless Finesse locked it out."""
    res = await lab.finesse.agent(agent_id).request("GET", f"/finesse/api/User/{agent_id}")
    return res.status == 200


async def test_wrong_passwords_never_reach_finesses_lockout(caplog):
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        with caplog.at_level(logging.WARNING, logger="connector"):
            replies = [await sign_in_as(lab, "1001", f"guess-{i}") for i in range(10)]
        # A live session's password is compared by the connector: Finesse is never asked.
        assert [r.status for r in replies] == [401] * 3 + [429] * 7
        assert replies[0].body["error"]["type"] == "Authorization Failure"
        assert replies[3].body["error"]["type"] == "too_many_attempts"
        assert await finesse_accepts(lab, "1001")
        # The working session is untouched.
        assert (await app.call("PUT", "/agent/state", {"state": "READY"})).status == 202
        await app.wait_for_state("READY")
        metrics = (await lab.api("GET", "/metrics")).body
        assert 'connector_login_failures_total{reason="wrong_credentials"} 3' in metrics
        assert 'connector_login_throttled_total{scope="agent"} 7' in metrics
        warned = [r.getMessage() for r in caplog.records if "refused for a while" in r.getMessage()]
        assert len(warned) == 1 and "1001" in warned[0] and "127.0.0.1" in warned[0]
        assert not any("guess" in r.getMessage() for r in caplog.records)


async def test_an_agent_not_signed_in_is_throttled_before_finesse_locks_it_out():
    async with ConnectorLab() as lab:
        replies = [await sign_in_as(lab, "1002", "wrong") for _ in range(20)]
        assert [r.status for r in replies[:4]] == [401, 401, 401, 429]
        assert {r.status for r in replies[3:]} == {429}
        assert lab.http is not None
        async with lab.http.post(
            lab.url("/api/v1/sessions"), json=login_body("1002", "wrong", "5009", None)
        ) as raw:
            assert raw.status == 429 and 250 <= int(raw.headers["Retry-After"]) <= 300
        assert await finesse_accepts(lab, "1002")  # three failures: Finesse locks at five
        # The right password is refused too while throttled: nothing reaches Finesse.
        assert (await sign_in_as(lab, "1002", "password")).status == 429


async def test_sign_ins_per_client_address_are_a_token_bucket():
    async with ConnectorLab(signin_rate=0.01, signin_burst=2) as lab:
        statuses = [(await sign_in_as(lab, f"100{i}", "wrong")).status for i in (3, 4, 5)]
        assert statuses == [401, 401, 429]
        # Only a trusted proxy may name the client: this X-Forwarded-For is ignored.
        spoofed = await sign_in_as(lab, "1006", "wrong", {"X-Forwarded-For": "198.51.100.7"})
        assert spoofed.status == 429


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket():
    settings = {"signin_rate": 0.01, "signin_burst": 1, "trusted_proxies": "127.0.0.1"}
    async with ConnectorLab(**settings) as lab:
        first = {"X-Forwarded-For": "198.51.100.7"}
        second = {"X-Forwarded-For": "203.0.113.9, 198.51.100.8"}  # the proxy appends
        assert (await sign_in_as(lab, "1003", "wrong", first)).status == 401
        assert (await sign_in_as(lab, "1004", "wrong", first)).status == 429
        assert (await sign_in_as(lab, "1005", "wrong", second)).status == 401


async def test_finesse_logging_the_agent_out_ends_the_session_in_the_app():
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        token = app.token
        desktop = lab.finesse.agent("1001")
        res = await desktop.request(
            "PUT",
            "/finesse/api/User/1001",
            "<User><state>LOGOUT</state><reasonCodeId>3</reasonCodeId></User>",
        )
        assert res.status == 202
        ended = await app.wait_for("session.ended")
        assert (ended["reason"], ended["reasonCodeId"]) == ("logged_out", "3")
        assert await app.stream_ended() and app.close_code == 4001
        app.token = token
        assert (await refused(app.get_agent())).status == 401  # the token is revoked
        metrics = (await lab.api("GET", "/metrics")).body
        assert 'connector_sessions_ended_total{reason="logged_out"} 1' in metrics


async def test_a_forced_logout_after_a_long_outage_is_said_in_the_app(
    monkeypatch: pytest.MonkeyPatch,
):
    """The notification service refuses the agent (locked out, say) long enough for Finesse
    to log it out (60 s without presence, sped up here); when the session is back, the app
    is told `forced_logout`."""
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        server = lab.finesse.sim.sides[0].xmpp
        original, refuse = server.authenticate, {"on": True}
        monkeypatch.setattr(
            server, "authenticate", lambda u, p: not refuse["on"] and original(u, p)
        )
        assert (await lab.sim("PUT", "/clock", {"speed": 200}))[0] == 200
        await lab.sim("POST", "/faults", {"kind": "xmpp_drop"})
        await lab.finesse.sim.wait_until(
            lambda: lab.finesse.sim.model.agents["1001"].state == "LOGOUT", timeout=10
        )
        refuse["on"] = False  # the lock-out is over: the connector's retry gets through
        ended = await app.wait_for("session.ended", timeout=15)
        assert (ended["reason"], ended["reasonCodeId"]) == ("forced_logout", "255")


async def test_credentials_refused_for_longer_than_a_lockout_end_the_session(
    monkeypatch: pytest.MonkeyPatch,
):
    async with ConnectorLab(notification_auth_retry=0.3) as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        monkeypatch.setattr(lab.finesse.sim.sides[0].xmpp, "authenticate", lambda u, p: False)
        await lab.sim("POST", "/faults", {"kind": "xmpp_drop"})
        ended = await app.wait_for("session.ended", timeout=20)
        assert ended["reason"] == "credentials_refused"
        assert (await lab.api("GET", "/healthz")).body["sessions"] == 0


async def test_a_request_finesse_does_not_answer_in_time_is_504_finesse_timeout():
    async with ConnectorLab(request_timeout=0.3) as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        fault = {"kind": "rest_latency", "ms": 1500, "seconds": 60}
        assert (await lab.sim("POST", "/faults", fault))[0] == 200
        reply = await app.call("PUT", "/agent/state", {"state": "READY"})
        assert (reply.status, reply.body["error"]["type"]) == (504, "finesse_timeout")
        assert "may still take effect" in reply.body["error"]["message"]


async def test_signing_in_an_agent_the_desktop_already_signed_in_completes():
    async with ConnectorLab() as lab:
        desktop = lab.finesse.agent("1001")
        res = await desktop.put_user(state="LOGIN", extension="5001")
        assert res.status == 202
        await lab.finesse.sim.wait_until(
            lambda: lab.finesse.sim.model.agents["1001"].state == "NOT_READY"
        )
        _, body = await asyncio.wait_for(lab.sign_in("1001"), 5)
        assert body["agent"]["state"] == "NOT_READY"


async def test_another_agents_forged_notification_never_reaches_the_app(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    """Agent 1007, signed in to the notification service with its own credentials, sends
    agent 1001's JID a User LOGOUT shaped exactly like the service's own notifications. The
    server stamps 1007's JID on it, and the connector believes only the pubsub service."""
    monkeypatch.setattr(xmpp, "_logged_senders", set())  # other tests' senders: forgotten
    async with ConnectorLab() as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001)
        side = lab.finesse.sim.sides[0]
        intruder = await lab.finesse.agent("1007").connect_xmpp()
        node = user_uri("1001")
        real = await lab.finesse.agent("1001").get_user()
        fake = codec.update_to_xml(Update("PUT", node, dataclasses.replace(real, state="LOGOUT")))
        bare = f"1001@{side.domain}"
        forged = Notification.build(side.xmpp.pubsub_jid, node, fake).render(
            *recipient_parts(bare, bare)
        )
        with caplog.at_level(logging.WARNING, logger="connector"):
            intruder.xmpp.send_raw(forged.decode())
            # The server handles one connection's stanzas in order: once it answers this
            # ping, the forgery is on its way to the connector, ahead of what follows.
            await intruder.xmpp.plugin["xep_0199"].ping(timeout=5)
            await app.ready()
            await app.wait_for_state("READY")
        states = [e["data"].get("state") for e in app.history if e.get("type") == "agent.state"]
        assert "LOGOUT" not in states and states[-1] == "READY"
        assert not app.ended and app.stream_open
        assert "session.ended" not in {e.get("type") for e in app.history}
        metrics = (await lab.api("GET", "/metrics")).body
        assert "connector_notifications_dropped_total 1" in metrics
        dropped = [r.getMessage() for r in caplog.records if "dropped a notification" in r.msg]
        assert len(dropped) == 1 and f"1007@{side.domain}/mobileagent" in dropped[0]
