"""The whole mobile call flow: app -> connector -> simulated Finesse -> connector -> app.

Every scenario checks what the app sees (events over the WebSocket) and, where a connector
could hide a mismatch, what Finesse holds (a REST GET as the agent).
"""

from __future__ import annotations

import asyncio

import pytest

from mobile_sim.api import AppError, Mobile, login_body
from mobile_sim.app import AppClient
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration

MOBILE_1001 = Mobile("CALL_BY_CALL", "+15551230001")
MOBILE_1002 = Mobile("CALL_BY_CALL", "+15551230002")
NAILED_1003 = Mobile("NAILED_CONNECTION", "+15551230003")


@pytest.fixture
async def lab():
    async with ConnectorLab() as lab:
        yield lab


async def signed_in(lab: ConnectorLab, agent_id: str, mobile=None, ready=False) -> AppClient:
    app, _ = await lab.sign_in(agent_id, mobile)
    if ready:
        assert (await app.call("PUT", "/agent/state", {"state": "READY"})).status == 202
        await app.wait_for_state("READY")
    return app


async def refused(request) -> AppError:
    """The AppError a request was refused with."""
    with pytest.raises(AppError) as refusal:
        await request
    return refusal.value


async def customer_calls(lab: ConnectorLab, **variables: str) -> str:
    status, body = await lab.sim(
        "POST", "/calls", {"dn": "8000", "from": "+15550100", "callVariables": variables}
    )
    assert status == 201, body
    return body["callId"]


async def action(app: AppClient, dialog_id: str, name: str, **params: str):
    """POST an action and return the reply as it came (status and body)."""
    return await app.call("POST", f"/dialogs/{dialog_id}/actions", {"action": name, **params})


async def finesse_user(lab: ConnectorLab, agent_id: str):
    return await lab.finesse.agent(agent_id).get_user()


# -- sign in ---------------------------------------------------------------------------------


async def test_mobile_login_ready_and_a_routed_call_answered_on_the_phone(lab: ConnectorLab):
    app = lab.app()
    reply = await app.call("POST", "/sessions", login_body("1001", "password", "5001", MOBILE_1001))
    assert reply.status == 201
    assert reply.body["capabilities"] == {"callControl": True}
    assert reply.body["agent"]["state"] == "NOT_READY"
    assert len(reply.body["token"]) >= 32 and "password" not in reply.body["token"]
    app.token = reply.body["token"]
    await app.listen()
    first = await app.wait_for("session.resync")
    assert first["agent"]["state"] == "NOT_READY"
    assert (await app.call("PUT", "/agent/state", {"state": "READY"})).status == 202
    await app.wait_for_state("READY")
    call_id = await customer_calls(lab, callVariable1="ACC-42", **{"user.tier": "gold"})
    created = await app.wait_for("dialog.created")
    assert created["id"] == call_id
    assert created["callVariables"]["callVariable1"] == "ACC-42"
    assert created["callVariables"]["user.tier"] == "gold"
    assert created["actions"] == ["ANSWER"]
    status, _ = await lab.sim("POST", "/phones/+15551230001/answer")
    assert status == 200
    await app.wait_for("dialog.updated", lambda d: d["state"] == "ACTIVE")
    await app.wait_for_state("TALKING")
    assert (await finesse_user(lab, "1001")).state == "TALKING"
    listed = await app.get_dialogs()
    assert [d["id"] for d in listed] == [call_id]


async def test_hold_retrieve_end_and_wrap_up(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    call_id = await customer_calls(lab)
    await app.wait_for("dialog.created")
    await lab.sim("POST", "/phones/+15551230001/answer")
    await app.wait_for_state("TALKING")
    reply = await action(app, call_id, "HOLD")
    assert reply.status == 202 and reply.body["requestId"]
    held = await app.wait_for("dialog.updated", lambda d: "RETRIEVE" in d["actions"])
    assert held["requestId"] == reply.body["requestId"]
    await app.wait_for_state("HOLD")
    assert (await action(app, call_id, "RETRIEVE")).status == 202
    await app.wait_for_state("TALKING")
    assert (await action(app, call_id, "DROP")).status == 202
    await app.wait_for_state("WORK_READY")
    reply = await action(app, call_id, "UPDATE_CALL_DATA", wrapUpReason="Resolved")
    assert reply.status == 202
    await app.wait_for("dialog.updated", lambda d: d["wrapUpReason"] == "Resolved")
    assert (await app.call("PUT", "/agent/state", {"state": "READY"})).status == 202
    await app.wait_for_state("READY")
    ended = await app.wait_for("dialog.ended")
    assert ended["id"] == call_id


async def test_consult_then_transfer_to_a_second_mobile_agent(lab: ConnectorLab):
    a = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    b = await signed_in(lab, "1002", MOBILE_1002)
    call_id = await customer_calls(lab, callVariable1="ACC-42")
    await a.wait_for("dialog.created")
    await lab.sim("POST", "/phones/+15551230001/answer")
    await a.wait_for_state("TALKING")
    assert (await action(a, call_id, "CONSULT_CALL", toAddress="5002")).status == 202
    consult = await b.wait_for("dialog.created")
    assert consult["callType"] == "CONSULT"
    await lab.sim("POST", "/phones/+15551230002/answer")
    await a.wait_for("dialog.updated", lambda d: d["id"] == call_id and "TRANSFER" in d["actions"])
    assert (await action(a, call_id, "TRANSFER")).status == 202
    moved = await b.wait_for("dialog.updated", lambda d: d["callType"] == "TRANSFER")
    assert moved["callVariables"]["callVariable1"] == "ACC-42"
    await a.wait_for_state("WORK_READY")
    assert (await finesse_user(lab, "1002")).state == "TALKING"


async def test_consult_then_conference(lab: ConnectorLab):
    a = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    b = await signed_in(lab, "1002", MOBILE_1002)
    call_id = await customer_calls(lab)
    await a.wait_for("dialog.created")
    await lab.sim("POST", "/phones/+15551230001/answer")
    await action(a, call_id, "CONSULT_CALL", toAddress="5002")
    await b.wait_for("dialog.created")
    await lab.sim("POST", "/phones/+15551230002/answer")
    await a.wait_for("dialog.updated", lambda d: "CONFERENCE" in d["actions"])
    assert (await action(a, call_id, "CONFERENCE")).status == 202
    conf = await b.wait_for("dialog.created", lambda d: d["id"] == call_id)
    assert len(conf["participants"]) == 3


async def test_single_step_transfer(lab: ConnectorLab):
    a = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    b = await signed_in(lab, "1002", MOBILE_1002)
    call_id = await customer_calls(lab)
    await a.wait_for("dialog.created")
    await lab.sim("POST", "/phones/+15551230001/answer")
    await a.wait_for_state("TALKING")
    assert (await action(a, call_id, "TRANSFER_SST", toAddress="5002")).status == 202
    arrived = await b.wait_for("dialog.created")
    assert arrived["id"] == call_id
    await a.wait_for_state("WORK_READY")


async def test_nailed_connection_login(lab: ConnectorLab):
    http = lab.finesse.http
    assert http is not None
    async with http.ws_connect(lab.finesse.url("/sim/v1/phones/+15551230003/events")) as phone:
        assert (await phone.receive_json(timeout=5))["event"] == "subscribed"
        login = asyncio.ensure_future(lab.sign_in("1003", NAILED_1003))
        assert (await phone.receive_json(timeout=5))["event"] == "ring"  # the setup call
        assert not login.done()  # the login waits for it
        status, _ = await lab.sim("POST", "/phones/+15551230003/answer")
        assert status == 200
        _, body = await asyncio.wait_for(login, 5)
    assert body["agent"]["mobile"]["mode"] == "NAILED_CONNECTION"
    assert body["agent"]["state"] == "NOT_READY"


async def test_nailed_connection_not_answered_fails_the_login(lab: ConnectorLab):
    await lab.finesse.control("PUT", "/clock", {"speed": 20})  # ring-no-answer after 15 s
    refusal = await refused(lab.sign_in("1003", NAILED_1003, listen=False))
    assert (refusal.status, refusal.type) == (409, "login_incomplete")
    assert (await finesse_user(lab, "1003")).state == "LOGOUT"


async def test_non_mobile_login_is_state_only(lab: ConnectorLab):
    app = await signed_in(lab, "1004", ready=True)
    assert (await finesse_user(lab, "1004")).state == "READY"
    call_id = await customer_calls(lab)
    created = await app.wait_for("dialog.created")
    assert created["actions"] == []  # shown, but no call control
    reply = await action(app, call_id, "ANSWER")
    assert (reply.status, reply.error_type) == (403, "call_control_unavailable")
    reply = await app.call("POST", "/dialogs", {"toAddress": "5002"})
    assert reply.status == 403


async def test_wrong_password_is_401(lab: ConnectorLab):
    refusal = await refused(lab.sign_in("1001", password="nope", listen=False))
    assert refusal.status == 401
    assert "nope" not in str(refusal)


async def test_wrong_extension_is_invalid_device(lab: ConnectorLab):
    refusal = await refused(lab.sign_in("1001", extension="7777", listen=False))
    assert refusal.status == 400 and refusal.type == "Invalid Device"
    assert (await finesse_user(lab, "1001")).state == "LOGOUT"


async def test_an_agent_cannot_act_on_another_agents_dialog(lab: ConnectorLab):
    a = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    b = await signed_in(lab, "1002", MOBILE_1002)
    call_id = await customer_calls(lab)
    await a.wait_for("dialog.created")
    reply = await action(b, call_id, "ANSWER")
    assert (reply.status, reply.error_type) == (404, "not_found")
    reply = await lab.app().call("GET", "/agent")  # no token at all
    assert reply.status == 401


async def test_an_action_not_allowed_now_is_refused_without_a_finesse_round_trip(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    call_id = await customer_calls(lab)
    await app.wait_for("dialog.created")
    reply = await action(app, call_id, "HOLD")
    assert (reply.status, reply.error_type) == (409, "action_not_allowed")


async def test_finesse_refusal_passes_its_error_type_through(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001)
    reply = await app.call("PUT", "/agent/state", {"state": "NOT_READY", "reasonCodeId": 99})
    assert (reply.status, reply.error_type) == (400, "Invalid Input")


async def test_reason_codes_and_wrap_up_reasons(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001)
    body = (await app.call("GET", "/reason-codes?category=NOT_READY")).body
    assert [c["label"] for c in body["reasonCodes"]] == ["Break", "Lunch"]
    body = (await app.call("GET", "/wrapup-reasons")).body
    assert [w["label"] for w in body["wrapUpReasons"]] == ["Resolved", "Escalated"]


async def test_logout_with_a_reason_code(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001)
    reply = await app.call("DELETE", "/sessions/current", {"reasonCodeId": 3})
    assert reply.status == 200
    user = await finesse_user(lab, "1001")
    assert (user.state, user.reason_code_id) == ("LOGOUT", "3")
    assert (await app.call("GET", "/agent")).status == 401  # token revoked


# -- gaps ------------------------------------------------------------------------------------


async def test_xmpp_dropped_mid_call_then_resync(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    await lab.finesse.control("POST", "/faults", {"kind": "xmpp_drop"})
    await app.wait_for("system.status", lambda d: d.get("notifications") == "reconnecting")
    call_id = await customer_calls(lab)  # arrives during the gap (or just after)
    created = await app.wait_for("dialog.created")
    assert created["id"] == call_id
    await app.wait_for("system.status", lambda d: d.get("notifications") == "connected")
    await app.wait_for_state("RESERVED")


async def test_out_of_service_then_back(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001)
    await lab.finesse.control("PUT", "/clock", {"speed": 50})
    await lab.finesse.control("POST", "/faults", {"kind": "out_of_service", "seconds": 20})
    await app.wait_for("system.status", lambda d: d["status"] == "OUT_OF_SERVICE")
    reply = await app.call("PUT", "/agent/state", {"state": "READY"})
    assert reply.status == 503
    await app.wait_for("system.status", lambda d: d["status"] == "IN_SERVICE")
    assert (await app.call("PUT", "/agent/state", {"state": "READY"})).status == 202
    await app.wait_for_state("READY")


async def test_websocket_reconnect_replays_since(lab: ConnectorLab):
    app = await signed_in(lab, "1001", MOBILE_1001)
    await app.wait_for("session.resync")
    seen = app.last_seq
    await app.stop_listening()
    await app.call("PUT", "/agent/state", {"state": "READY"})
    await app.call("PUT", "/agent/state", {"state": "NOT_READY", "reasonCodeId": 1})
    await lab.finesse.sim.wait_until(
        lambda: lab.connector.agents.links["1001"].stream.seq >= seen + 2
    )
    replayed_from = len(app.history)
    await app.listen(since=seen)
    await app.wait_for_state("READY")
    await app.wait_for_state("NOT_READY")
    assert all(e["type"] != "session.resync" for e in app.history[replayed_from:])


async def test_metrics_and_health(lab: ConnectorLab):
    await signed_in(lab, "1001", MOBILE_1001)
    health = await lab.api("GET", "/healthz")
    assert health.status == 200 and health.body["sessions"] == 1
    metrics = await lab.api("GET", "/metrics")
    assert "connector_sessions 1" in metrics.body
    assert "connector_events_in_total" in metrics.body
    # just signed in: young objects are not frozen until sign-ins have been quiet a while
    assert "connector_heap_settled 0" in metrics.body
    assert "connector_gc_full_collections_total 0" in metrics.body


@pytest.mark.parametrize(
    ("payload", "status", "type_"),
    [
        ({"agentId": "1001"}, 400, "missing_field"),
        (
            {"agentId": "1001", "password": "p", "extension": "5001", "color": "red"},
            400,
            "unknown_field",
        ),
        (
            {
                "agentId": "1001",
                "password": "p",
                "extension": "5001",
                "mobile": {"mode": "X", "dialNumber": "1"},
            },
            400,
            "invalid_field",
        ),
    ],
)
async def test_bad_login_requests(lab: ConnectorLab, payload, status, type_):
    reply = await lab.api("POST", "/api/v1/sessions", payload)
    assert (reply.status, reply.error_type) == (status, type_)


async def test_malformed_json_is_400(lab: ConnectorLab):
    assert lab.http is not None
    async with lab.http.post(lab.url("/api/v1/sessions"), data=b"{nope") as r:
        assert r.status == 400 and (await r.json())["error"]["type"] == "invalid_json"


async def test_primary_down_secondary_takes_over():
    from scenarios.stack.finesse_lab import FinesseLab

    async with ConnectorLab(
        finesse=FinesseLab(secondary_rest_port=0, secondary_xmpp_port=0)
    ) as lab:
        app = await signed_in(lab, "1001", MOBILE_1001)
        side_b = lab.finesse.sim.sides[1]
        await lab.finesse.control("PUT", "/clock", {"speed": 20})
        await lab.finesse.control(
            "POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 100}
        )
        await app.wait_for("system.status", lambda d: d.get("notifications") == "reconnecting")
        await app.wait_for("system.status", lambda d: d.get("notifications") == "connected")
        assert lab.connector.hosts.active.endswith(f":{side_b.rest_port}")
        assert "1001" in side_b.xmpp.available_users()
        reply = await app.call("PUT", "/agent/state", {"state": "READY"})
        assert reply.status == 202
        await app.wait_for_state("READY")


async def test_a_slow_consumer_is_resynced_and_memory_stays_bounded():
    async with ConnectorLab(event_buffer=10) as lab:
        app, _ = await lab.sign_in("1001", MOBILE_1001, listen=False)
        link = lab.connector.agents.links["1001"]
        from connector.session.events import MobileEvent

        assert lab.http is not None
        # The app connects and then does not read: aiohttp's client pauses the socket once
        # its own small queue is full, the kernel buffers fill, the connector's sender blocks.
        ws = await lab.http.ws_connect(
            lab.url("/api/v1/events"), headers={"Authorization": f"Bearer {app.token}"}
        )
        pad = "x" * 8192
        for i in range(2000):  # ~16 MB, far beyond any socket buffer
            link.publish(MobileEvent("agent.state", {"state": "READY", "i": i, "pad": pad}))
            if i % 50 == 0:
                await asyncio.sleep(0)  # let the sender run until the socket is full
        assert len(link.stream._buffer) == 10
        last = link.stream.seq
        types = []
        while True:  # a resync replaces what was missed, so read up to the last seq
            message = await ws.receive_json(timeout=5)
            types.append(message["type"])
            if message["seq"] >= last:
                break
        assert "session.resync" in types[1:]  # the first is the snapshot of a new reader
        assert len(types) < 2000
        await ws.close()


async def test_an_extension_held_by_another_agent_is_device_busy(lab: ConnectorLab):
    await signed_in(lab, "1001")
    refusal = await refused(lab.sign_in("1002", extension="5001", listen=False))
    assert (refusal.status, refusal.type) == (400, "Device Busy")
    assert "1002" not in lab.connector.agents.links


async def test_signing_in_again_keeps_the_session_and_adds_a_token(lab: ConnectorLab):
    first = await signed_in(lab, "1001", MOBILE_1001, ready=True)
    second, body = await lab.sign_in("1001", MOBILE_1001, listen=False)
    assert body["token"] != first.token
    assert body["agent"]["state"] == "READY"  # a forced login keeps the state
    for app in (first, second):
        assert (await app.call("GET", "/agent")).status == 200
    assert len(lab.connector.agents.links) == 1
