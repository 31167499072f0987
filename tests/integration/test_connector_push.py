"""Web Push end to end: the connector and the simulated push service, with real VAPID
signatures and aes128gcm encryption on loopback sockets; each test with the pushes sent on
the connector's event loop and from its push process (`push_process`)."""

from __future__ import annotations

import time

import pytest

from connector.push.message import dialog_topic
from mobile_sim.api import AppError, Mobile
from mobile_sim.app import AppClient
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration

MOBILE_1001 = Mobile("CALL_BY_CALL", "+15551230001")
MOBILE_1002 = Mobile("CALL_BY_CALL", "+15551230002")


@pytest.fixture(params=["loop", "process"])
async def lab(request):
    async with ConnectorLab(push=True, push_process=request.param == "process") as lab:
        yield lab


async def ready(app: AppClient) -> None:
    await app.ready()
    await app.wait_for_state("READY")


async def customer_calls(lab: ConnectorLab, **variables: str) -> str:
    status, body = await lab.sim(
        "POST", "/calls", {"dn": "8000", "from": "+15550100", "callVariables": variables}
    )
    assert status == 201, body
    return body["callId"]


async def faults(lab: ConnectorLab, **faults: object) -> None:
    assert lab.http is not None and lab.push is not None
    async with lab.http.post(f"{lab.push.origin}/control/faults", json=faults) as response:
        assert response.status == 200


async def subscriptions(lab: ConnectorLab) -> int:
    return await lab.connector.push.subscriptions.count()


async def test_a_backgrounded_agent_gets_a_routed_call_by_push_and_shows_it_on_resume(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    app.wake_on_push = False  # woken below, after the push is checked
    await app.background()
    assert not app.stream_open
    routed = time.monotonic()
    await customer_calls(lab, callVariable1="order 4711", callVariable2="gold")
    push = await app.wait_for_push("dialog.created", timeout=1.0)
    assert time.monotonic() - routed < 1.0
    frame = push.payload
    assert set(frame) >= {"seq", "type", "data", "ts"} and "trimmed" not in frame
    call = frame["data"]
    assert call["fromAddress"] == "+15550100" and call["queueName"]
    assert call["callVariables"]["callVariable1"] == "order 4711"
    assert call["callVariables"]["callVariable2"] == "gold"
    assert (push.urgency, push.topic) == ("high", dialog_topic(call["id"]))
    assert 0 < push.ttl <= lab.connector.config.push_call_ttl
    await app.foreground()
    shown = await app.wait_until(lambda: app.dialog(call["id"]), timeout=2)
    assert shown and shown["fromAddress"] == "+15550100"
    assert app.last_seq >= frame["seq"]


async def test_a_push_wakes_the_app_which_resumes_its_stream(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    await app.background()
    await customer_calls(lab)
    push = await app.wait_for_push("dialog.created", timeout=1.0)
    assert await app.woken(timeout=2) and app.wakes == 1
    dialog = await app.wait_for("dialog.created", timeout=2)  # the stream, resumed by since
    assert dialog["id"] == push.payload["data"]["id"]
    assert app.stream_open and lab.connector.agents.links["1001"].stream.attended


async def test_a_foreground_agent_gets_no_push(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    await customer_calls(lab)
    await app.wait_for("dialog.created", timeout=2)
    push = lab.connector.push
    if not push.attention.shared:
        # The stream decides at publish time; a push would be a task under way, or done.
        assert not push._tasks
    # Else a task asks the shared facts (several processes): it decides not to push.
    assert await push.settled()
    assert push.metrics.sent == 0 and not push.metrics.failed and not app.pushes.history


async def test_hidden_with_the_websocket_still_open_is_pushed(lab):
    """The app said it went to the background; its phone keeps the WebSocket a while."""
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    app.wake_on_push = False
    await app.background(close_stream=False)
    assert app.stream_open
    await customer_calls(lab)
    await app.wait_for_push("dialog.created", timeout=1.0)
    await app.wait_for("dialog.created", timeout=1.0)  # and the open stream had it too


async def test_a_logout_the_app_did_not_ask_for_is_pushed_and_ends_the_subscriptions(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    app.wake_on_push = False
    await app.background()
    desktop = lab.finesse.agent("1001")
    res = await desktop.request(
        "PUT",
        "/finesse/api/User/1001",
        "<User><state>LOGOUT</state><reasonCodeId>3</reasonCodeId></User>",
    )
    assert res.status == 202
    push = await app.wait_for_push("session.ended", timeout=2)
    assert push.payload["data"]["reason"] == "logged_out" and push.urgency == "high"
    assert app.ended["reason"] == "logged_out" and not app.token
    assert await lab.connector.push.settled()
    assert await subscriptions(lab) == 0


async def test_signing_out_ends_the_subscriptions_without_a_push(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    assert await subscriptions(lab) == 1
    await app.logout((await app.reason_codes("LOGOUT"))[0]["id"])
    assert await lab.connector.push.settled()
    assert await subscriptions(lab) == 0 and not app.pushes.history


async def test_410_removes_the_subscription(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    await faults(lab, gone=[app.push_subscription.id])
    await app.background()
    await customer_calls(lab)
    await lab.push.wait_until(lambda: lab.push.stats["410"])
    assert await lab.connector.push.settled()
    assert lab.push.stats["410"] == 1 and await subscriptions(lab) == 0
    metrics = (await lab.api("GET", "/metrics")).body
    assert 'connector_push_failed_total{status="410"} 1' in metrics
    assert "connector_push_subscriptions 0" in metrics


async def test_429_is_retried_after_retry_after(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    await ready(app)
    app.wake_on_push = False
    await faults(lab, rateLimit={"retryAfter": 1, "count": 1})
    await app.background()
    await customer_calls(lab)
    await app.wait_for_push("dialog.created", timeout=3)
    assert await lab.connector.push.settled()
    (refused_at, first), (sent_at, second) = lab.push.answered
    assert (first, second) == (429, 201)
    assert sent_at - refused_at >= 1.0  # Retry-After: 1 was honoured
    assert lab.connector.push.metrics.retried == 1 and lab.connector.push.metrics.sent == 1


@pytest.mark.parametrize("fault", [{"down": True}, {"latency": 30.0}])
async def test_a_push_service_down_never_delays_the_relay_of_other_agents(lab, fault):
    pushed, _ = await lab.sign_in("1001", MOBILE_1001, push=True)
    watching, _ = await lab.sign_in("1002", MOBILE_1002)
    await ready(pushed)
    await faults(lab, **fault)
    await pushed.background()
    await customer_calls(lab)
    # The call's push is under way (retried, or waiting for an answer) ...
    await lab.push.wait_until(lambda: lab.push.received)
    assert lab.connector.push._tasks
    # ... while another agent's events are relayed at once.
    reason = (await watching.reason_codes("NOT_READY"))[0]["id"]
    for state, code in (("READY", None), ("NOT_READY", reason), ("READY", None)):
        started = time.monotonic()
        await watching.set_state(state, code)
        await watching.wait_for_state(state, timeout=1.0)
        assert time.monotonic() - started < 0.5
    assert lab.connector.push.metrics.sent == 0


async def test_an_endpoint_off_the_allowlist_is_refused(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001)
    good = lab.push.subscribe("k", lambda _m: None).to_json()
    for endpoint in (
        "https://push.attacker.example/x",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.2:9/push/x",  # loopback, but not the origin named
        "https://fcm.googleapis.com:8443/fcm/send/x",  # the right host, another port
        "https://user@fcm.googleapis.com/fcm/send/x",
        f"{lab.push.origin}.attacker.example/push/x",
        "ftp://fcm.googleapis.com/x",
    ):
        reply = await app.call("POST", "/push-subscriptions", {**good, "endpoint": endpoint})
        assert reply.status == 400, endpoint
        assert reply.body["error"]["field"] == "endpoint", endpoint
    reply = await app.call(
        "POST", "/push-subscriptions", {**good, "endpoint": "https://fcm.googleapis.com/fcm/send/a"}
    )
    assert reply.status == 201  # a default push service: kept (nothing is sent now)
    reply = await app.call(
        "POST",
        "/push-subscriptions",
        {**good, "endpoint": "https://wns2-par02p.notify.windows.com/w/?token=a"},
    )
    assert reply.status == 201
    assert lab.push.stats == {}  # the connector sent nothing anywhere


async def test_subscriptions_are_checked_capped_and_deleted(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001)
    reply = await app.call("GET", "/push/vapid-public-key")
    key = reply.body["publicKey"]
    assert reply.status == 200 and len(key) == 87  # 65 bytes, base64url
    anonymous = await lab.api("GET", "/api/v1/push/vapid-public-key")
    assert anonymous.status == 401
    sub = lab.push.subscribe(key, lambda _m: None).to_json()
    for bad, field in (
        ({**sub, "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}}, "p256dh"),
        ({**sub, "keys": {"p256dh": sub["keys"]["p256dh"], "auth": "x" * 40}}, "auth"),
        ({**sub, "keys": {"p256dh": "B" * 87, "auth": sub["keys"]["auth"]}}, "p256dh"),
        ({"endpoint": sub["endpoint"]}, "keys"),
        ({**sub, "expirationTime": "soon"}, "expirationTime"),
        ({**sub, "endpoint": "https://x/" + "a" * 1100}, "endpoint"),
        ({**sub, "extra": 1}, "extra"),
    ):
        reply = await app.call("POST", "/push-subscriptions", bad)
        assert reply.status == 400 and reply.body["error"]["field"] == field, bad
    first = (await app.request("POST", "/push-subscriptions", sub))["id"]
    assert (await app.request("POST", "/push-subscriptions", sub))["id"] == first  # same one
    cap = lab.connector.config.push_max_subscriptions
    for _ in range(cap):
        other = lab.push.subscribe(key, lambda _m: None).to_json()
        await app.request("POST", "/push-subscriptions", other)
    assert await subscriptions(lab) == cap  # the oldest (the first) went
    reply = await app.call("DELETE", f"/push-subscriptions/{first}")
    assert reply.status == 404 and reply.body["error"]["type"] == "not_found"
    someone, _ = await lab.sign_in("1002", MOBILE_1002)
    theirs = (await someone.request("POST", "/push-subscriptions", sub))["id"]
    assert (await app.call("DELETE", f"/push-subscriptions/{theirs}")).status == 404
    assert (await someone.call("DELETE", f"/push-subscriptions/{theirs}")).status == 204
    for body in ({}, {"visible": "no"}, {"visible": True, "x": 1}):
        assert (await app.call("PUT", "/app-state", body)).status == 400
    with pytest.raises(AppError):
        await AppClient(lab.url("/api/v1"), http=lab.http).request(
            "PUT", "/app-state", {"visible": False}
        )
