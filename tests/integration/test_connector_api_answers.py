"""What the mobile API answers where a newcomer stumbled: a second sign-in that does not
match the live one, Finesse's refusals in plain words, a wrong method, an expired token,
a body too large, a number where a string belongs."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import pytest
from aiohttp import web

from connector.api.server import ApiRunner
from connector.config import ConnectorConfig
from mobile_sim.api import AppError, Mobile, login_body, send
from scenarios.stack.connector_lab import ConnectorLab, build_connector

pytestmark = pytest.mark.integration

MOBILE_1001 = Mobile("CALL_BY_CALL", "+15551230001")


@pytest.fixture
async def lab():
    async with ConnectorLab(max_body=4096) as lab:
        yield lab


async def refused(request) -> AppError:
    with pytest.raises(AppError) as refusal:
        await request
    return refusal.value


async def raw(lab: ConnectorLab, method: str, path: str, payload=None, headers=None):
    assert lab.http is not None
    async with lab.http.request(method, lab.url(path), json=payload, headers=headers or {}) as res:
        return res.status, res.headers, await res.json()


async def test_a_second_sign_in_on_another_extension_is_refused_with_what_is_live(lab):
    await lab.sign_in("1001", MOBILE_1001)
    other = await refused(lab.sign_in("1001", MOBILE_1001, extension="5009", listen=False))
    assert (other.status, other.type, other.field) == (409, "already_signed_in", "extension")
    assert "5001" in str(other) and "CALL_BY_CALL" in str(other)
    desk = await refused(lab.sign_in("1001", None, listen=False))
    assert (desk.status, desk.field) == (409, "mobile")
    _, body = await lab.sign_in("1001", MOBILE_1001, listen=False)  # a matching one joins
    assert body["agent"]["extension"] == "5001"
    assert len(lab.connector.agents.links) == 1


async def test_finesses_refusal_is_said_in_plain_words_with_its_code_kept(lab):
    status, _, body = await raw(
        lab, "POST", "/api/v1/sessions", login_body("1001", "password", "7777")
    )
    error = body["error"]
    assert (status, error["type"]) == (400, "Invalid Device")
    assert error["message"] == "extension 7777 is not a device Finesse knows"
    assert error["field"] == "extension"  # a field's name, never its value
    assert error["finesse"] == {
        "errorType": "Invalid Device",
        "errorMessage": "CF_INVALID_DEVICE",
        "errorData": "7777",
    }


async def test_a_wrong_method_is_405_with_allow(lab):
    status, headers, body = await raw(lab, "DELETE", "/api/v1/agent/state")
    assert (status, body["error"]["type"]) == (405, "method_not_allowed")
    assert headers["Allow"] == "PUT"
    status, headers, _ = await raw(lab, "GET", "/api/v1/dialogs/123/actions")
    assert (status, headers["Allow"]) == (405, "POST")
    status, _, body = await raw(lab, "GET", "/api/v1/nothing-here")
    assert (status, body["error"]["type"]) == (404, "not_found")


async def test_an_expired_token_says_so(lab):
    app, _ = await lab.sign_in("1001", MOBILE_1001, listen=False)
    state = lab.connector.state  # in memory or in Redis
    state.token_ttl = 0.0
    expiring = await state.issue_token("1001")
    app.token = expiring
    expired = await refused(app.get_agent())
    assert (expired.status, expired.type) == (401, "token_expired")
    app.token = "not-a-token"
    unknown = await refused(app.get_agent())
    assert (unknown.status, unknown.type) == (401, "unauthorized")


async def test_a_body_too_large_states_the_limit(lab):
    status, _, body = await raw(
        lab, "POST", "/api/v1/sessions", {"agentId": "1001", "password": "x" * 5000}
    )
    assert (status, body["error"]["type"]) == (413, "body_too_large")
    assert "4096 bytes" in body["error"]["message"]


@pytest.mark.parametrize("field", ["agentId", "password", "extension"])
async def test_a_number_where_a_string_belongs_is_a_400_naming_the_field(lab, field):
    payload = {"agentId": "1001", "password": "password", "extension": "5001", field: 1002}
    assert lab.http is not None
    reply = await send(lab.http, "POST", lab.url("/api/v1/sessions"), payload)
    error = reply.body["error"]
    assert (reply.status, error["type"], error["field"]) == (400, "invalid_field", field)


class Heard(logging.Handler):
    """Sets `said` when a log record contains `text`: a wait for a log line, not a sleep."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.WARNING)
        self.text, self.said, self.lines = text, asyncio.Event(), []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        if self.text in self.lines[-1]:
            self.said.set()


async def test_a_connector_whose_finesse_does_not_answer_says_so():
    """A wrong --finesse: a warning at start-up, /healthz names the state, /readyz is 503."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = ConnectorConfig(finesse=f"http://127.0.0.1:{closed}", request_timeout=1.0)
    _, app = build_connector(config.validate())
    heard = Heard("does not answer")
    logging.getLogger("connector").addHandler(heard)
    runner = ApiRunner(app, access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        root = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        await asyncio.wait_for(heard.said.wait(), 5)
        assert any(f"127.0.0.1:{closed}" in line for line in heard.lines)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{root}/healthz") as res:
                health = await res.json()
            async with http.get(f"{root}/readyz") as res:
                status, ready = res.status, await res.json()
        assert health["status"] == "ok" and health["finesseStatus"] == "unreachable"
        assert status == 503 and ready["ready"] is False
        assert "does not answer" in ready["reason"]
    finally:
        logging.getLogger("connector").removeHandler(heard)
        await runner.cleanup()


async def test_ready_when_finesse_is_in_service(lab):
    status, _, body = await raw(lab, "GET", "/readyz")
    assert (status, body) == (200, {"ready": True, "finesseStatus": "IN_SERVICE"})
