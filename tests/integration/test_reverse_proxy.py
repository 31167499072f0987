"""deploy/nginx/mobagent.conf in real nginx (Debian's package), with a certificate made for
the test, in front of the Mobile App Server and the connector: the phones' whole road.

The shipped file is used as it is; only what an operator changes is changed (the listen
ports, the certificate paths, the two upstreams' addresses), by the same substitutions
docs/deploy.md describes."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
from pathlib import Path

import aiohttp
import pytest

from finesse_sim.tls import self_signed_context
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import ConnectorLab
from scenarios.stack.processes import free_port

pytestmark = pytest.mark.integration
CONF = Path(__file__).parents[2] / "deploy" / "nginx" / "mobagent.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOGIN = {
    "agentId": "1001",
    "password": "password",
    "extension": "5001",
    "mobile": {"mode": "CALL_BY_CALL", "dialNumber": "+15551230001"},
}


def site_config(*, http: int, https: int, app: int, connector: int) -> tuple[str, Path]:
    """The shipped file with the operator's four changes, and the CA file clients trust.
    The certificate is the simulator's throw-away one (a private CA, loopback names)."""
    _server, ca = self_signed_context(["localhost"])
    cert, key = ca.parent / "server.pem", ca.parent / "server.key"
    text = CONF.read_text()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;"),
        ("server 127.0.0.1:8090;", f"server 127.0.0.1:{app};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{connector};"),
        ("/etc/mobagent/tls/fullchain.pem", str(cert)),
        ("/etc/mobagent/tls/privkey.pem", str(key)),
    ]:
        assert old in text, f"deploy/nginx/mobagent.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text, ca


async def wait_listening(port: int, proc: asyncio.subprocess.Process, timeout: float = 10):
    """nginx has no ready signal: the event waited for is its port accepting."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.fixture
async def proxied(tmp_path):
    if not os.access(NGINX, os.X_OK):
        pytest.fail("nginx is not installed: `make test` installs it (tools/system-deps.sh)")
    async with ConnectorLab() as lab, AppLab(lab.url("")) as app:
        # Chosen once the labs listen: a port free_port() let go of is free for the kernel to
        # give to the next server bound to port 0, and a lab there would pass for nginx.
        http_port, https_port = free_port(), free_port()
        site = tmp_path / "mobagent.conf"
        text, ca = site_config(http=http_port, https=https_port, app=app.port, connector=lab.port)
        site.write_text(text)
        main = tmp_path / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        main.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
            f"  proxy_temp_path {tmp_path}/proxy;\n  include {site};\n}}\n"
        )
        proc = await asyncio.create_subprocess_exec(
            NGINX, "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")
        )
        try:
            await wait_listening(https_port, proc)
            tls = ssl.create_default_context(cafile=str(ca))
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as client:
                yield client, f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)


async def test_http_is_redirected_to_https(proxied):
    client, _https, plain = proxied
    async with client.get(plain + "/", allow_redirects=False) as moved:
        assert moved.status == 301
        assert moved.headers["Location"].startswith("https://")


async def test_the_app_and_a_sign_in_and_an_event_through_tls(proxied):
    client, https, _plain = proxied
    async with client.get(https + "/") as page:
        assert page.status == 200
        assert "<title>Mobile Agent</title>" in await page.text()
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    async with client.post(https + "/api/v1/sessions", json=LOGIN) as signed:
        assert signed.status == 201, await signed.text()
        token = (await signed.json())["token"]
    ws = await client.ws_connect(
        https.replace("https", "wss") + "/api/v1/events", protocols=("bearer", token)
    )
    assert (await ws.receive_json(timeout=5))["type"] == "session.resync"
    async with client.put(
        https + "/api/v1/agent/state",
        json={"state": "READY"},
        headers={"Authorization": f"Bearer {token}"},
    ) as put:
        assert put.status == 202
        request_id = (await put.json())["requestId"]
    event = await ws.receive_json(timeout=5)
    assert (event["type"], event["data"]["state"], event["data"]["requestId"]) == (
        "agent.state",
        "READY",
        request_id,
    )
    await ws.close()


async def test_sign_ins_are_rate_limited_in_the_apis_shape(proxied):
    client, https, _plain = proxied
    statuses = []
    for n in range(40):  # burst 20 at 5/s: a run of 40 at once must meet the limit
        # A new agent id each time, so the connector's own per-agent limit never answers.
        wrong = {**LOGIN, "agentId": f"9{n:03d}", "password": "x"}
        async with client.post(https + "/api/v1/sessions", json=wrong) as reply:
            statuses.append(reply.status)
            if reply.status == 429:
                body = await reply.json(content_type=None)
                assert body["error"]["type"] == "too_many_attempts"
                assert reply.headers["Retry-After"] == "1"
    assert 429 in statuses


async def test_bodies_over_the_limit_and_lan_only_paths_are_refused(proxied):
    client, https, _plain = proxied
    # Expect: 100-continue: nginx judges the length before any of the body is sent, so its
    # 413 cannot race the upload (a refusal mid-upload may reset the connection instead).
    big_body = b"x" * 70_000
    async with client.post(https + "/api/v1/dialogs", data=big_body, expect100=True) as big:
        assert big.status == 413
    for path in ("/metrics", "/healthz"):
        async with client.get(https + path) as hidden:
            assert hidden.status == 404
