"""A shift in the agent's app, in Chromium at phone size, against the simulated Finesse and
the connector behind the Mobile App Server: what the agent sees and presses, and what
Finesse holds as a result."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from mobile_sim.api import Mobile
from scenarios.stack.connector_lab import default_dial_number

pytestmark = pytest.mark.asyncio(loop_scope="module")

CUSTOMER = "+15550101"


async def ringing_phone(stack, agent_id: str):
    phone = await stack.sim.phone(default_dial_number(agent_id)).open()
    return phone


async def test_a_full_shift_call_by_call(stack, open_app):
    app = await open_app()
    await app.sign_in("1001")
    await app.expect_state("NOT_READY")
    # Colleagues signed in through the API: 1002 takes a consult, 1003 joins a conference.
    for colleague in ("1002", "1003"):
        await stack.lab.sign_in(colleague, Mobile("CALL_BY_CALL", default_dial_number(colleague)))
    phone = await ringing_phone(stack, "1001")

    await app.ready()
    await app.expect_state("READY")

    # A customer call with call data: shown before the agent says hello.
    await stack.sim.place_call("8000", CUSTOMER, {"callVariable1": "ACC-42", "user.tier": "gold"})
    incoming = app.card("Incoming call")
    await expect(incoming).to_contain_text(CUSTOMER)
    await expect(incoming).to_contain_text("Queue: Sales")
    await expect(incoming.locator("dl")).to_contain_text("callVariable1ACC-42")
    await expect(incoming.locator("dl")).to_contain_text("user.tiergold")
    await expect(incoming).to_contain_text("Answer on your phone")
    await app.expect_state("RESERVED")

    await phone.wait_for("ring")
    await phone.answer()
    await app.expect_state("TALKING")
    talking = app.card("On a call")
    await expect(talking).to_contain_text(f"{CUSTOMER}: Connected")

    await app.press("Hold", talking)
    held = app.card("Call on hold")
    await expect(app.button("Resume", held)).to_be_visible()
    await app.press("Resume", held)
    await expect(app.button("Hold", app.card("On a call"))).to_be_visible()

    # Consult a colleague, who answers on the phone; then transfer the customer to them.
    colleague_phone = await ringing_phone(stack, "1002")
    await app.consult(app.card("On a call"), "5002")
    await expect(app.card("Call on hold")).to_be_visible()
    await colleague_phone.wait_for("ring")
    await colleague_phone.answer()
    await expect(app.card("Consult call")).to_contain_text("5002: Connected")
    await app.press("Transfer", app.card("Call on hold"))
    await app.expect_state("WORK_READY")
    await expect(app.call).to_have_count(0)

    await app.choose_wrap_up("Resolved")
    dialogs = await stack.lab.finesse.agent("1002").get_dialogs()
    assert [d.media_properties.call_variables.get("callVariable1") for d in dialogs] == ["ACC-42"]
    await colleague_phone.hang_up()

    # A second call, with a conference.
    await app.ready()
    await app.expect_state("READY")
    await stack.sim.place_call("8000", "+15550102", {"callVariable1": "ACC-43"})
    await expect(app.card("Incoming call")).to_contain_text("+15550102")
    await phone.wait_for("ring")
    await phone.answer()
    await app.expect_state("TALKING")
    third_phone = await ringing_phone(stack, "1003")
    await app.consult(app.card("On a call"), "5003")
    await third_phone.wait_for("ring")
    await third_phone.answer()
    await expect(app.card("Consult call")).to_contain_text("5003: Connected")
    await app.press("Conference", app.card("Call on hold"))
    conference = app.card("On a call")
    await expect(conference).to_contain_text("+15550102: Connected")
    await expect(conference).to_contain_text("5003: Connected")

    await app.keypad(conference, "12#")
    await app.press("End call", conference)
    await app.expect_state("WORK_READY")
    await app.choose_wrap_up("Escalated")
    await app.not_ready("Break")
    await app.expect_state("NOT_READY", "Break")
    user = await stack.lab.finesse.agent("1001").get_user()
    assert (user.state, user.reason_code_id) == ("NOT_READY", "1")

    await app.sign_out("End of shift")
    await expect(app.page.get_by_role("button", name="Sign in")).to_be_visible()
    user = await stack.lab.finesse.agent("1001").get_user()
    assert user.state == "LOGOUT"
    await third_phone.hang_up()
    for handset in (phone, colleague_phone, third_phone):
        await handset.close()
