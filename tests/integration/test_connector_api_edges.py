"""The mobile API at its edges: tokens, limits, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys

import pytest

from mobile_sim.api import AppError, Mobile
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration
MOBILE = Mobile("CALL_BY_CALL", "+15551230001")


@pytest.fixture
async def lab():
    async with ConnectorLab(max_sessions=2, max_body=2048) as lab:
        yield lab


async def test_the_event_stream_takes_the_token_as_a_query_parameter_or_subprotocol(lab):
    app, _ = await lab.sign_in("1001", MOBILE, listen=False)
    assert lab.http is not None
    async with lab.http.ws_connect(lab.url(f"/api/v1/events?token={app.token}")) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "session.resync"
    async with lab.http.ws_connect(
        lab.url("/api/v1/events"), protocols=("bearer", app.token)
    ) as ws:
        assert ws.protocol == "bearer"
        assert (await ws.receive_json(timeout=5))["type"] == "session.resync"
    reply = await lab.api("GET", "/api/v1/events?token=forged")
    assert reply.status == 401


async def test_a_token_in_the_query_string_is_refused_but_on_the_event_stream(lab):
    app, _ = await lab.sign_in("1001", MOBILE, listen=False)
    for method, path in (("GET", "/api/v1/agent"), ("PUT", "/api/v1/agent/state")):
        reply = await lab.api(method, f"{path}?token={app.token}", {"state": "READY"})
        assert (reply.status, reply.error_type) == (401, "unauthorized")
        assert "Authorization" in reply.body["error"]["message"]
    assert lab.http is not None
    async with lab.http.get(
        lab.url("/api/v1/agent"), headers={"Sec-WebSocket-Protocol": f"bearer, {app.token}"}
    ) as reply:
        assert reply.status == 401  # a WebSocket's subprotocol, not a request's header


async def raw_request(lab: ConnectorLab, header: bytes) -> tuple[bytes, bytes]:
    """GET /api/v1/agent with one header line as given: the status line and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", lab.port)
    request = b"GET /api/v1/agent HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    writer.write(request + header + b"\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    return head.split(b"\r\n")[0], body


@pytest.mark.parametrize(
    ("header", "status", "type_"),
    [
        (b"Authorization: Bearer \x01SECRET-1", 401, "unauthorized"),  # refused by the parser
        (b"Authorization: Bearer SECRET-2\x7f", 401, "unauthorized"),
        (b"Authorization: Bearer \x00SECRET-3", 401, "unauthorized"),
        (b"Authorization: Bearer " + b"SECRET-4" * 1100, 400, "malformed_request"),  # too long
        ("Authorization: Bearer é-SECRET-5".encode(), 401, "unauthorized"),  # parsed, unknown
        (b"Authorization: Bearer \xffSECRET-6", 401, "unauthorized"),
        (b"X-Note: \x01SECRET-7", 400, "malformed_request"),
    ],
)
async def test_a_malformed_header_answers_json_and_is_never_logged(
    lab, caplog, header, status, type_
):
    caplog.set_level(logging.DEBUG)
    status_line, body = await raw_request(lab, header)
    assert status_line.split(b" ")[1] == str(status).encode()
    error = json.loads(body)["error"]
    assert error["type"] == type_ and set(error) <= {"type", "message", "field"}
    assert b"SECRET" not in body  # not echoed either
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "SECRET" not in logged


async def test_since_must_be_a_number(lab):
    app, _ = await lab.sign_in("1001", MOBILE, listen=False)
    reply = await app.call("GET", "/events?since=yesterday")
    assert (reply.status, reply.error_type) == (400, "invalid_field")


async def test_the_session_limit_is_enforced(lab):
    for agent in ("1001", "1002"):
        await lab.sign_in(agent, listen=False)
    with pytest.raises(AppError) as refusal:
        await lab.sign_in("1003", listen=False)
    assert (refusal.value.status, refusal.value.type) == (503, "too_many_sessions")


async def test_a_body_over_the_limit_is_413(lab):
    reply = await lab.api("POST", "/api/v1/sessions", {"agentId": "x" * 5000})
    assert (reply.status, reply.error_type) == (413, "body_too_large")


async def test_unknown_route_is_a_json_404(lab):
    reply = await lab.api("GET", "/api/v1/nothing")
    assert (reply.status, reply.error_type) == (404, "not_found")


async def test_the_password_is_never_logged_or_returned(lab, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "password"  # the roster's; make sure it appears nowhere but where it must
    app, body = await lab.sign_in("1001", MOBILE, password=secret)
    assert secret not in json.dumps(body)
    await app.wait_for("session.resync")
    await app.ready()
    await app.wait_for_state("READY")
    assert secret not in json.dumps(app.history)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("connector", "slixmpp"))
    )
    assert "cGFzc3dvcmQ" not in logged  # base64 of it (SASL PLAIN, Basic auth)
    assert f":{secret}" not in logged and f"\\x00{secret}" not in logged
    wrong = await lab.app().call(
        "POST", "/sessions", {"agentId": "1002", "password": "hunter2-secret", "extension": "5002"}
    )
    assert wrong.status == 401 and "hunter2" not in json.dumps(wrong.body)
    assert "hunter2" not in "\n".join(r.getMessage() for r in caplog.records)


def test_mobagent_connector_runs_on_uvloop_by_default_and_stops_on_sigterm():
    sim = subprocess.Popen(
        [sys.executable, "-m", "mobagent", "sim", "--rest-port", "0", "--xmpp-port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    conn = None
    try:
        rest = json.loads(sim.stdout.readline())["sides"]["A"]["rest"]
        finesse = rest.removesuffix("/finesse/api")
        conn = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mobagent",
                "connector",
                "--finesse",
                finesse,
                "--listen",
                "127.0.0.1:0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        info = json.loads(conn.stdout.readline())
        assert info["event"] == "listening" and info["finesse"] == finesse
        assert info["eventLoop"] == "uvloop"  # installed with mobagent: the default
        import urllib.request

        api = info["api"].removesuffix("/api/v1")
        with urllib.request.urlopen(f"{api}/healthz", timeout=5) as res:
            assert json.loads(res.read())["status"] == "ok"
        conn.send_signal(signal.SIGTERM)
        out, err = conn.communicate(timeout=10)
        assert conn.returncode == 0, err
        assert "Connector stopped." in out
    finally:
        for proc in (conn, sim):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_mobagent_connector_refuses_a_bad_option():
    proc = subprocess.run(
        [sys.executable, "-m", "mobagent", "connector", "--finesse", "finesse1:8445"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2 and "base URL" in proc.stderr


async def test_sessions_leave_the_garbage_collectors_sight_once_sign_ins_settle(lab):
    import asyncio
    import gc

    heap = lab.connector.gc_policy
    heap.settle = 0.05
    try:
        await lab.sign_in("1001", MOBILE, listen=False)
        await asyncio.wait_for(heap.frozen.wait(), 5)
        assert (heap.freezes, heap.full_collections) == (1, 0)  # no full collection
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
