"""The Mobile App Server: the app's files with their headers, and /api/ forwarded to the
connector (HTTP and the event WebSocket, close codes included); `mobagent connector --app`."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from mobile_app.files import CSP
from scenarios.bench.procs import connector_command
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration
LOGIN = {
    "agentId": "1001",
    "password": "password",
    "extension": "5001",
    "mobile": {"mode": "CALL_BY_CALL", "dialNumber": "+15551230001"},
}


@pytest.fixture
async def served():
    async with ConnectorLab() as lab, AppLab(lab.url("")) as app, aiohttp.ClientSession() as http:
        yield lab, app, http


async def test_the_app_is_served_with_security_headers_and_validators(served):
    _lab, app, http = served
    async with http.get(app.url) as page:
        assert page.status == 200
        assert page.content_type == "text/html"
        assert page.headers["Content-Security-Policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert page.headers["Cache-Control"] == "no-cache"
        etag = page.headers["ETag"]
        assert "<title>Mobile Agent</title>" in await page.text()
    async with http.get(app.url, headers={"If-None-Match": etag}) as again:
        assert again.status == 304
    async with http.get(app.url + "js/main.js") as script:
        assert script.content_type == "text/javascript"
    async with http.get(app.url + "manifest.webmanifest") as manifest:
        assert manifest.content_type == "application/manifest+json"
        icons = json.loads(await manifest.text())["icons"]
        assert {"192x192", "512x512"} <= {i["sizes"] for i in icons}
    async with http.get(app.url + "icons/icon-192.png") as icon:
        assert icon.headers["Cache-Control"] == "public, max-age=86400"
    async with http.get(app.url + "../connector/runtime.py") as outside:
        assert outside.status == 404
        assert outside.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_api_and_the_event_websocket_are_forwarded(served):
    _lab, app, http = served
    async with http.post(app.url + "api/v1/sessions", json=LOGIN) as signed:
        assert signed.status == 201
        token = (await signed.json())["token"]
    ws = await http.ws_connect(app.url + "api/v1/events", protocols=("bearer", token))
    assert ws.protocol == "bearer"
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "session.resync"
    assert first["data"]["agent"]["id"] == "1001"
    headers = {"Authorization": f"Bearer {token}"}
    async with http.put(
        app.url + "api/v1/agent/state", json={"state": "READY"}, headers=headers
    ) as put:
        assert put.status == 202
        request_id = (await put.json())["requestId"]
    changed = await ws.receive_json(timeout=5)
    assert (changed["type"], changed["data"]["requestId"]) == ("agent.state", request_id)
    # Sign out: the connector ends the stream with 4001, and the proxy passes the code on.
    async with http.put(
        app.url + "api/v1/agent/state",
        json={"state": "NOT_READY", "reasonCodeId": "1"},
        headers=headers,
    ) as put:
        assert put.status == 202, await put.text()
    assert (await ws.receive_json(timeout=5))["data"]["state"] == "NOT_READY"
    async with http.delete(
        app.url + "api/v1/sessions/current", json={"reasonCodeId": "3"}, headers=headers
    ) as out:
        assert out.status in (200, 204), await out.text()
    while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
        pass
    # The close frame itself, with the connector's code and reason (the app shows it).
    assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 4001, "signed_out")
    assert ws.close_code == 4001


async def test_the_connectors_heartbeat_reaches_the_phone_through_the_proxy():
    """Pings and pongs are relayed, not answered by the proxy: a phone that answers keeps
    its stream; one that stops answering (its network gone) is dropped by the connector's
    heartbeat, so the connector no longer counts it live (and would push its calls)."""
    async with (
        ConnectorLab(ws_heartbeat=1) as lab,
        AppLab(lab.url("")) as app,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(app.url + "api/v1/sessions", json=LOGIN) as signed:
            token = (await signed.json())["token"]
        ws = await http.ws_connect(
            app.url + "api/v1/events", protocols=("bearer", token), autoping=False
        )
        assert (await ws.receive_json(timeout=5))["type"] == "session.resync"
        for _ in range(3):  # three heartbeats answered by the phone itself
            ping = await ws.receive(timeout=5)
            assert ping.type == aiohttp.WSMsgType.PING
            await ws.pong(ping.data)
        assert lab.connector.websockets == 1
        headers = {"Authorization": f"Bearer {token}"}
        async with http.put(
            app.url + "api/v1/agent/state", json={"state": "READY"}, headers=headers
        ) as put:
            assert put.status == 202
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.PING:
            await ws.pong(msg.data)
        assert json.loads(msg.data)["type"] == "agent.state"
        # The phone stops answering: the connector gives up on it and the proxy follows.
        while (msg := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.PING:
            pass
        # Going away: not 1006, which no close frame may carry (RFC 6455 7.4.1).
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
        assert lab.connector.websockets == 0


async def test_refusals_pass_through_in_the_apis_shape(served):
    _lab, app, http = served
    async with http.get(app.url + "api/v1/agent") as anonymous:
        assert anonymous.status == 401
        assert (await anonymous.json())["error"]["type"] == "unauthorized"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(app.url + "api/v1/events", protocols=("bearer", "nope"))
    assert refused.value.status == 401
    big = {"agentId": "1" * 70_000}
    async with http.post(app.url + "api/v1/sessions", json=big) as too_big:
        assert too_big.status == 413
        assert (await too_big.json())["error"]["type"] == "body_too_large"


async def test_a_connector_that_is_down_is_a_502_in_the_apis_shape():
    async with (
        AppLab("http://127.0.0.1:9") as app,
        aiohttp.ClientSession() as http,
        http.get(app.url + "api/v1/agent") as down,
    ):
        assert down.status == 502
        assert (await down.json())["error"]["type"] == "connector_unreachable"


async def test_mobagent_connector_app_serves_the_app_on_its_own_port():
    async with ConnectorLab() as lab:
        finesse = lab.finesse.url("").rstrip("/")
        command = connector_command(finesse)
        command.insert(command.index("connector") + 1, "--app")
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        try:
            assert proc.stdout is not None
            info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
            async with aiohttp.ClientSession() as http, http.get(info["app"]) as page:
                assert page.status == 200
                assert page.headers["Content-Security-Policy"] == CSP
                assert "Mobile Agent" in await page.text()
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
