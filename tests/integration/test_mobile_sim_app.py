"""The simulated app and handset against the real connector and simulator."""

from __future__ import annotations

import pytest

from mobile_sim.app import AppError, Mobile, WaitTimeout
from mobile_sim.sim_control import SimControl
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.integration


@pytest.fixture
async def world():
    async with ConnectorLab() as lab:
        sim = SimControl(lab.finesse.url("/sim/v1"))
        try:
            yield lab, sim, lab.app  # the lab closes its apps
        finally:
            await sim.close()


async def test_a_call_answered_on_the_handset(world):
    _, sim, new_app = world
    app = new_app()
    phone = await sim.phone("+15551230001").open()
    body = await app.login("1001", "password", "5001", Mobile("CALL_BY_CALL", "+15551230001"))
    assert body["capabilities"]["callControl"] is True
    await app.ready()
    await app.wait_for_state("READY")
    call_id = await sim.place_call("8000", call_variables={"callVariable1": "ACC-42"})
    created = await app.wait_for("dialog.created")
    assert created["id"] == call_id and created["callVariables"]["callVariable1"] == "ACC-42"
    ring = await phone.wait_for("ring")
    assert ring["callId"] == call_id
    await phone.answer()
    await app.wait_for_state("TALKING")
    await app.wait_for("dialog.updated", lambda d: d["state"] == "ACTIVE")
    assert app.dialogs[call_id]["state"] == "ACTIVE"
    await app.hold(call_id)
    await app.wait_for_state("HOLD")
    await phone.close()


async def test_a_wait_that_fails_says_what_came_instead(world):
    _, _, new_app = world
    app = new_app()
    await app.login("1001", "password", "5001")
    with pytest.raises(WaitTimeout) as err:
        await app.wait_for("dialog.created", timeout=0.3, what="an incoming call")
    message = str(err.value)
    assert "expected dialog.created (an incoming call)" in message
    assert "session.resync" in message


async def test_the_event_stream_resumes_after_a_drop(world):
    _, _, new_app = world
    app = new_app()
    await app.login("1001", "password", "5001")
    await app.wait_for("session.resync")
    await app.drop_stream()
    await app.ready()
    await app.wait_for_state("READY")
    assert app.resumes >= 1
    assert app.agent["state"] == "READY"


async def test_refusals_raise_app_errors(world):
    _, _, new_app = world
    app = new_app()
    with pytest.raises(AppError) as err:
        await app.login("1001", "wrong", "5001")
    assert err.value.status == 401
    await app.login("1001", "password", "5001")
    with pytest.raises(AppError) as err:
        await app.make_call("5002")
    assert (err.value.status, err.value.type) == (403, "call_control_unavailable")
    assert [c["label"] for c in await app.reason_codes("LOGOUT")] == ["End of shift"]
    await app.logout(3)


async def test_next_event_takes_whatever_comes_first(world):
    _, _, new_app = world
    app = new_app()
    await app.login("1001", "password", "5001")
    first = await app.next_event()
    assert first is not None and first["type"] == "session.resync"
    await app.ready()
    event = await app.next_event()
    assert event is not None and (event["type"], event["data"]["state"]) == ("agent.state", "READY")
    assert await app.next_event(timeout=0.2) is None
