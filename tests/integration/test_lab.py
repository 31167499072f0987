"""`mobagent lab`: the app served, an agent signed in through it, a call answered by the
lab's simulated hand on the phone, and a clean stop at Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import aiohttp
import pytest

pytestmark = pytest.mark.integration


async def test_the_lab_serves_the_app_and_answers_the_agents_phone():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *["-m", "mobagent", "lab", "--app-port", "0", "--connector-port", "0", "--json"],
        *["--answer-after", "0.1", "--profile", "quiet_hour"],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert [a["agentId"] for a in info["agents"]][:2] == ["1001", "1002"]
        app = info["app"]
        async with aiohttp.ClientSession() as http:
            async with http.get(app) as page:
                assert "Mobile Agent" in await page.text()
            login = {
                "agentId": "1001",
                "password": "password",
                "extension": "5001",
                "mobile": {"mode": "CALL_BY_CALL", "dialNumber": "+15551230001"},
            }
            async with http.post(app + "api/v1/sessions", json=login) as signed:
                assert signed.status == 201
                token = (await signed.json())["token"]
            ws = await http.ws_connect(app + "api/v1/events", protocols=("bearer", token))
            auth = {"Authorization": f"Bearer {token}"}
            async with http.put(app + "api/v1/agent/state", json={"state": "READY"}, headers=auth):
                pass
            call = {"dn": "8000", "from": "+15550199", "callVariables": {}}
            async with http.post(info["sim"] + "/sim/v1/calls", json=call) as placed:
                assert placed.status == 201
            state = ""
            while state != "TALKING":  # answered by the lab's hand on the phone
                frame = await ws.receive_json(timeout=10)
                if frame["type"] == "agent.state":
                    state = frame["data"]["state"]
            await ws.close()
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0
