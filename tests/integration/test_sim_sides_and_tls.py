"""Two Finesse sides over one model, side-down failover, and XMPP over TLS."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
import pytest

from connector.finesse import codec
from scenarios.stack.finesse_lab import FinesseLab, Notifications

pytestmark = pytest.mark.integration


@pytest.fixture
async def pair():
    async with FinesseLab(secondary_rest_port=0, secondary_xmpp_port=0) as lab:
        yield lab


async def test_each_side_reports_both_nodes(pair: FinesseLab):
    a, b = pair.sim.sides
    for index, side in enumerate(pair.sim.sides):
        info = codec.parse_system_info(
            (await pair.rest("GET", "/finesse/api/SystemInfo", side=index)).text
        )
        assert info.xmpp_domain == side.domain
        assert info.primary_node.https_port == str(a.rest_port)
        assert info.secondary_node.https_port == str(b.rest_port)
        assert info.secondary_node.xmpp_port == str(b.xmpp_port)


async def test_both_sides_publish_the_same_model(pair: FinesseLab):
    agent = pair.agent("1001")
    await agent.login()
    on_b = Notifications(f"1001@{pair.sim.sides[1].domain}/mobileagent", "password")
    pair.clients.append(on_b)
    assert await on_b.connect("127.0.0.1", pair.sim.sides[1].xmpp_port)
    await pair.sim.wait_until(lambda: "1001" in pair.sim.sides[1].xmpp.available_users())
    await agent.notes.user_state("NOT_READY")
    res = await pair.rest(
        "PUT",
        "/finesse/api/User/1001",
        "<User><state>READY</state></User>",
        {"Authorization": agent.auth, "Content-Type": "application/xml"},
        side=1,
    )
    assert res.status == 202
    await agent.notes.user_state("READY")
    await on_b.user_state("READY")


async def test_side_down_refuses_then_comes_back(pair: FinesseLab):
    agent = pair.agent("1001")
    await agent.login()
    await agent.notes.user_state("NOT_READY")
    await pair.control("PUT", "/clock", {"speed": 20})
    status, _ = await pair.control(
        "POST", "/faults", {"kind": "side_down", "side": "A", "seconds": 20}
    )
    assert status == 200
    await asyncio.wait_for(agent.notes.disconnected.wait(), 5)
    side_a = pair.sim.sides[0]
    await pair.sim.wait_until(lambda: side_a.site is None)
    with pytest.raises(aiohttp.ClientConnectionError):
        await pair.rest("GET", "/finesse/api/SystemInfo", side=0)
    res = await pair.rest(
        "GET",
        "/finesse/api/User/1001",
        headers={"Authorization": agent.auth},
        side=1,
    )
    assert res.status == 200 and codec.parse_user(res.text).state == "NOT_READY"
    await pair.sim.wait_until(lambda: not side_a.down and side_a.site is not None, timeout=5)
    assert (await pair.rest("GET", "/finesse/api/SystemInfo", side=0)).status == 200


async def test_unknown_side_is_a_404(pair: FinesseLab):
    status, body = await pair.control(
        "POST", "/faults", {"kind": "side_down", "side": "C", "seconds": 1}
    )
    assert status == 404 and body["error"]["field"] == "side"


async def test_starttls_notifications_with_the_generated_ca():
    async with FinesseLab(tls=True, xmpp_tls_port=0) as lab:
        assert lab.sim.ca_file is not None
        trusting = ssl.create_default_context(cafile=lab.sim.ca_file)
        side = lab.sim.sides[0]
        notes = Notifications(f"1001@{side.domain}/mobileagent", "password", trusting)
        lab.clients.append(notes)
        assert await notes.connect("127.0.0.1", side.xmpp_port)
        assert notes.xmpp.transport.get_extra_info("ssl_object") is not None  # STARTTLS done
        await lab.sim.wait_until(lambda: "1001" in side.xmpp.available_users())
        res = await lab.agent("1001").put_user(state="LOGIN", extension="5001")
        assert res.status == 202
        await notes.user_state("NOT_READY")
        assert side.xmpp_tls_port


async def test_finesse_webapp_down_then_up(pair: FinesseLab):
    agent = pair.agent("1001")
    notes = await agent.connect_xmpp()
    finesse = f"finesse@{pair.sim.sides[0].domain}"
    await notes.presence_of(finesse, "available")
    await pair.control("PUT", "/clock", {"speed": 20})
    status, _ = await pair.control("POST", "/faults", {"kind": "finesse_down", "seconds": 20})
    assert status == 200
    await notes.presence_of(finesse, "unavailable")
    with pytest.raises(aiohttp.ClientConnectionError):
        await pair.rest("GET", "/finesse/api/SystemInfo", side=0)
    await notes.presence_of(finesse, "available")
    update = await notes.wait_for(lambda n, u: n.endswith("/SystemInfo"), "IN_SERVICE")
    assert update.data.status == "IN_SERVICE"
    assert (await pair.rest("GET", "/finesse/api/SystemInfo", side=0)).status == 200


async def test_secondary_on_its_own_loopback_address():
    async with FinesseLab(
        secondary_rest_port=0, secondary_xmpp_port=0, secondary_host="127.0.0.2"
    ) as lab:
        res = await lab.rest("GET", "/finesse/api/SystemInfo", side=1)
        info = codec.parse_system_info(res.text)
        assert (info.primary_node.host, info.secondary_node.host) == ("127.0.0.1", "127.0.0.2")
